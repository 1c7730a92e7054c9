"""The messaging protocol (PolyAI-compatible, ``protocols/messaging.md``): envelopes, the five
client events, the server events, cursors. Pure: no I/O, no clock (times are passed).

Wire types carry the ``EVENT_TYPE_`` prefix; in code they are the short names
(``USER_MESSAGE``). Clients may send either form.

Client frames decode into :data:`ClientEvent`; what the server says in a session is a
:data:`SessionEvent`, turned into its wire type and payload by :func:`to_log` (vendor
field names stay in this module). Sent and logged events travel in a :class:`ServerEvent`
envelope with their id, sequence and time. Match on the unions with ``assert_never``.

One concept, the whole vocabulary of one protocol with its codec, so it runs past 500
lines: most of them are the event declarations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, assert_never

from voxgate.agents.base import Attachment
from voxgate.errors import InvalidEvent

PREFIX = "EVENT_TYPE_"
MAX_MESSAGE_BYTES = 128 * 1024
MAX_CONNECTIONS = 10
HEARTBEAT_INTERVAL_S = 30
MAX_RECONNECT_ATTEMPTS = 5
MAX_TEXT_CHARS = 4000

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
class JoinRequest:
    """``REQUEST_POLY_AGENT_JOIN``: the client asks the virtual agent in (again after a
    reconnect). ``custom`` is the app's own ``metadata.custom`` (its ``client_event_id``
    is echoed back as a receipt), as in every client event."""

    TYPE: ClassVar[str] = "REQUEST_POLY_AGENT_JOIN"
    custom: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMessage:
    """``USER_MESSAGE``: the user's text (non-empty, at most :data:`MAX_TEXT_CHARS`)."""

    TYPE: ClassVar[str] = "USER_MESSAGE"
    text: str
    custom: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTyping:
    """``USER_TYPING``: the user started or stopped typing."""

    TYPE: ClassVar[str] = "USER_TYPING"
    typing: bool
    custom: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class EndRequest:
    """``USER_END_SESSION``: the user ends the session."""

    TYPE: ClassVar[str] = "USER_END_SESSION"
    custom: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """``HEARTBEAT``: keeps the session alive; echoed back."""

    TYPE: ClassVar[str] = "HEARTBEAT"
    custom: Mapping[str, Any] = field(default_factory=dict)


ClientEvent = JoinRequest | UserMessage | UserTyping | EndRequest | Heartbeat
CLIENT_TYPES = frozenset(
    t.TYPE for t in (JoinRequest, UserMessage, UserTyping, EndRequest, Heartbeat)
)


def _typing_state(typing: bool) -> str:
    return TYPING_STARTED if typing else TYPING_STOPPED


def decode_client(frame: str | bytes) -> ClientEvent:
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
    custom = custom or {}
    if short == UserMessage.TYPE:
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidEvent("USER_MESSAGE: 'text' must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidEvent(f"USER_MESSAGE: 'text' is over {MAX_TEXT_CHARS} characters")
        return UserMessage(text=text, custom=custom)
    if short == UserTyping.TYPE:
        state = payload.get("state")
        if state not in (TYPING_STARTED, TYPING_STOPPED):
            raise InvalidEvent(f"USER_TYPING: 'state' must be {TYPING_STARTED} or {TYPING_STOPPED}")
        return UserTyping(typing=state == TYPING_STARTED, custom=custom)
    if short == JoinRequest.TYPE:
        return JoinRequest(custom=custom)
    if short == EndRequest.TYPE:
        return EndRequest(custom=custom)
    return Heartbeat(custom=custom)


def client_payload(event: ClientEvent) -> dict[str, Any]:
    """The wire payload of a client event."""
    match event:
        case UserMessage():
            return {"text": event.text}
        case UserTyping():
            return {"state": _typing_state(event.typing)}
        case JoinRequest() | EndRequest() | Heartbeat():
            return {}
        case _:
            assert_never(event)


def encode_client_event(event: ClientEvent) -> str:
    """The client frame of ``event`` (:func:`decode_client` gives it back)."""
    msg: dict[str, Any] = {"type": wire_type(event.TYPE), "payload": client_payload(event)}
    if event.custom:
        msg["metadata"] = {"custom": dict(event.custom)}
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))


def encode_client(
    short: str, payload: dict[str, Any] | None = None, *, client_event_id: str | None = None
) -> str:
    """A client frame from its short type and raw payload (for SDKs, and tests that send
    what no :data:`ClientEvent` can hold)."""
    msg: dict[str, Any] = {"type": wire_type(short), "payload": payload or {}}
    if client_event_id is not None:
        msg["metadata"] = {"custom": {"client_event_id": client_event_id}}
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))


def client_event_id(event: ClientEvent) -> str | None:
    value = event.custom.get("client_event_id")
    return value if isinstance(value, str) else None


def receipt(custom: Mapping[str, Any]) -> dict[str, Any] | None:
    """Metadata echoing the app's ``client_event_id`` (a delivery receipt), if it sent one."""
    value = custom.get("client_event_id")
    return {"custom": {"client_event_id": value}} if isinstance(value, str) else None


# --- server → client: what happens in a session ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStart:
    """First in every session's log: what the server offers."""

    TYPE: ClassVar[str] = "SESSION_START"
    streaming: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentJoined:
    """The virtual agent is in the chat (at the start, and when it takes a chat back)."""

    TYPE: ClassVar[str] = "POLY_AGENT_JOINED"
    agent_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentThinking:
    TYPE: ClassVar[str] = "POLY_AGENT_THINKING"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessage:
    """One whole message of the virtual agent."""

    TYPE: ClassVar[str] = "POLY_AGENT_MESSAGE"
    message_id: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessageChunk:
    """One streamed piece of an agent message (``chunk_index`` from 1); the last one is
    empty with ``is_complete`` and carries the attachments and suggestions."""

    TYPE: ClassVar[str] = "POLY_AGENT_MESSAGE_CHUNK"
    message_id: str
    text: str
    chunk_index: int
    is_complete: bool
    attachments: tuple[Attachment, ...] = ()
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTriggeredHandoff:
    """The virtual agent decided to hand the chat to a human."""

    TYPE: ClassVar[str] = "POLY_AGENT_TRIGGERED_HANDOFF"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLeft:
    TYPE: ClassVar[str] = "POLY_AGENT_LEFT"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffAccepted:
    """Someone is signed in to ``queue``: the chat waits there."""

    TYPE: ClassVar[str] = "HANDOFF_ACCEPTED"
    queue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffFailed:
    """Nobody is signed in to ``queue``."""

    TYPE: ClassVar[str] = "HANDOFF_FAILED"
    queue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffTimeout:
    """Nobody took the chat within the queue's limit."""

    TYPE: ClassVar[str] = "HANDOFF_TIMEOUT"
    queue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffQueueStatus:
    """Where the chat is in line (``position`` from 1), and the estimated wait."""

    TYPE: ClassVar[str] = "HANDOFF_QUEUE_STATUS"
    queue: str
    position: int
    estimated_wait_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveAgentJoined:
    TYPE: ClassVar[str] = "LIVE_AGENT_JOINED"
    agent_id: str
    agent_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveAgentMessage:
    TYPE: ClassVar[str] = "LIVE_AGENT_MESSAGE"
    message_id: str
    agent_id: str
    text: str
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveAgentTyping:
    TYPE: ClassVar[str] = "LIVE_AGENT_TYPING"
    agent_id: str
    typing: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveAgentLeft:
    TYPE: ClassVar[str] = "LIVE_AGENT_LEFT"
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMessageLogged:
    """The user's message as the log keeps it (and other sockets of the session see)."""

    TYPE: ClassVar[str] = "USER_MESSAGE"
    message_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserTypingShown:
    """The user typing, as the live agent sees it."""

    TYPE: ClassVar[str] = "USER_TYPING"
    typing: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatEcho:
    TYPE: ClassVar[str] = "HEARTBEAT"


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemMessage:
    """A notice to one connection (an ``ERROR`` answers its mistake)."""

    TYPE: ClassVar[str] = "SYSTEM_MESSAGE"
    level: Level
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnd:
    """Last in every ended session's log."""

    TYPE: ClassVar[str] = "SESSION_END"
    reason: EndReason


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuesChanged:
    """Internal, never sent to a client: a tenant's handoff queues changed (consoles
    redraw them)."""

    TYPE: ClassVar[str] = "QUEUES_CHANGED"


SessionEvent = (
    SessionStart
    | AgentJoined
    | AgentThinking
    | AgentMessage
    | AgentMessageChunk
    | AgentTriggeredHandoff
    | AgentLeft
    | HandoffAccepted
    | HandoffFailed
    | HandoffTimeout
    | HandoffQueueStatus
    | LiveAgentJoined
    | LiveAgentMessage
    | LiveAgentTyping
    | LiveAgentLeft
    | UserMessageLogged
    | UserTypingShown
    | HeartbeatEcho
    | SystemMessage
    | SessionEnd
    | QueuesChanged
)
TRANSIENT_TYPES = frozenset(
    t.TYPE for t in (HeartbeatEcho, UserTypingShown, LiveAgentTyping, SystemMessage)
)
"""Server events sent with ``sequence: null`` and not kept in the session's log (typing
and heartbeats; system messages answer one connection's mistakes)."""


def attachment_payload(attachment: Attachment) -> dict[str, str]:
    kind = "IMAGE" if attachment.content_type == "image" else "URL"
    return {
        "title": attachment.title,
        "preview_image_url": attachment.preview_image_url,
        "content_url": attachment.content_url,
        "content_type": f"ATTACHMENT_CONTENT_TYPE_{kind}",
        "call_to_action_text": attachment.call_to_action_text,
    }


def _suggestions(suggestions: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"message_text": s} for s in suggestions]


def _attachments(attachments: tuple[Attachment, ...]) -> list[dict[str, str]]:
    return [attachment_payload(a) for a in attachments]


def to_log(event: SessionEvent) -> tuple[str, dict[str, Any]]:
    """The short wire type and the payload of ``event``, as logged and sent."""
    return event.TYPE, payload_of(event)


def payload_of(event: SessionEvent) -> dict[str, Any]:
    """The wire payload of ``event``."""
    match event:
        case SessionStart():
            return {
                "capabilities": {
                    "streaming": event.streaming,
                    "max_message_size_bytes": MAX_MESSAGE_BYTES,
                    "max_reconnect_attempts": MAX_RECONNECT_ATTEMPTS,
                    "heartbeat_interval_seconds": HEARTBEAT_INTERVAL_S,
                }
            }
        case AgentJoined():
            return {"agent_name": event.agent_name, "agent_avatar_url": ""}
        case AgentMessage():
            return {
                "message_id": event.message_id,
                "text": event.text,
                "attachments": _attachments(event.attachments),
                "response_suggestions": _suggestions(event.suggestions),
            }
        case AgentMessageChunk():
            return {
                "message_id": event.message_id,
                "text": event.text,
                "chunk_index": event.chunk_index,
                "is_complete": event.is_complete,
                "attachments": _attachments(event.attachments),
                "response_suggestions": _suggestions(event.suggestions),
            }
        case AgentTriggeredHandoff():
            return {"reason": "AGENT_DECISION"}
        case HandoffAccepted() | HandoffFailed() | HandoffTimeout():
            return {"queue_name": event.queue}
        case HandoffQueueStatus():
            return {
                "queue_name": event.queue,
                "position_in_queue": event.position,
                "estimated_wait_seconds": event.estimated_wait_s,
            }
        case LiveAgentJoined():
            return {"agent": {"id": event.agent_id, "name": event.agent_name, "avatar_url": ""}}
        case LiveAgentMessage():
            return {
                "message_id": event.message_id,
                "agent_id": event.agent_id,
                "text": event.text,
                "attachments": [],
                "response_suggestions": _suggestions(event.suggestions),
            }
        case LiveAgentTyping():
            return {"state": _typing_state(event.typing), "agent_id": event.agent_id}
        case LiveAgentLeft():
            return {"agent_id": event.agent_id}
        case UserMessageLogged():
            return {"message_id": event.message_id, "text": event.text}
        case UserTypingShown():
            return {"state": _typing_state(event.typing)}
        case SystemMessage():
            return {"level": f"SYSTEM_MESSAGE_LEVEL_{event.level}", "message": event.message}
        case SessionEnd():
            return {"reason": event.reason}
        case AgentThinking() | AgentLeft() | HeartbeatEcho() | QueuesChanged():
            return {}
        case _:
            assert_never(event)


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
