"""The messaging protocol (PolyAI-compatible, ``protocols/messaging.md``): envelopes, the five
client events, server event payloads, cursors. Pure: no I/O, no clock (times are passed).

Wire types carry the ``EVENT_TYPE_`` prefix; in code they are the short names
(``USER_MESSAGE``). Clients may send either form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from voxgate.errors import InvalidEvent

PREFIX = "EVENT_TYPE_"
MAX_MESSAGE_BYTES = 128 * 1024
MAX_CONNECTIONS = 10
HEARTBEAT_INTERVAL_S = 30
MAX_RECONNECT_ATTEMPTS = 5
MAX_TEXT_CHARS = 4000

CLIENT_TYPES = frozenset(
    {"REQUEST_POLY_AGENT_JOIN", "USER_MESSAGE", "USER_TYPING", "USER_END_SESSION", "HEARTBEAT"}
)
TRANSIENT_TYPES = frozenset({"HEARTBEAT", "USER_TYPING", "LIVE_AGENT_TYPING", "SYSTEM_MESSAGE"})
"""Server events sent with ``sequence: null`` and not kept in the session's log (typing
and heartbeats; system messages answer one connection's mistakes)."""
TYPING_STARTED = "TYPING_STATE_STARTED"
TYPING_STOPPED = "TYPING_STATE_STOPPED"
Level = Literal["INFO", "WARNING", "ERROR"]
EndReason = Literal["REASON_USER_END", "REASON_USER_ABANDONED", "REASON_NATURAL_END"]


def short_type(wire_type: str) -> str:
    return wire_type[len(PREFIX) :] if wire_type.startswith(PREFIX) else wire_type


def wire_type(short: str) -> str:
    return short if short.startswith(PREFIX) else PREFIX + short


# --- client → server ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientMessage:
    """One decoded client event: its short ``type``, its payload, and the app's own
    ``metadata.custom`` (``client_event_id`` in it is echoed back as a receipt)."""

    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def client_event_id(self) -> str | None:
        value = self.custom.get("client_event_id")
        return value if isinstance(value, str) else None

    @property
    def text(self) -> str:
        return str(self.payload.get("text", ""))

    @property
    def typing(self) -> bool:
        return self.payload.get("state") == TYPING_STARTED


def decode_client(frame: str | bytes) -> ClientMessage:
    """Decode one client frame. Raises :class:`InvalidEvent` (answered with a
    ``SYSTEM_MESSAGE`` error; the connection goes on)."""
    if isinstance(frame, bytes) and len(frame) > MAX_MESSAGE_BYTES:
        raise InvalidEvent(f"message over {MAX_MESSAGE_BYTES} bytes")
    try:
        msg = json.loads(frame)
    except (ValueError, RecursionError):
        raise InvalidEvent("malformed JSON") from None
    if not isinstance(msg, dict):
        raise InvalidEvent("an event must be a JSON object")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise InvalidEvent("missing or non-string 'type'")
    short = short_type(kind)
    if short not in CLIENT_TYPES:
        allowed = ", ".join(sorted(PREFIX + t for t in CLIENT_TYPES))
        raise InvalidEvent(f"unknown client event {kind[:64]!r} (expected one of {allowed})")
    payload = msg.get("payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise InvalidEvent(f"{kind}: 'payload' must be an object")
    metadata = msg.get("metadata") or {}
    custom = metadata.get("custom") if isinstance(metadata, dict) else None
    if custom is not None and not isinstance(custom, dict):
        raise InvalidEvent(f"{kind}: 'metadata.custom' must be an object")
    message = ClientMessage(type=short, payload=payload, custom=custom or {})
    if short == "USER_MESSAGE":
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidEvent("USER_MESSAGE: 'text' must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidEvent(f"USER_MESSAGE: 'text' is over {MAX_TEXT_CHARS} characters")
    elif short == "USER_TYPING" and payload.get("state") not in (TYPING_STARTED, TYPING_STOPPED):
        raise InvalidEvent(f"USER_TYPING: 'state' must be {TYPING_STARTED} or {TYPING_STOPPED}")
    return message


def encode_client(
    short: str, payload: dict[str, Any] | None = None, *, client_event_id: str | None = None
) -> str:
    """A client frame (for SDKs and tests)."""
    msg: dict[str, Any] = {"type": wire_type(short), "payload": payload or {}}
    if client_event_id is not None:
        msg["metadata"] = {"custom": {"client_event_id": client_event_id}}
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))


# --- server → client ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerEvent:
    """One server event as sent: ``sequence`` is ``None`` for transient events."""

    type: str
    payload: dict[str, Any]
    id: str
    sequence: int | None
    timestamp: datetime
    metadata: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": wire_type(self.type),
            "sequence": self.sequence,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "payload": self.payload,
        }
        if self.metadata:
            out["metadata"] = self.metadata
        return out


def encode(event: ServerEvent) -> str:
    return json.dumps(event.to_wire(), ensure_ascii=False, separators=(",", ":"))


def encode_batch(events: list[ServerEvent], *, id: str, timestamp: datetime) -> str:
    """``EVENT_BATCH`` with the given events (transient itself: no sequence)."""
    batch = ServerEvent(
        type="EVENT_BATCH",
        payload={"events": [e.to_wire() for e in events]},
        id=id,
        sequence=None,
        timestamp=timestamp,
    )
    return encode(batch)


def receipt(custom: dict[str, Any]) -> dict[str, Any] | None:
    """Metadata echoing the app's ``client_event_id`` (a delivery receipt), if it sent one."""
    value = custom.get("client_event_id")
    return {"custom": {"client_event_id": value}} if isinstance(value, str) else None


def session_start_payload(*, streaming: bool) -> dict[str, Any]:
    return {
        "capabilities": {
            "streaming": streaming,
            "max_message_size_bytes": MAX_MESSAGE_BYTES,
            "max_reconnect_attempts": MAX_RECONNECT_ATTEMPTS,
            "heartbeat_interval_seconds": HEARTBEAT_INTERVAL_S,
        }
    }


def system_message_payload(level: Level, message: str) -> dict[str, Any]:
    return {"level": f"SYSTEM_MESSAGE_LEVEL_{level}", "message": message}


def suggestions_payload(suggestions: list[str]) -> list[dict[str, str]]:
    return [{"message_text": s} for s in suggestions]


def parse_cursor(value: str | None) -> int:
    """The last sequence the client has: ``"12"`` or ``"seq:12"``; anything else is 0."""
    if not value:
        return 0
    text = value[4:] if value.startswith("seq:") else value
    return int(text) if text.isdigit() and len(text) < 19 else 0


def decode_server(frame: str | bytes) -> list[dict[str, Any]]:
    """A server frame as a list of events (``EVENT_BATCH`` flattened), each with its
    short ``type``. Raises :class:`InvalidEvent`."""
    try:
        msg = json.loads(frame)
    except (ValueError, RecursionError):
        raise InvalidEvent("malformed JSON from the server") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise InvalidEvent("a server event must be an object with a 'type'")
    msg["type"] = short_type(msg["type"])
    if msg["type"] != "EVENT_BATCH":
        return [msg]
    inner = (msg.get("payload") or {}).get("events")
    if not isinstance(inner, list):
        raise InvalidEvent("EVENT_BATCH without an 'events' list")
    out = []
    for event in inner:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise InvalidEvent("EVENT_BATCH holds a malformed event")
        out.append({**event, "type": short_type(event["type"])})
    return out
