"""voxgate.dialects.messaging: envelopes, the five client events, cursors (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.dialects import messaging as wire
from voxgate.errors import InvalidEvent
from voxgate.messaging.service import split_words

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("prefix", ["", "EVENT_TYPE_"])
def test_the_five_client_events_with_or_without_prefix(prefix: str) -> None:
    for kind, payload in [
        ("REQUEST_POLY_AGENT_JOIN", {}),
        ("USER_MESSAGE", {"text": "hi"}),
        ("USER_TYPING", {"state": "TYPING_STATE_STARTED"}),
        ("USER_END_SESSION", {}),
        ("HEARTBEAT", {}),
    ]:
        msg = wire.decode_client(json.dumps({"type": prefix + kind, "payload": payload}))
        assert msg.TYPE == kind and wire.client_payload(msg) == payload


def test_client_event_id_is_kept_for_the_receipt() -> None:
    frame = wire.encode_client("USER_MESSAGE", {"text": "hi"}, client_event_id="c1")
    msg = wire.decode_client(frame)
    assert isinstance(msg, wire.UserMessage)
    assert wire.client_event_id(msg) == "c1" and msg.text == "hi"
    assert wire.receipt(msg.custom) == {"custom": {"client_event_id": "c1"}}
    assert wire.receipt({}) is None


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("{", "malformed JSON"),
        ("[]", "JSON object"),
        ('{"payload": {}}', "'type'"),
        ('{"type": "EVENT_TYPE_LIVE_AGENT_MESSAGE"}', "unknown client event"),
        ('{"type": "USER_MESSAGE", "payload": {"text": "  "}}', "non-empty"),
        ('{"type": "USER_MESSAGE", "payload": {"text": 5}}', "non-empty"),
        ('{"type": "USER_MESSAGE", "payload": []}', "object"),
        ('{"type": "USER_TYPING", "payload": {"state": "ON"}}', "TYPING_STATE"),
        ('{"type": "HEARTBEAT", "metadata": {"custom": 3}}', "metadata.custom"),
    ],
)
def test_bad_client_events(frame: str, says: str) -> None:
    with pytest.raises(InvalidEvent, match=says):
        wire.decode_client(frame)


def test_oversized_text_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="over"):
        wire.decode_client(wire.encode_client("USER_MESSAGE", {"text": "a" * 5000}))
    with pytest.raises(InvalidEvent, match="bytes"):
        wire.decode_client(b"x" * (wire.MAX_MESSAGE_BYTES + 1))


@pytest.mark.parametrize(
    ("value", "cursor"),
    [
        (None, 0),
        ("", 0),
        ("12", 12),
        ("seq:7", 7),
        ("-3", 0),
        ("abc", 0),
        ("seq:", 0),
        ("9" * 30, 0),
    ],
)
def test_cursor(value: str | None, cursor: int) -> None:
    assert wire.parse_cursor(value) == cursor


def test_server_envelope_and_batch_round_trip() -> None:
    events = [
        wire.ServerEvent(
            type="SESSION_START",
            payload=wire.payload_of(wire.SessionStart(streaming=True)),
            id="e1",
            sequence=1,
            timestamp=AT,
        ),
        wire.ServerEvent(
            type="USER_MESSAGE",
            payload={"message_id": "m", "text": "hi"},
            id="e2",
            sequence=2,
            timestamp=AT,
            metadata={"custom": {"client_event_id": "c"}},
        ),
    ]
    frame = wire.encode_batch(events, id="b", timestamp=AT)
    raw = json.loads(frame)
    assert raw["type"] == "EVENT_TYPE_EVENT_BATCH" and raw["sequence"] is None
    assert raw["payload"]["events"][0]["timestamp"] == "2026-11-21T12:00:00Z"
    flat = wire.decode_server(frame)
    assert [e["type"] for e in flat] == ["SESSION_START", "USER_MESSAGE"]
    assert [e["sequence"] for e in flat] == [1, 2]
    assert flat[1]["metadata"] == {"custom": {"client_event_id": "c"}}
    assert wire.decode_server(wire.encode(events[0]))[0]["payload"]["capabilities"] == {
        "streaming": True,
        "max_message_size_bytes": 131072,
        "max_reconnect_attempts": 5,
        "heartbeat_interval_seconds": 30,
    }


@given(st.lists(st.text(alphabet=" ab\n.", max_size=12), max_size=8))
def test_streamed_words_join_into_the_stripped_message(pieces: list[str]) -> None:
    chunks: list[str] = []
    pending = ""
    for piece in pieces:
        words, pending = split_words(pending + piece, first=not chunks)
        chunks += words
    assert "".join(chunks) == "".join(pieces).strip()
    assert all(c.strip() for c in chunks)  # no empty chunks


customs = st.dictionaries(
    st.sampled_from(["client_event_id", "app"]), st.text(max_size=8), max_size=2
)
client_events = st.one_of(
    st.builds(wire.JoinRequest, custom=customs),
    st.builds(
        wire.UserMessage,
        text=st.text(min_size=1, max_size=40).filter(str.strip),
        custom=customs,
    ),
    st.builds(wire.UserTyping, typing=st.booleans(), custom=customs),
    st.builds(wire.EndRequest, custom=customs),
    st.builds(wire.Heartbeat, custom=customs),
)


@given(client_events)
def test_client_events_round_trip(event: wire.ClientEvent) -> None:
    assert wire.decode_client(wire.encode_client_event(event)) == event


def test_session_events_on_the_wire() -> None:
    assert wire.to_log(wire.HandoffQueueStatus(queue="q", position=2, estimated_wait_s=9)) == (
        "HANDOFF_QUEUE_STATUS",
        {"queue_name": "q", "position_in_queue": 2, "estimated_wait_seconds": 9},
    )
    assert wire.to_log(wire.LiveAgentTyping(agent_id="u", typing=False)) == (
        "LIVE_AGENT_TYPING",
        {"state": "TYPING_STATE_STOPPED", "agent_id": "u"},
    )
    chunk = wire.AgentMessageChunk(message_id="m", text="hi", chunk_index=1, is_complete=False)
    assert wire.payload_of(chunk) == {
        "message_id": "m",
        "text": "hi",
        "chunk_index": 1,
        "is_complete": False,
        "attachments": [],
        "response_suggestions": [],
    }
    assert wire.SystemMessage.TYPE in wire.TRANSIENT_TYPES
