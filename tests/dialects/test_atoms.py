"""voxgate.dialects.atoms: client decoding, server encoding, connect params, round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.dialects.atoms import (
    DEFAULT_SAMPLE_RATE,
    RESERVED_VARIABLES,
    ConnectParams,
    decode,
    decode_server,
    encode,
    encode_client,
    parse_connect_params,
    parse_variables,
)
from voxgate.errors import InvalidEvent, SetupError
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
    PauseRequested,
    ResumeRequested,
    ServerEvent,
    SessionEnded,
    SessionStarted,
    TextIn,
    ToolCallStatus,
    Transcript,
    TranscriptDelta,
    UserSpeechStarted,
)

AT = datetime(2026, 3, 1, 12, 30, 5, 250000, tzinfo=UTC)


def _frames(obj: dict[str, Any]) -> list[str | bytes]:
    """The same JSON event as a TEXT frame (Android) and a BINARY frame (iOS)."""
    text = json.dumps(obj)
    return [text, text.encode()]


def _one(frame: str) -> dict[str, Any]:
    obj = json.loads(frame)
    assert isinstance(obj, dict)
    return obj


# -- client → server: decode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"type": "input_audio_buffer.append", "audio": "AAH/fw=="},
            AudioIn(pcm=b"\x00\x01\xff\x7f"),
        ),
        ({"type": "input_audio_buffer.append", "audio": ""}, AudioIn(pcm=b"")),
        ({"type": "input_audio_buffer.append", "audio": "AQID"}, AudioIn(pcm=b"\x01\x02\x03")),
        ({"type": "input_text.send", "text": "Hello there"}, TextIn(text="Hello there")),
        ({"type": "input_text.send", "text": "¿Qué tal? 👋"}, TextIn(text="¿Qué tal? 👋")),
        ({"type": "session.close"}, CloseRequested()),
        ({"type": "input_audio_buffer.commit"}, Ignored(type="input_audio_buffer.commit")),
        ({"type": "session.update"}, Ignored(type="session.update")),
        ({"type": "session.update", "session": {"voice": "x"}}, Ignored(type="session.update")),
        # Unknown extra fields are tolerated (clients add their own).
        ({"type": "session.close", "event_id": "e1"}, CloseRequested()),
    ],
)
def test_decode_client_events_in_text_and_binary_frames(
    obj: dict[str, Any], expected: ClientEvent
) -> None:
    for frame in _frames(obj):
        assert decode(frame) == [expected]


def test_decode_accepts_non_ascii_binary_frame() -> None:
    frame = '{"type":"input_text.send","text":"naïve café"}'.encode()
    assert decode(frame) == [TextIn(text="naïve café")]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("", "malformed JSON"),
        ("{", "malformed JSON"),
        ("{'type': 'session.close'}", "malformed JSON"),
        ('{"type":"session.close"} trailing', "malformed JSON"),
        (b'{"type":"input_text.send","text":"\xff\xfe"}', "malformed JSON"),  # invalid UTF-8
        (b"\xc3\x28", "malformed JSON"),
        ("[]", "must be a JSON object"),
        ('[{"type":"session.close"}]', "must be a JSON object"),
        ("1", "must be a JSON object"),
        ('"session.close"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("{}", "'type'"),
        ('{"kind":"session.close"}', "'type'"),
        ('{"type":null}', "'type'"),
        ('{"type":3}', "'type'"),
        ('{"type":"response.create"}', "unknown event type 'response.create'"),
        ('{"type":"SESSION.CLOSE"}', "unknown event type"),
        ('{"type":"input_audio_buffer.append"}', "missing field 'audio'"),
        ('{"type":"input_audio_buffer.append","audio":null}', "missing field 'audio'"),
        ('{"type":"input_audio_buffer.append","audio":123}', "'audio' must be a string"),
        ('{"type":"input_audio_buffer.append","audio":["AAA="]}', "'audio' must be a string"),
        ('{"type":"input_audio_buffer.append","audio":"AA$="}', "'audio' is not valid base64"),
        ('{"type":"input_audio_buffer.append","audio":"AAA"}', "'audio' is not valid base64"),
        ('{"type":"input_audio_buffer.append","audio":"AA A="}', "'audio' is not valid base64"),
        ('{"type":"input_audio_buffer.append","audio":"ñ"}', "'audio' is not valid base64"),
        ('{"type":"input_text.send"}', "missing field 'text'"),
        ('{"type":"input_text.send","text":5}', "'text' must be a string"),
        ('{"type":"input_text.send","text":""}', "'text' must not be empty"),
        ('{"type":"input_text.send","text":"  \\n\\t"}', "'text' must not be empty"),
    ],
)
def test_decode_bad_input_raises_invalid_event(frame: str | bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message) as info:
        decode(frame)
    assert info.value.code == "invalid_event"


def test_decode_names_the_event_type_in_field_errors() -> None:
    with pytest.raises(InvalidEvent, match=r"^input_audio_buffer\.append: "):
        decode('{"type":"input_audio_buffer.append"}')


def test_decode_truncates_a_huge_unknown_type() -> None:
    with pytest.raises(InvalidEvent) as info:
        decode(json.dumps({"type": "x" * 10_000}))
    assert len(str(info.value)) < 200


def test_decode_deeply_nested_json_is_invalid_event() -> None:
    # json.loads raises RecursionError here; a peer must not be able to cause that.
    with pytest.raises(InvalidEvent, match="malformed JSON"):
        decode("[" * 100_000)
    with pytest.raises(InvalidEvent, match="malformed JSON"):
        decode('{"type":"session.close","x":' + "[" * 100_000 + "]" * 100_000 + "}")


def test_decode_huge_integer_is_invalid_event() -> None:
    # json.loads raises a plain ValueError past Python's int digit limit.
    with pytest.raises(InvalidEvent, match="malformed JSON"):
        decode('{"type":"session.close","n":' + "1" * 5000 + "}")


def test_invalid_event_becomes_an_error_event() -> None:
    try:
        decode("nope")
    except InvalidEvent as exc:
        frames = encode(Error(code=exc.code, message=str(exc)))
    assert len(frames) == 1
    out = _one(frames[0])
    assert out["type"] == "error"
    assert out["code"] == "invalid_event"
    assert out["message"].startswith("malformed JSON")


# -- server → client: encode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            SessionStarted(session_id="s-1", call_id="c-1", sample_rate=16000),
            {
                "type": "session.created",
                "session_id": "s-1",
                "call_id": "c-1",
                "sample_rate": 16000,
                "channels": 1,
            },
        ),
        (
            AgentAudio(pcm=b"\x00\x01\xff\x7f"),
            {"type": "output_audio.delta", "audio": "AAH/fw=="},
        ),
        (AgentAudio(pcm=b""), {"type": "output_audio.delta", "audio": ""}),
        (
            TranscriptDelta(role="assistant", text="Hi, how"),
            {"type": "transcript.delta", "role": "assistant", "text": "Hi, how"},
        ),
        (
            TranscriptDelta(role="user", text="I want"),
            {"type": "transcript.delta", "role": "user", "text": "I want"},
        ),
        (
            Transcript(role="user", text="I want a table"),
            {"type": "transcript", "role": "user", "text": "I want a table"},
        ),
        (
            Transcript(role="assistant", text="Sure, for", interrupted=True),
            {"type": "transcript", "role": "assistant", "text": "Sure, for"},
        ),
        (
            AgentTalking(talking=True, at=AT),
            {"type": "agent_start_talking", "timestamp": "2026-03-01T12:30:05.250000+00:00"},
        ),
        (
            AgentTalking(talking=False, at=AT),
            {"type": "agent_stop_talking", "timestamp": "2026-03-01T12:30:05.250000+00:00"},
        ),
        (Interruption(), {"type": "interruption"}),
        (
            SessionEnded(reason="client_requested"),
            {"type": "session.closed", "reason": "client_requested"},
        ),
        (
            SessionEnded(reason="websocket_closed"),
            {"type": "session.closed", "reason": "websocket_closed"},
        ),
        (SessionEnded(reason="ended"), {"type": "session.closed", "reason": "ended"}),
        (SessionEnded(reason="server_shutdown"), {"type": "session.closed", "reason": "ended"}),
        (
            Error(code="invalid_event", message="malformed JSON"),
            {"type": "error", "code": "invalid_event", "message": "malformed JSON"},
        ),
        (
            Error(code="401", message="bad key"),
            {"type": "error", "code": "401", "message": "bad key"},
        ),
    ],
)
def test_encode_server_events(event: ServerEvent, expected: dict[str, Any]) -> None:
    frames = encode(event)
    assert len(frames) == 1
    assert isinstance(frames[0], str)
    assert _one(frames[0]) == expected


def test_encode_timestamp_is_iso_8601() -> None:
    (frame,) = encode(AgentTalking(talking=True, at=AT))
    assert datetime.fromisoformat(_one(frame)["timestamp"]) == AT


def test_encode_keeps_non_ascii_text() -> None:
    (frame,) = encode(Transcript(role="assistant", text="¡Hola! 👋"))
    assert "¡Hola! 👋" in frame


@pytest.mark.parametrize(
    "event",
    [
        UserSpeechStarted(at=AT),
        ToolCallStatus(tool_name="lookup", status="started"),
        ToolCallStatus(tool_name="lookup", status="completed"),
        ToolCallStatus(tool_name="lookup", status="failed"),
    ],
)
def test_events_without_a_wire_form_encode_to_nothing(event: ServerEvent) -> None:
    assert encode(event) == []


# -- connect params ----------------------------------------------------------------------


def test_connect_params_defaults() -> None:
    assert parse_connect_params({}) == ConnectParams(
        agent_id=None, mode="webcall", sample_rate=24000, variables={}
    )
    assert DEFAULT_SAMPLE_RATE == 24000


def test_connect_params_empty_values_mean_defaults() -> None:
    params = parse_connect_params({"agent_id": "", "mode": "", "sample_rate": "", "variables": ""})
    assert params == ConnectParams(agent_id=None, mode="webcall", sample_rate=24000, variables={})


def test_connect_params_all_given() -> None:
    params = parse_connect_params(
        {"agent_id": "a-1", "mode": "chat", "sample_rate": "16000", "variables": '{"x":"y"}'}
    )
    assert params == ConnectParams(
        agent_id="a-1", mode="chat", sample_rate=16000, variables={"x": "y"}
    )


@pytest.mark.parametrize("mode", ["webcall", "chat"])
def test_connect_params_modes(mode: str) -> None:
    assert parse_connect_params({"mode": mode}).mode == mode


@pytest.mark.parametrize("mode", ["voice", "CHAT", "Webcall", "text", " chat"])
def test_connect_params_bad_mode(mode: str) -> None:
    with pytest.raises(SetupError, match="mode must be 'webcall' or 'chat'") as info:
        parse_connect_params({"mode": mode})
    assert info.value.code == "400"


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_connect_params_sample_rates(rate: int) -> None:
    assert parse_connect_params({"sample_rate": str(rate)}).sample_rate == rate


@pytest.mark.parametrize(
    "rate", ["44100", "22050", "0", "-16000", "abc", "16000.0", "16k", "1" * 5000]
)
def test_connect_params_bad_sample_rate(rate: str) -> None:
    with pytest.raises(SetupError, match="sample_rate must be one of 8000, 16000, 24000, 48000"):
        parse_connect_params({"sample_rate": rate})


def test_variables_object_is_kept() -> None:
    raw = '{"name":"Ana","age":31,"score":4.5,"vip":true,"note":""}'
    assert parse_connect_params({"variables": raw}).variables == {
        "name": "Ana",
        "age": 31,
        "score": 4.5,
        "vip": True,
        "note": "",
    }


def test_variables_reserved_keys_are_dropped() -> None:
    assert {"call_id", "current_date", "timezone", "user_number"} <= RESERVED_VARIABLES
    raw = {key: "spoofed" for key in RESERVED_VARIABLES} | {"name": "Ana"}
    assert parse_connect_params({"variables": json.dumps(raw)}).variables == {"name": "Ana"}


def test_variables_accept_a_mapping() -> None:
    assert parse_variables({"a": 1, "call_id": "x"}) == {"a": 1}
    assert parse_variables(None) == {}


@pytest.mark.parametrize("raw", ["[]", '["a"]', '"text"', "1", "true", "null"])
def test_variables_must_be_an_object(raw: str) -> None:
    with pytest.raises(SetupError, match="variables must be a JSON object"):
        parse_connect_params({"variables": raw})


@pytest.mark.parametrize("raw", ['{"a":{"b":1}}', '{"a":[1,2]}', '{"a":null}', '{"ok":1,"bad":{}}'])
def test_variables_values_must_be_scalars(raw: str) -> None:
    with pytest.raises(SetupError, match="must be a string, number or boolean"):
        parse_connect_params({"variables": raw})


@pytest.mark.parametrize("raw", ["{", "{'a': 1}", "{a:1}", '{"a":1,}'])
def test_variables_bad_json(raw: str) -> None:
    with pytest.raises(SetupError, match="variables must be a JSON object"):
        parse_connect_params({"variables": raw})


# -- client side: encode_client / decode_server ------------------------------------------


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            AudioIn(pcm=b"\x00\x01\xff\x7f"),
            {"type": "input_audio_buffer.append", "audio": "AAH/fw=="},
        ),
        (TextIn(text="Hi"), {"type": "input_text.send", "text": "Hi"}),
        (CloseRequested(), {"type": "session.close"}),
        (Ignored(type="session.update"), {"type": "session.update"}),
        (Ignored(type="input_audio_buffer.commit"), {"type": "input_audio_buffer.commit"}),
        (PauseRequested(), {"type": "session.pause"}),
        (ResumeRequested(), {"type": "session.resume"}),
    ],
)
def test_encode_client(event: ClientEvent, expected: dict[str, Any]) -> None:
    assert _one(encode_client(event)) == expected


@pytest.mark.parametrize("event", [PauseRequested(), ResumeRequested()])
def test_pause_and_resume_extensions_round_trip(event: ClientEvent) -> None:
    assert decode(encode_client(event)) == [event]


def test_decode_server_binary_frame() -> None:
    assert decode_server(b'{"type":"interruption"}') == Interruption()


def test_decode_server_transcript_is_not_interrupted() -> None:
    (frame,) = encode(Transcript(role="assistant", text="Sure", interrupted=True))
    assert decode_server(frame) == Transcript(role="assistant", text="Sure")


@pytest.mark.parametrize(
    "reason", ["client_requested", "websocket_closed", "ended", "server_shutdown"]
)
def test_decode_server_maps_reasons_as_given(reason: CloseReason) -> None:
    frame = json.dumps({"type": "session.closed", "reason": reason})
    assert decode_server(frame) == SessionEnded(reason=reason)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-03-01T12:30:05.250000+00:00", AT),
        ("2026-03-01T12:30:05.25Z", AT),
        ("2026-03-01T14:30:05.250+02:00", AT),
        ("2026-03-01T12:30:05.250000", AT),  # no offset: taken as UTC
    ],
)
def test_decode_server_timestamps(stamp: str, expected: datetime) -> None:
    event = decode_server(json.dumps({"type": "agent_stop_talking", "timestamp": stamp}))
    assert event == AgentTalking(talking=False, at=expected)
    assert isinstance(event, AgentTalking)
    assert event.at.tzinfo is not None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("{", "malformed JSON"),
        (b"\xff", "malformed JSON"),
        ("[]", "must be a JSON object"),
        ('{"type":1}', "'type'"),
        ('{"type":"nope"}', "unknown event type 'nope'"),
        ('{"type":"session.created","call_id":"c","sample_rate":1,"channels":1}', "session_id"),
        ('{"type":"session.created","session_id":"s","call_id":"c","channels":1}', "sample_rate"),
        (
            '{"type":"session.created","session_id":"s","call_id":"c","sample_rate":"8000","channels":1}',
            "'sample_rate' must be an integer",
        ),
        (
            '{"type":"session.created","session_id":"s","call_id":"c","sample_rate":true,"channels":1}',
            "'sample_rate' must be an integer",
        ),
        (
            '{"type":"session.created","session_id":"s","call_id":"c","sample_rate":8000,"channels":1.0}',
            "'channels' must be an integer",
        ),
        ('{"type":"output_audio.delta"}', "missing field 'audio'"),
        ('{"type":"output_audio.delta","audio":"A"}', "not valid base64"),
        ('{"type":"transcript.delta","text":"x"}', "missing field 'role'"),
        ('{"type":"transcript.delta","role":"bot","text":"x"}', "'role' must be"),
        ('{"type":"transcript","role":"user"}', "missing field 'text'"),
        ('{"type":"agent_start_talking"}', "missing field 'timestamp'"),
        ('{"type":"agent_start_talking","timestamp":"yesterday"}', "not ISO-8601"),
        ('{"type":"session.closed"}', "missing field 'reason'"),
        ('{"type":"session.closed","reason":"bored"}', "unknown reason 'bored'"),
        ('{"type":"error","code":"x"}', "missing field 'message'"),
        ('{"type":"error","code":401,"message":"x"}', "'code' must be a string"),
    ],
)
def test_decode_server_bad_input(frame: str | bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        decode_server(frame)


# -- properties --------------------------------------------------------------------------

_texts = st.text(max_size=60)
_nonblank = _texts.filter(lambda t: bool(t.strip()))

client_events: st.SearchStrategy[ClientEvent] = st.one_of(
    st.builds(AudioIn, pcm=st.binary(max_size=400)),
    st.builds(TextIn, text=_nonblank),
    st.just(CloseRequested()),
    st.sampled_from(["input_audio_buffer.commit", "session.update"]).map(lambda t: Ignored(type=t)),
)

_offsets = st.integers(min_value=-23 * 60 + 1, max_value=23 * 60 - 1).map(
    lambda m: timezone(timedelta(minutes=m))
)
_aware = st.datetimes(timezones=st.one_of(st.just(UTC), _offsets))
_roles = st.sampled_from(["user", "assistant"])

server_events: st.SearchStrategy[ServerEvent] = st.one_of(
    st.builds(
        SessionStarted,
        session_id=_texts,
        call_id=_texts,
        sample_rate=st.integers(),
        channels=st.integers(),
    ),
    st.builds(AgentAudio, pcm=st.binary(max_size=400)),
    st.builds(TranscriptDelta, role=_roles, text=_texts),
    st.builds(Transcript, role=_roles, text=_texts),
    st.builds(AgentTalking, talking=st.booleans(), at=_aware),
    st.just(Interruption()),
    st.builds(
        SessionEnded, reason=st.sampled_from(["client_requested", "websocket_closed", "ended"])
    ),
    st.builds(Error, code=_texts, message=_texts),
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


def _decode_or_invalid(frame: str | bytes) -> None:
    try:
        events = decode(frame)
    except InvalidEvent:
        return
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, AudioIn | TextIn | CloseRequested | Ignored)


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
_types = st.sampled_from(
    [
        "input_audio_buffer.append",
        "input_text.send",
        "session.close",
        "input_audio_buffer.commit",
        "session.update",
    ]
) | st.text(max_size=30)


@given(
    _types | _json_values,
    st.dictionaries(st.sampled_from(["audio", "text", "extra"]), _json_values | st.text()),
    st.booleans(),
)
def test_decode_fuzz_event_shaped_frames(
    kind: object, fields: dict[str, object], binary: bool
) -> None:
    text = json.dumps({"type": kind, **fields})
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
    [
        "session.created",
        "output_audio.delta",
        "transcript.delta",
        "transcript",
        "agent_start_talking",
        "agent_stop_talking",
        "interruption",
        "session.closed",
        "error",
    ]
)
_server_fields = st.sampled_from(
    [
        *("session_id", "call_id", "sample_rate", "channels", "audio", "role", "text"),
        *("timestamp", "reason", "code", "message"),
    ]
)


@given(
    _server_types | _json_values,
    st.dictionaries(_server_fields, _json_values | st.sampled_from(["user", "ended", "AA=="])),
)
def test_decode_server_fuzz_event_shaped_frames(kind: object, fields: dict[str, object]) -> None:
    _decode_server_or_invalid(json.dumps({"type": kind, **fields}))
