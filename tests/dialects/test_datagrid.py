"""voxgate.dialects.datagrid: client decoding, server encoding, start helpers, round trips."""

from __future__ import annotations

import base64
import json
import math
import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.dialects.datagrid import (
    INPUT_RATE,
    MAX_ID_LENGTH,
    OUTPUT_RATE,
    decode,
    decode_server,
    encode,
    encode_client,
    start_message,
    start_payload,
)
from voxgate.errors import InvalidEvent
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    AudioIn,
    ClientEvent,
    CloseReason,
    CloseRequested,
    Error,
    Ignored,
    Interruption,
    InterruptRequested,
    Line,
    PauseRequested,
    Ready,
    ResumeRequested,
    ServerEvent,
    SessionEnded,
    SessionStarted,
    StartRequested,
    TextIn,
    ToolCallStatus,
    Transcript,
    TranscriptDelta,
    UserSpeechStarted,
)

AT = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)


def _frames(obj: dict[str, Any]) -> list[str | bytes]:
    """The same JSON message as a TEXT frame and a BINARY frame."""
    text = json.dumps(obj)
    return [text, text.encode()]


def _wire(obj: dict[str, Any]) -> str:
    """The exact frame voxgate sends for ``obj``: compact JSON, non-ASCII kept."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def test_rates() -> None:
    assert INPUT_RATE == 16000
    assert OUTPUT_RATE == 24000


# -- client → server: decode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"type": "start", "payload": {"agent_id": "agent_abc123"}},
            StartRequested(agent_id="agent_abc123"),
        ),
        (
            {"type": "start", "payload": {"conversation_id": "conv_1"}},
            StartRequested(conversation_id="conv_1"),
        ),
        (
            {"type": "start", "payload": {"agent_id": "a", "conversation_id": "c"}},
            StartRequested(agent_id="a", conversation_id="c"),
        ),
        ({"type": "start", "payload": {}}, StartRequested()),  # the guide's startSession()
        ({"type": "start"}, StartRequested()),
        ({"type": "start", "payload": None}, StartRequested()),
        ({"type": "start", "payload": {"agent_id": None}}, StartRequested()),
        (
            {"type": "start", "payload": {"agent_id": "x" * MAX_ID_LENGTH}},
            StartRequested(agent_id="x" * MAX_ID_LENGTH),
        ),
        (
            {"type": "start", "payload": {"agent_id": "agënt-ü", "config": {"x": 1}}},
            StartRequested(agent_id="agënt-ü"),
        ),
        ({"type": "audio", "payload": {"data": "AAH/fw=="}}, AudioIn(pcm=b"\x00\x01\xff\x7f")),
        ({"type": "audio", "payload": {"data": ""}}, AudioIn(pcm=b"")),
        ({"type": "audio", "payload": {"data": "AQID"}}, AudioIn(pcm=b"\x01\x02\x03")),
        ({"type": "text", "payload": {"text": "Hello there"}}, TextIn(text="Hello there")),
        ({"type": "text", "payload": {"text": "¿Qué tal? 👋"}}, TextIn(text="¿Qué tal? 👋")),
        ({"type": "interrupt"}, InterruptRequested()),
        ({"type": "interrupt", "payload": {}}, InterruptRequested()),
        ({"type": "stop"}, CloseRequested()),
        ({"type": "stop", "payload": None}, CloseRequested()),
        # Unknown extra fields are tolerated, at either level.
        ({"type": "stop", "payload": {"why": "done"}, "id": 7}, CloseRequested()),
        ({"payload": {"data": "AAA="}, "type": "audio"}, AudioIn(pcm=b"\x00\x00")),
    ],
)
def test_decode_client_messages_in_text_and_binary_frames(
    obj: dict[str, Any], expected: ClientEvent
) -> None:
    for frame in _frames(obj):
        assert decode(frame) == [expected]


def test_decode_accepts_non_ascii_binary_frame() -> None:
    frame = '{"type":"text","payload":{"text":"naïve café"}}'.encode()
    assert decode(frame) == [TextIn(text="naïve café")]


def test_decode_accepts_escaped_slashes() -> None:
    # iOS JSONSerialization writes "/" as "\/", which is common in base64.
    assert decode('{"type":"audio","payload":{"data":"AAH\\/fw=="}}') == [
        AudioIn(pcm=b"\x00\x01\xff\x7f")
    ]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("", "malformed JSON"),
        ("{", "malformed JSON"),
        ("{'type': 'stop'}", "malformed JSON"),
        ('{"type":"stop"} trailing', "malformed JSON"),
        (b'{"type":"text","payload":{"text":"\xff\xfe"}}', "malformed JSON"),  # invalid UTF-8
        (b"\xc3\x28", "malformed JSON"),
        ("[]", "must be a JSON object"),
        ('[{"type":"stop"}]', "must be a JSON object"),
        ("1", "must be a JSON object"),
        ('"stop"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("{}", "missing or non-string 'type'"),
        ('{"payload":{}}', "missing or non-string 'type'"),
        ('{"kind":"stop"}', "missing or non-string 'type'"),
        ('{"type":null}', "missing or non-string 'type'"),
        ('{"type":3}', "missing or non-string 'type'"),
        ('{"type":["stop"]}', "missing or non-string 'type'"),
        ('{"type":"close"}', "unknown message type 'close'"),
        ('{"type":"STOP"}', "unknown message type 'STOP'"),
        ('{"type":"ready"}', "unknown message type 'ready'"),  # a server message
        ('{"type":"input_audio_buffer.append","audio":"AA=="}', "unknown message type"),
        ('{"type":"stop","payload":[]}', "^stop: 'payload' must be a JSON object"),
        ('{"type":"start","payload":"agent_abc123"}', "^start: 'payload' must be a JSON object"),
        ('{"type":"audio","payload":"AAA="}', "^audio: 'payload' must be a JSON object"),
        ('{"type":"interrupt","payload":1}', "^interrupt: 'payload' must be a JSON object"),
        ('{"type":"start","payload":{"agent_id":""}}', "start: 'agent_id' must not be empty"),
        ('{"type":"start","payload":{"agent_id":"  "}}', "start: 'agent_id' must not be empty"),
        (
            '{"type":"start","payload":{"conversation_id":""}}',
            "start: 'conversation_id' must not be empty",
        ),
        (
            json.dumps({"type": "start", "payload": {"agent_id": "x" * (MAX_ID_LENGTH + 1)}}),
            "start: 'agent_id' must be at most 200 characters, not 201",
        ),
        (
            json.dumps({"type": "start", "payload": {"conversation_id": "c" * 5000}}),
            "start: 'conversation_id' must be at most 200 characters, not 5000",
        ),
        ('{"type":"start","payload":{"agent_id":7}}', "start: payload field 'agent_id' must be"),
        (
            '{"type":"start","payload":{"conversation_id":{"id":"c"}}}',
            "start: payload field 'conversation_id' must be a string",
        ),
        ('{"type":"audio"}', "^audio: missing payload field 'data'$"),
        ('{"type":"audio","payload":{}}', "^audio: missing payload field 'data'$"),
        ('{"type":"audio","payload":{"data":null}}', "missing payload field 'data'"),
        ('{"type":"audio","payload":{"data":123}}', "payload field 'data' must be a string"),
        ('{"type":"audio","payload":{"data":["AAA="]}}', "payload field 'data' must be a string"),
        ('{"type":"audio","payload":{"data":"AA$="}}', "'data' is not valid base64"),
        ('{"type":"audio","payload":{"data":"AAA"}}', "'data' is not valid base64"),
        ('{"type":"audio","payload":{"data":"AA A="}}', "'data' is not valid base64"),
        ('{"type":"audio","payload":{"data":"ñ"}}', "'data' is not valid base64"),
        ('{"type":"text"}', "^text: missing payload field 'text'$"),
        ('{"type":"text","payload":{"text":5}}', "payload field 'text' must be a string"),
        ('{"type":"text","payload":{"text":""}}', "text: 'text' must not be empty"),
        ('{"type":"text","payload":{"text":"  \\n\\t"}}', "text: 'text' must not be empty"),
    ],
)
def test_decode_bad_input_raises_invalid_event(frame: str | bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message) as info:
        decode(frame)
    assert info.value.code == "invalid_event"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ('{"type":"audio","data":"AAA="}', "audio: missing payload field 'data'"),
        ('{"type":"text","text":"hi"}', "text: missing payload field 'text'"),
    ],
)
def test_decode_flat_message_says_fields_go_in_payload(frame: str, message: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode(frame)
    assert str(info.value) == f"{message} (fields go inside 'payload')"


def test_decode_truncates_a_huge_unknown_type() -> None:
    with pytest.raises(InvalidEvent) as info:
        decode(json.dumps({"type": "x" * 10_000}))
    assert len(str(info.value)) < 200
    with pytest.raises(InvalidEvent) as info:
        decode(json.dumps({"type": "x" * 10_000, "payload": 1}))
    assert len(str(info.value)) < 200


def test_decode_deeply_nested_json_is_invalid_event() -> None:
    # json.loads raises RecursionError here; a peer must not be able to cause that.
    with pytest.raises(InvalidEvent, match="malformed JSON"):
        decode("[" * 100_000)
    with pytest.raises(InvalidEvent, match="malformed JSON"):
        decode('{"type":"stop","payload":' + "[" * 100_000 + "]" * 100_000 + "}")


def test_decode_huge_integer_is_invalid_event() -> None:
    # json.loads raises a plain ValueError past Python's int digit limit.
    with pytest.raises(InvalidEvent, match="malformed JSON"):
        decode('{"type":"stop","payload":{"n":' + "1" * 5000 + "}}")


def test_invalid_event_becomes_an_error_message() -> None:
    try:
        decode("nope")
    except InvalidEvent as exc:
        frames = encode(Error(code=exc.code, message=str(exc)))
    assert len(frames) == 1
    out = json.loads(frames[0])
    assert out["type"] == "error"
    assert out["payload"]["code"] == "invalid_event"
    assert out["payload"]["message"].startswith("malformed JSON")


# -- server → client: encode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            SessionStarted(session_id="s-1", call_id="c-1", sample_rate=OUTPUT_RATE),
            {"type": "started", "payload": {"session_id": "s-1", "conversation_id": "c-1"}},
        ),
        (Ready(), {"type": "ready"}),
        (
            AgentAudio(pcm=b"\x00\x01\xff\x7f"),
            {"type": "audio", "payload": {"data": "AAH/fw=="}},
        ),
        (AgentAudio(pcm=b""), {"type": "audio", "payload": {"data": ""}}),
        (
            TranscriptDelta(role="assistant", text="Hi, how"),
            {
                "type": "transcript",
                "payload": {"role": "assistant", "text": "Hi, how", "final": False},
            },
        ),
        (
            TranscriptDelta(role="user", text="I want"),
            {"type": "transcript", "payload": {"role": "user", "text": "I want", "final": False}},
        ),
        (
            Transcript(role="user", text="I want a table"),
            {
                "type": "transcript",
                "payload": {"role": "user", "text": "I want a table", "final": True},
            },
        ),
        (
            Transcript(role="assistant", text="Sure, for", interrupted=True),
            {
                "type": "transcript",
                "payload": {"role": "assistant", "text": "Sure, for", "final": True},
            },
        ),
        (
            ToolCallStatus(tool_name="lookup_order", status="started"),
            {"type": "tool_call", "payload": {"tool_name": "lookup_order", "status": "started"}},
        ),
        (
            ToolCallStatus(tool_name="lookup_order", status="completed"),
            {"type": "tool_call", "payload": {"tool_name": "lookup_order", "status": "completed"}},
        ),
        (
            ToolCallStatus(tool_name="lookup_order", status="failed"),
            {"type": "tool_call", "payload": {"tool_name": "lookup_order", "status": "failed"}},
        ),
        (Interruption(), {"type": "interrupted"}),
        (
            Error(code="invalid_event", message="malformed JSON"),
            {"type": "error", "payload": {"code": "invalid_event", "message": "malformed JSON"}},
        ),
        (
            Error(code="401", message="bad key"),
            {"type": "error", "payload": {"code": "401", "message": "bad key"}},
        ),
        (
            SessionEnded(reason="client_requested"),
            {"type": "ended", "payload": {"transcript": [], "reason": "client_requested"}},
        ),
        (
            SessionEnded(
                reason="ended",
                transcript=(
                    Line(role="assistant", text="Hi! How can I help?"),
                    Line(role="user", text="Where is my order?"),
                    Line(role="assistant", text="Let me"),
                ),
            ),
            {
                "type": "ended",
                "payload": {
                    "transcript": [
                        {"role": "assistant", "text": "Hi! How can I help?"},
                        {"role": "user", "text": "Where is my order?"},
                        {"role": "assistant", "text": "Let me"},
                    ],
                    "reason": "ended",
                },
            },
        ),
        (
            SessionEnded(reason="server_shutdown"),
            {"type": "ended", "payload": {"transcript": [], "reason": "server_shutdown"}},
        ),
    ],
)
def test_encode_server_events(event: ServerEvent, expected: dict[str, Any]) -> None:
    assert encode(event) == [_wire(expected)]


def test_encode_sends_call_id_as_conversation_id_and_no_rate() -> None:
    (frame,) = encode(SessionStarted(session_id="s", call_id="c", sample_rate=8000, channels=2))
    assert json.loads(frame) == {
        "type": "started",
        "payload": {"session_id": "s", "conversation_id": "c"},
    }


def test_encode_keeps_non_ascii_text() -> None:
    (frame,) = encode(Transcript(role="assistant", text="¡Hola! 👋"))
    assert "¡Hola! 👋" in frame


@pytest.mark.parametrize(
    "reason", ["client_requested", "websocket_closed", "ended", "handoff", "server_shutdown"]
)
def test_encode_ended_transcript_items_hold_strings_only(reason: CloseReason) -> None:
    # The iOS guide reads them with `as? [[String: String]]`: one non-string value loses all.
    lines = (Line(role="user", text="a"), Line(role="assistant", text=""))
    (frame,) = encode(SessionEnded(reason=reason, transcript=lines))
    items = json.loads(frame)["payload"]["transcript"]
    assert items == [{"role": "user", "text": "a"}, {"role": "assistant", "text": ""}]
    assert all(isinstance(v, str) for item in items for v in item.values())


@pytest.mark.parametrize(
    "event",
    [
        UserSpeechStarted(at=AT),
        AgentTalking(talking=True, at=AT),
        AgentTalking(talking=False, at=AT),
    ],
)
def test_events_without_a_wire_form_encode_to_nothing(event: ServerEvent) -> None:
    assert encode(event) == []


# -- REST: start_payload / start_message ----------------------------------------------------


@pytest.mark.parametrize(
    ("agent_id", "conversation_id", "expected"),
    [
        (None, None, {}),
        ("agent_abc123", None, {"agent_id": "agent_abc123"}),
        (None, "conv_1", {"conversation_id": "conv_1"}),
        ("a", "c", {"agent_id": "a", "conversation_id": "c"}),
        ("x" * MAX_ID_LENGTH, None, {"agent_id": "x" * MAX_ID_LENGTH}),
    ],
)
def test_start_payload(
    agent_id: str | None, conversation_id: str | None, expected: dict[str, str]
) -> None:
    assert start_payload(agent_id, conversation_id) == expected
    message = start_message(agent_id, conversation_id)
    assert message == {"type": "start", "payload": expected}
    # What the REST endpoint hands out is what the socket accepts.
    event = StartRequested(agent_id=agent_id, conversation_id=conversation_id)
    assert decode(json.dumps(message)) == [event]


@pytest.mark.parametrize(
    ("agent_id", "conversation_id", "message"),
    [
        ("", None, "agent_id must not be empty"),
        (" ", None, "agent_id must not be empty"),
        (None, "", "conversation_id must not be empty"),
        ("x" * (MAX_ID_LENGTH + 1), None, "agent_id must be at most 200 characters, not 201"),
        (None, "c" * 300, "conversation_id must be at most 200 characters, not 300"),
    ],
)
def test_start_payload_refuses_ids_the_socket_would_refuse(
    agent_id: str | None, conversation_id: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        start_payload(agent_id, conversation_id)
    with pytest.raises(ValueError, match=message):
        start_message(agent_id, conversation_id)


# -- client side: encode_client / decode_server ------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (StartRequested(), {"type": "start", "payload": {}}),
        (
            StartRequested(agent_id="agent_abc123"),
            {"type": "start", "payload": {"agent_id": "agent_abc123"}},
        ),
        (
            StartRequested(agent_id="a", conversation_id="c"),
            {"type": "start", "payload": {"agent_id": "a", "conversation_id": "c"}},
        ),
        (AudioIn(pcm=b"\x00\x01\xff\x7f"), {"type": "audio", "payload": {"data": "AAH/fw=="}}),
        (TextIn(text="Hi"), {"type": "text", "payload": {"text": "Hi"}}),
        (TextIn(text="¿Sí? 👋"), {"type": "text", "payload": {"text": "¿Sí? 👋"}}),
        (InterruptRequested(), {"type": "interrupt"}),
        (CloseRequested(), {"type": "stop"}),
        (PauseRequested(), {"type": "pause"}),
        (ResumeRequested(), {"type": "resume"}),
    ],
)
def test_encode_client(event: ClientEvent, expected: dict[str, Any]) -> None:
    assert encode_client(event) == _wire(expected)


@pytest.mark.parametrize("event", [PauseRequested(), ResumeRequested(), InterruptRequested()])
def test_client_extensions_round_trip(event: ClientEvent) -> None:
    assert decode(encode_client(event)) == [event]


def test_encode_client_refuses_ignored() -> None:
    with pytest.raises(ValueError, match="no Ignored message"):
        encode_client(Ignored(type="session.update"))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (StartRequested(agent_id=""), "agent_id must not be empty"),
        (StartRequested(conversation_id="c" * 201), "conversation_id must be at most 200"),
    ],
)
def test_encode_client_refuses_a_start_the_server_would_refuse(
    event: StartRequested, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_client(event)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"type": "started", "payload": {"session_id": "s-1", "conversation_id": "c-1"}},
            SessionStarted(session_id="s-1", call_id="c-1", sample_rate=OUTPUT_RATE),
        ),
        ({"type": "ready"}, Ready()),
        ({"type": "ready", "payload": {}}, Ready()),
        ({"type": "audio", "payload": {"data": "AAH/fw=="}}, AgentAudio(pcm=b"\x00\x01\xff\x7f")),
        (
            {"type": "transcript", "payload": {"role": "user", "text": "Hi", "final": False}},
            TranscriptDelta(role="user", text="Hi"),
        ),
        (
            {"type": "transcript", "payload": {"role": "assistant", "text": "Hi", "final": True}},
            Transcript(role="assistant", text="Hi"),
        ),
        (
            {"type": "tool_call", "payload": {"tool_name": "t", "status": "completed"}},
            ToolCallStatus(tool_name="t", status="completed"),
        ),
        ({"type": "interrupted"}, Interruption()),
        (
            {"type": "error", "payload": {"code": "invalid_event", "message": "bad"}},
            Error(code="invalid_event", message="bad"),
        ),
        # The vendor's own server sends neither `code` nor `reason` (voxgate's fields).
        ({"type": "error", "payload": {"message": "bad"}}, Error(code="error", message="bad")),
        (
            {"type": "error", "payload": {"message": "bad", "code": None}},
            Error(code="error", message="bad"),
        ),
        ({"type": "ended", "payload": {"transcript": []}}, SessionEnded(reason="ended")),
        (
            {
                "type": "ended",
                "payload": {
                    "transcript": [{"role": "user", "text": "Hi"}],
                    "reason": "websocket_closed",
                },
            },
            SessionEnded(reason="websocket_closed", transcript=(Line(role="user", text="Hi"),)),
        ),
    ],
)
def test_decode_server(obj: dict[str, Any], expected: ServerEvent) -> None:
    for frame in _frames(obj):
        assert decode_server(frame) == expected


def test_decode_server_transcript_is_not_interrupted() -> None:
    (frame,) = encode(Transcript(role="assistant", text="Sure", interrupted=True))
    assert decode_server(frame) == Transcript(role="assistant", text="Sure")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{", "malformed JSON"),
        (b"\xff", "malformed JSON"),
        ("[]", "must be a JSON object"),
        ('{"type":1}', "'type'"),
        ('{"type":"nope"}', "unknown message type 'nope'"),
        ('{"type":"start"}', "unknown message type 'start'"),  # a client message
        ('{"type":"ready","payload":[]}', "ready: 'payload' must be a JSON object"),
        ('{"type":"started"}', "started: missing payload field 'session_id'"),
        (
            '{"type":"started","payload":{"session_id":"s"}}',
            "started: missing payload field 'conversation_id'",
        ),
        (
            '{"type":"started","session_id":"s","conversation_id":"c"}',
            r"missing payload field 'session_id' \(fields go inside 'payload'\)",
        ),
        (
            '{"type":"started","payload":{"session_id":1,"conversation_id":"c"}}',
            "'session_id' must be a string",
        ),
        ('{"type":"audio","payload":{}}', "audio: missing payload field 'data'"),
        ('{"type":"audio","payload":{"data":"A"}}', "not valid base64"),
        (
            '{"type":"transcript","payload":{"text":"x","final":true}}',
            "transcript: missing payload field 'role'",
        ),
        (
            '{"type":"transcript","payload":{"role":"bot","text":"x","final":true}}',
            "'role' must be 'user' or 'assistant', not 'bot'",
        ),
        (
            '{"type":"transcript","payload":{"role":["user"],"text":"x","final":true}}',
            "'role' must be 'user' or 'assistant', not list",
        ),
        (
            '{"type":"transcript","payload":{"role":"user","final":true}}',
            "transcript: missing payload field 'text'",
        ),
        (
            '{"type":"transcript","payload":{"role":"user","text":"x"}}',
            "'final' must be true or false",
        ),
        (
            '{"type":"transcript","payload":{"role":"user","text":"x","final":1}}',
            "'final' must be true or false",
        ),
        (
            '{"type":"tool_call","payload":{"status":"started"}}',
            "missing payload field 'tool_name'",
        ),
        ('{"type":"tool_call","payload":{"tool_name":"t"}}', "missing payload field 'status'"),
        (
            '{"type":"tool_call","payload":{"tool_name":"t","status":"running"}}',
            "'status' must be one of started, completed, failed, not 'running'",
        ),
        ('{"type":"error","payload":{"code":"x"}}', "error: missing payload field 'message'"),
        ('{"type":"error","payload":{"code":401,"message":"x"}}', "'code' must be a string"),
        ('{"type":"ended"}', "ended: missing payload field 'transcript'"),
        ('{"type":"ended","payload":{"transcript":{}}}', "'transcript' must be a list"),
        ('{"type":"ended","payload":{"transcript":["hi"]}}', r"transcript\[0\] must be an object"),
        (
            '{"type":"ended","payload":{"transcript":[{"role":"user","text":"a"},{"text":"b"}]}}',
            r"ended: transcript\[1\]: missing field 'role'",
        ),
        (
            '{"type":"ended","payload":{"transcript":[{"role":"user"}]}}',
            r"transcript\[0\]: missing field 'text'",
        ),
        (
            '{"type":"ended","payload":{"transcript":[{"role":"user","text":1}]}}',
            r"transcript\[0\]: 'text' must be a string",
        ),
        (
            '{"type":"ended","payload":{"transcript":[{"role":"agent","text":"a"}]}}',
            r"transcript\[0\]: 'role' must be 'user' or 'assistant', not 'agent'",
        ),
        (
            '{"type":"ended","payload":{"transcript":[],"reason":"bored"}}',
            "unknown reason 'bored'",
        ),
        ('{"type":"ended","payload":{"transcript":[],"reason":1}}', "unknown reason int"),
    ],
)
def test_decode_server_bad_input(frame: str | bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        decode_server(frame)


# -- properties --------------------------------------------------------------------------

_texts = st.text(max_size=60)
_nonblank = _texts.filter(lambda t: bool(t.strip()))
_ids = st.none() | st.text(min_size=1, max_size=MAX_ID_LENGTH).filter(lambda t: bool(t.strip()))
_roles = st.sampled_from(["user", "assistant"])

client_events: st.SearchStrategy[ClientEvent] = st.one_of(
    st.builds(StartRequested, agent_id=_ids, conversation_id=_ids),
    st.builds(AudioIn, pcm=st.binary(max_size=400)),
    st.builds(TextIn, text=_nonblank),
    st.just(InterruptRequested()),
    st.just(CloseRequested()),
)

server_events: st.SearchStrategy[ServerEvent] = st.one_of(
    # The wire carries no rate: the server always sends OUTPUT_RATE mono.
    st.builds(SessionStarted, session_id=_texts, call_id=_texts, sample_rate=st.just(OUTPUT_RATE)),
    st.just(Ready()),
    st.builds(AgentAudio, pcm=st.binary(max_size=400)),
    st.builds(TranscriptDelta, role=_roles, text=_texts),
    st.builds(Transcript, role=_roles, text=_texts),
    st.builds(
        ToolCallStatus, tool_name=_texts, status=st.sampled_from(["started", "completed", "failed"])
    ),
    st.just(Interruption()),
    st.builds(Error, code=_texts, message=_texts),
    st.builds(
        SessionEnded,
        reason=st.sampled_from(
            ["client_requested", "websocket_closed", "ended", "handoff", "server_shutdown"]
        ),
        transcript=st.lists(st.builds(Line, role=_roles, text=_texts), max_size=5).map(tuple),
    ),
)


@given(client_events)
def test_client_round_trip(event: ClientEvent) -> None:
    frame = encode_client(event)
    assert decode(frame) == [event]
    assert decode(frame.encode()) == [event]


@given(server_events)
def test_server_round_trip(event: ServerEvent) -> None:
    frames = encode(event)
    assert len(frames) == 1
    assert decode_server(frames[0]) == event
    assert decode_server(frames[0].encode()) == event


@given(_ids, _ids)
def test_start_message_round_trip(agent_id: str | None, conversation_id: str | None) -> None:
    frame = json.dumps(start_message(agent_id, conversation_id))
    assert decode(frame) == [StartRequested(agent_id=agent_id, conversation_id=conversation_id)]


def _decode_or_invalid(frame: str | bytes) -> None:
    try:
        events = decode(frame)
    except InvalidEvent:
        return
    assert isinstance(events, list)
    for event in events:
        assert isinstance(
            event, StartRequested | AudioIn | TextIn | InterruptRequested | CloseRequested
        )
        assert decode(encode_client(event)) == [event]  # whatever decodes, encodes back


@given(st.one_of(st.text(), st.binary()))
def test_decode_fuzz_arbitrary_frames(frame: str | bytes) -> None:
    _decode_or_invalid(frame)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_client_types = st.sampled_from(["start", "audio", "text", "interrupt", "stop"]) | st.text(
    max_size=30
)
_client_fields = st.sampled_from(["agent_id", "conversation_id", "data", "text", "extra"])
_payloads = st.dictionaries(
    _client_fields, _json_values | st.sampled_from(["", " ", "AA==", "x" * 201, "agent_abc123"])
)


@given(_client_types | _json_values, _payloads | _json_values, st.booleans(), st.booleans())
def test_decode_fuzz_envelope_shaped_frames(
    kind: object, payload: object, with_payload: bool, binary: bool
) -> None:
    obj: dict[str, object] = {"type": kind}
    if with_payload:
        obj["payload"] = payload
    text = json.dumps(obj)
    _decode_or_invalid(text.encode() if binary else text)


def _decode_server_or_invalid(frame: str | bytes) -> None:
    try:
        event = decode_server(frame)
    except InvalidEvent:
        return
    assert encode(event)  # whatever decodes is an event the wire can carry


@given(st.one_of(st.text(), st.binary()))
def test_decode_server_fuzz_arbitrary_frames(frame: str | bytes) -> None:
    _decode_server_or_invalid(frame)


_server_types = st.sampled_from(
    ["started", "ready", "audio", "transcript", "tool_call", "interrupted", "error", "ended"]
)
_server_fields = st.sampled_from(
    [
        *("session_id", "conversation_id", "data", "role", "text", "final"),
        *("tool_name", "status", "code", "message", "transcript", "reason"),
    ]
)
_lines_json = st.lists(
    st.dictionaries(st.sampled_from(["role", "text"]), _json_values | _roles), max_size=3
)


@given(
    _server_types | _json_values,
    st.dictionaries(
        _server_fields,
        _json_values | _lines_json | st.sampled_from(["user", "ended", "started", "AA=="]),
    ),
)
def test_decode_server_fuzz_envelope_shaped_frames(
    kind: object, payload: dict[str, object]
) -> None:
    _decode_server_or_invalid(json.dumps({"type": kind, "payload": payload}))


# -- recorded session: the iOS guide's client (seeds/001) ----------------------------------

CHUNK_SAMPLES = 4096  # AudioCapture's installTap(bufferSize: 4096) at 16 kHz


def _mic_chunks(n: int) -> list[bytes]:
    """``n`` chunks of a 440 Hz tone, PCM16LE mono at 16 kHz, as AVAudioEngine hands them."""
    samples = [
        round(12000 * math.sin(2 * math.pi * 440 * i / INPUT_RATE))
        for i in range(n * CHUNK_SAMPLES)
    ]
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    size = CHUNK_SAMPLES * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def _ios_frame(kind: str, payload: dict[str, str] | None, *, payload_first: bool) -> str:
    """One message as `VoiceSession.send` writes it with JSONSerialization: compact, "/"
    escaped as "\\/", keys in whatever order the dictionary happens to have."""
    message: dict[str, Any] = {"type": kind}
    if payload is not None and payload_first:
        message = {"payload": payload, "type": kind}
    elif payload is not None:
        message = {"type": kind, "payload": payload}
    return json.dumps(message, separators=(",", ":")).replace("/", "\\/")


def test_recorded_ios_session() -> None:
    chunks = _mic_chunks(12)  # ≈ 3 s of speech
    # connect → didOpen → startSession(agentId:) at once; after `ready` the mic streams
    # (sendAudio per tap buffer); a VAD-detected barge-in sends `interrupt`; the stop
    # button sends `stop`. Everything goes out as TEXT (`.string`).
    sent = [_ios_frame("start", {"agent_id": "agent_abc123"}, payload_first=False)]
    for i, chunk in enumerate(chunks[:8]):
        b64 = base64.b64encode(chunk).decode()
        sent.append(_ios_frame("audio", {"data": b64}, payload_first=i % 2 == 1))
    sent.append(_ios_frame("interrupt", None, payload_first=False))
    for chunk in chunks[8:]:
        b64 = base64.b64encode(chunk).decode()
        sent.append(_ios_frame("audio", {"data": b64}, payload_first=True))
    sent.append(_ios_frame("stop", None, payload_first=False))

    assert sent[0] == '{"type":"start","payload":{"agent_id":"agent_abc123"}}'
    assert sent[-1] == '{"type":"stop"}'
    assert any("\\/" in frame for frame in sent)  # the escaped slashes really occur

    events = [event for frame in sent for event in decode(frame)]
    assert events[0] == StartRequested(agent_id="agent_abc123")
    assert events[9] == InterruptRequested()
    assert events[-1] == CloseRequested()
    audio = [e for e in events if isinstance(e, AudioIn)]
    assert len(audio) == 12 == len(events) - 3
    assert all(len(e.pcm) == CHUNK_SAMPLES * 2 for e in audio)  # 256 ms at INPUT_RATE
    assert b"".join(e.pcm for e in audio) == b"".join(chunks)


def _ios_handle(text: str) -> tuple[Any, ...] | None:
    """A port of the guide's `VoiceSession.handleMessage`: the delegate call it makes."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    raw = message.get("payload")
    payload: dict[str, Any] = raw if isinstance(raw, dict) else {}

    def string(key: str, default: str) -> str:
        value = payload.get(key)
        return value if isinstance(value, str) else default

    match message["type"]:
        case "started":
            return ("didStartSession", string("session_id", ""), string("conversation_id", ""))
        case "ready":
            return ("didBecomeReady",)
        case "audio":
            return ("didReceiveAudio", payload["data"]) if "data" in payload else None
        case "tool_call":
            return ("didReceiveToolCall", string("tool_name", ""), string("status", ""))
        case "interrupted":
            return ("wasInterrupted",)
        case "error":
            return ("didReceiveError", string("message", "Unknown error"))
        case "ended":
            # `payload["transcript"] as? [[String: String]]`, mapped to "role: text".
            items = payload.get("transcript")
            lines: list[str] = []
            if isinstance(items, list) and all(
                isinstance(item, dict) and all(isinstance(v, str) for v in item.values())
                for item in items
            ):
                lines = [f"{i.get('role', 'unknown')}: {i.get('text', '')}" for i in items]
            return ("didEnd", lines)
        case _:
            return ("unknown", message["type"])


def test_recorded_ios_session_server_side() -> None:
    """What voxgate sends in a session reaches the guide's delegate as the guide expects."""
    session: list[ServerEvent] = [
        SessionStarted(session_id="sess_1", call_id="conv_1", sample_rate=OUTPUT_RATE),
        Ready(),
        TranscriptDelta(role="user", text="Where is"),
        Transcript(role="user", text="Where is my order?"),
        ToolCallStatus(tool_name="lookup_order", status="started"),
        ToolCallStatus(tool_name="lookup_order", status="completed"),
        AgentAudio(pcm=b"\x00\x01\xff\x7f"),
        AgentTalking(talking=True, at=AT),
        Interruption(),
        Error(code="invalid_event", message="audio: missing payload field 'data'"),
        SessionEnded(
            reason="client_requested",
            transcript=(
                Line(role="user", text="Where is my order?"),
                Line(role="assistant", text="It ships"),
            ),
        ),
    ]
    calls = [_ios_handle(frame) for event in session for frame in encode(event)]
    assert calls == [
        ("didStartSession", "sess_1", "conv_1"),
        ("didBecomeReady",),
        ("unknown", "transcript"),  # the guide only logs it; voxgate's addition
        ("unknown", "transcript"),
        ("didReceiveToolCall", "lookup_order", "started"),
        ("didReceiveToolCall", "lookup_order", "completed"),
        ("didReceiveAudio", "AAH/fw=="),
        ("wasInterrupted",),
        ("didReceiveError", "audio: missing payload field 'data'"),
        ("didEnd", ["user: Where is my order?", "assistant: It ships"]),
    ]
