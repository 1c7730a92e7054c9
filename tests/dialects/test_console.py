"""voxgate.dialects.console: the console socket's requests and replies (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.dialects import console as wire
from voxgate.errors import InvalidEvent

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ids = st.text(min_size=1, max_size=wire.MAX_ID_CHARS)
refs = st.none() | st.text(max_size=wire.MAX_REF_CHARS)
texts = st.text(min_size=1, max_size=50).filter(str.strip)
suggestions = st.lists(
    st.text(max_size=wire.MAX_SUGGESTION_CHARS).map(str.strip).filter(bool),
    max_size=wire.MAX_SUGGESTIONS,
).map(tuple)
requests = st.one_of(
    st.builds(wire.Accept, session_id=ids, ref=refs),
    st.builds(wire.Message, session_id=ids, text=texts, suggestions=suggestions, ref=refs),
    st.builds(wire.Typing, session_id=ids, typing=st.booleans(), ref=refs),
    st.builds(wire.End, session_id=ids, ref=refs),
    st.builds(wire.ListCalls, ref=refs),
    st.builds(wire.GetTranscript, conversation_id=ids, ref=refs),
    st.builds(wire.Ping, ref=refs),
)


@given(requests)
def test_decode_encode_round_trip(request: wire.Request) -> None:
    assert wire.decode(wire.encode_request(request)) == request


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_frame_decodes_or_is_a_bad_request(frame: bytes | str) -> None:
    try:
        wire.decode(frame)
    except wire.BadRequest as exc:
        assert isinstance(exc, InvalidEvent)
        assert json.loads(wire.encode(exc.reply()))["type"] == "error"


@given(
    st.dictionaries(
        st.sampled_from(["type", "session_id", "text", "suggestions", "state", "ref"]),
        st.none() | st.integers() | st.text(max_size=20) | st.lists(st.text(max_size=5)),
    )
)
def test_any_object_decodes_or_is_a_bad_request(raw: dict[str, object]) -> None:
    try:
        wire.decode(json.dumps(raw))
    except wire.BadRequest:
        pass


@pytest.mark.parametrize(
    ("frame", "code", "says", "echo"),
    [
        ("{", "bad_request", "malformed JSON", {}),
        ("[]", "bad_request", "JSON object", {}),
        ('{"type": "jump", "ref": "r1"}', "bad_request", "unknown request", {"ref": "r1"}),
        ('{"type": "accept"}', "bad_request", "session_id", {"request": "accept"}),
        ('{"type": "accept", "session_id": ""}', "bad_request", "session_id", {}),
        (
            '{"type": "message", "session_id": "s", "text": " "}',
            "bad_request",
            "non-empty",
            {"request": "message", "session_id": "s"},
        ),
        ('{"type": "message", "session_id": "s", "text": 3}', "bad_request", "non-empty", {}),
        (
            '{"type": "message", "session_id": "s", "text": "hi", "suggestions": "no"}',
            "bad_request",
            "list of strings",
            {},
        ),
        ('{"type": "typing", "session_id": "s", "state": "on"}', "bad_request", "'started'", {}),
        ('{"type": "transcript"}', "not_found", "no such handed-over call", {}),
    ],
)
def test_bad_requests(frame: str, code: str, says: str, echo: dict[str, str]) -> None:
    with pytest.raises(wire.BadRequest, match=says) as refused:
        wire.decode(frame)
    reply = json.loads(wire.encode(refused.value.reply()))
    assert reply["code"] == code and says in reply["message"]
    assert echo.items() <= reply.items()


def test_limits() -> None:
    with pytest.raises(wire.BadRequest) as refused:
        wire.decode(b"x" * (wire.MAX_FRAME_BYTES + 1))
    assert refused.value.error_code == "too_large"
    long_text = {"type": "message", "session_id": "s", "text": "a" * (wire.MAX_TEXT_CHARS + 1)}
    with pytest.raises(wire.BadRequest, match="over"):
        wire.decode(json.dumps(long_text))
    too_many = {"type": "message", "session_id": "s", "text": "hi", "suggestions": ["a"] * 9}
    with pytest.raises(wire.BadRequest, match="at most"):
        wire.decode(json.dumps(too_many))
    with pytest.raises(wire.BadRequest, match="session_id"):
        wire.decode(json.dumps({"type": "end", "session_id": "s" * 101}))


def test_typing_states_of_both_protocols_and_cleaned_suggestions() -> None:
    for state, typing in [("started", True), ("TYPING_STATE_STOPPED", False)]:
        frame = json.dumps({"type": "typing", "session_id": "s", "state": state})
        assert wire.decode(frame) == wire.Typing(session_id="s", typing=typing)
    frame = json.dumps(
        {"type": "message", "session_id": "s", "text": "hi", "suggestions": [" a ", "  "]}
    )
    assert wire.decode(frame) == wire.Message(session_id="s", text="hi", suggestions=("a",))


def test_replies_on_the_wire() -> None:
    user = wire.UserView(id="u", username="ann", display_name="Ann", queues=("default",))
    assert json.loads(wire.encode(wire.Hello(user=user))) == {
        "type": "hello",
        "user": {"id": "u", "username": "ann", "display_name": "Ann", "queues": ["default"]},
    }
    waiting = wire.WaitingChat(
        session_id="s", position=1, waited_s=2.5, platform="ios", reason="human"
    )
    queues = wire.Queues(queues=(wire.QueueView(name="default", online=1, waiting=(waiting,)),))
    assert json.loads(wire.encode(queues))["queues"] == [
        {
            "name": "default",
            "online": 1,
            "waiting": [
                {
                    "session_id": "s",
                    "position": 1,
                    "waited_s": 2.5,
                    "platform": "ios",
                    "reason": "human",
                }
            ],
        }
    ]
    chat = wire.Chat(
        session_id="s",
        platform="web",
        agent_id="a",
        queue=None,
        started_at=AT,
        ended=False,
        transcript=(wire.Line(role="user", text="hi", at=AT),),
        events=({"type": "EVENT_TYPE_SESSION_START"},),
    )
    shown = json.loads(wire.encode(chat))
    assert shown["started_at"] == "2026-11-21T12:00:00Z"
    assert shown["transcript"] == [{"role": "user", "text": "hi", "at": "2026-11-21T12:00:00Z"}]
    assert json.loads(wire.encode(wire.Ok(request="end", session_id="s"))) == {
        "type": "ok",
        "request": "end",
        "session_id": "s",
    }
    assert json.loads(wire.encode(wire.error("not_waiting", "gone"))) == {
        "type": "error",
        "code": "not_waiting",
        "message": "gone",
    }
    assert json.loads(wire.encode(wire.Pong())) == {"type": "pong"}


def test_echo_of_a_decoded_request() -> None:
    echo = wire.echo_of(wire.Message(session_id="s", text="x", ref="r"))
    assert echo == wire.Echo(request="message", session_id="s", ref="r")
    assert wire.echo_of(wire.Ping()) == wire.Echo(request="ping")
