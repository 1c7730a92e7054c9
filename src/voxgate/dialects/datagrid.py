"""The Datagrid-compatible voice protocol (``/ws/voice``, ``POST /v1/voice``).

Pure: no I/O, no clock. Vendor field names stay in this module. Every message, both ways,
is a JSON ``{"type": …, "payload": {…}}`` envelope; the payload may be absent (``null`` is
taken as absent too). Audio is PCM16LE mono in base64: :data:`INPUT_RATE` from the client,
:data:`OUTPUT_RATE` to it.

``decode`` raises :class:`~voxgate.errors.InvalidEvent` for a malformed frame; the caller
answers with ``encode(Error(code=exc.code, ...))`` and carries on. Ordering rules (``start``
first, ``audio`` only after ``ready``) are the session's job, not this module's.

The client side uses the inverse pair: ``encode_client`` for what it sends and
``decode_server`` (also raising :class:`~voxgate.errors.InvalidEvent`) for what it gets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field

from voxgate.audio.pcm import b64decode_strict, b64encode
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
    Role,
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

INPUT_RATE = 16000
"""Sample rate of the client's audio."""
OUTPUT_RATE = 24000
"""Sample rate of the agent's audio."""
MAX_ID_LENGTH = 200
"""Longest ``agent_id`` / ``conversation_id`` accepted in ``start``."""

_START_IDS = ("agent_id", "conversation_id")
ToolStatus = Literal["started", "completed", "failed"]


# --- shared ------------------------------------------------------------------------------


def _json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _message(kind: str, payload: dict[str, Any] | None = None) -> str:
    return _json({"type": kind} if payload is None else {"type": kind, "payload": payload})


def _load(frame: str | bytes) -> tuple[str, dict[str, Any], Mapping[str, Any]]:
    """Parse one envelope into ``(type, message, payload)``; raises :class:`InvalidEvent`."""
    try:
        msg = json.loads(frame)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise InvalidEvent(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise InvalidEvent("malformed JSON: nested too deeply") from None
    if not isinstance(msg, dict):
        raise InvalidEvent("a message must be a JSON object")
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise InvalidEvent("missing or non-string 'type'")
    payload = msg.get("payload")
    if payload is None:
        payload = {}
    elif not isinstance(payload, dict):
        raise InvalidEvent(f"{kind[:64]}: 'payload' must be a JSON object")
    return kind, msg, payload


def _unknown(kind: str) -> InvalidEvent:
    return InvalidEvent(f"unknown message type {kind[:64]!r}")


def _missing(msg: Mapping[str, Any], name: str, kind: str) -> InvalidEvent:
    # The commonest mistake is a flat message (Atoms/OpenAI style): say where the field goes.
    hint = " (fields go inside 'payload')" if name in msg else ""
    return InvalidEvent(f"{kind}: missing payload field {name!r}{hint}")


def _field(msg: Mapping[str, Any], payload: Mapping[str, Any], name: str, kind: str) -> str:
    value = payload.get(name)
    if value is None:
        raise _missing(msg, name, kind)
    if not isinstance(value, str):
        raise InvalidEvent(f"{kind}: payload field {name!r} must be a string")
    return value


def _audio_field(msg: Mapping[str, Any], payload: Mapping[str, Any], kind: str) -> bytes:
    try:
        return b64decode_strict(_field(msg, payload, "data", kind))
    except ValueError as exc:
        raise InvalidEvent(f"{kind}: 'data' is not valid base64 ({exc})") from None


def _id_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable id, or ``None``."""
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters, not {len(value)}"
    return None


# --- server side: decode client messages, encode server events ---------------------------


def decode(frame: str | bytes) -> list[ClientEvent]:
    """Decode one client frame (JSON in a TEXT or BINARY message).

    Raises :class:`InvalidEvent` (and nothing else) for anything that is not a valid
    client message; unknown extra fields are ignored.
    """
    kind, msg, payload = _load(frame)
    match kind:
        case "start":
            ids: dict[str, str | None] = {}
            for name in _START_IDS:
                value = payload.get(name)
                if value is not None:
                    if not isinstance(value, str):
                        raise InvalidEvent(f"start: payload field {name!r} must be a string")
                    problem = _id_problem(value)
                    if problem is not None:
                        raise InvalidEvent(f"start: {name!r} {problem}")
                ids[name] = value
            return [
                StartRequested(agent_id=ids["agent_id"], conversation_id=ids["conversation_id"])
            ]
        case "audio":
            return [AudioIn(pcm=_audio_field(msg, payload, kind))]
        case "text":
            text = _field(msg, payload, "text", kind)
            if not text.strip():
                raise InvalidEvent("text: 'text' must not be empty")
            return [TextIn(text=text)]
        case "interrupt":
            return [InterruptRequested()]
        case "pause":  # voxgate extension
            return [PauseRequested()]
        case "resume":  # voxgate extension
            return [ResumeRequested()]
        case "stop":
            return [CloseRequested()]
        case _:
            raise _unknown(kind)


def encode(event: ServerEvent) -> list[str]:
    """Encode a server event as TEXT frames (none for events this protocol lacks).

    ``SessionStarted.call_id`` goes out as ``conversation_id``; ``Transcript.interrupted``
    is not carried (its text is already what was heard).
    """
    match event:
        case SessionStarted():
            payload = {"session_id": event.session_id, "conversation_id": event.call_id}
            return [_message("started", payload)]
        case Ready():
            return [_message("ready")]
        case AgentAudio():
            return [_message("audio", {"data": b64encode(event.pcm)})]
        case TranscriptDelta():
            return [
                _message("transcript", {"role": event.role, "text": event.text, "final": False})
            ]
        case Transcript():
            return [_message("transcript", {"role": event.role, "text": event.text, "final": True})]
        case ToolCallStatus():
            return [_message("tool_call", {"tool_name": event.tool_name, "status": event.status})]
        case Interruption():
            return [_message("interrupted")]
        case Error():
            return [_message("error", {"code": event.code, "message": event.message})]
        case SessionEnded():
            # Items hold strings only: the iOS guide casts them to [[String: String]].
            lines = [{"role": line.role, "text": line.text} for line in event.transcript]
            return [_message("ended", {"transcript": lines, "reason": event.reason})]
        case AgentTalking() | UserSpeechStarted():
            return []
        case _:
            assert_never(event)


# --- REST -------------------------------------------------------------------------------


def start_payload(agent_id: str | None, conversation_id: str | None) -> dict[str, str]:
    """The payload of a ``start`` message; ``None`` ids are left out.

    Raises ``ValueError`` for an id that ``decode`` would refuse (blank or too long).
    """
    payload: dict[str, str] = {}
    for name, value in (("agent_id", agent_id), ("conversation_id", conversation_id)):
        if value is None:
            continue
        problem = _id_problem(value)
        if problem is not None:
            raise ValueError(f"{name} {problem}")
        payload[name] = value
    return payload


def start_message(agent_id: str | None, conversation_id: str | None) -> dict[str, Any]:
    """The whole ``start`` message (``start_message`` of ``POST /v1/voice``).

    Raises ``ValueError`` like :func:`start_payload`.
    """
    return {"type": "start", "payload": start_payload(agent_id, conversation_id)}


class VoiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_transcription: bool | None = None
    output_transcription: bool | None = None
    silence_timeout: float | None = Field(default=None, gt=0, le=3600)
    """Seconds without speech from either side after which the call ends."""
    voice_preset: str | None = Field(default=None, max_length=100)


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system_prompt: str | None = Field(default=None, max_length=8000)
    custom_prompt: str | None = Field(default=None, max_length=8000)


class VoiceUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)

    def variables(self) -> dict[str, str]:
        fields = {"user_email": self.email, "user_first_name": self.first_name}
        fields["user_last_name"] = self.last_name
        return {k: v for k, v in fields.items() if v}


class VoiceOptions(BaseModel):
    """What a session opened with ``POST /v1/voice`` asks for."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = Field(default=None, min_length=1, max_length=200)
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)
    config: SessionConfig | None = None
    initial_message: str | None = Field(default=None, min_length=1, max_length=2000)
    """The agent answers this instead of greeting."""
    initial_context: str | None = Field(default=None, max_length=2000)
    ephemeral: bool = False
    """Keep nothing of the conversation after the call."""
    voice_config: VoiceConfig | None = None
    user: VoiceUser | None = None


class StartMessage(BaseModel):
    type: Literal["start"] = "start"
    payload: dict[str, str]


class VoiceSession(BaseModel):
    object: Literal["voice.session"] = "voice.session"
    url: str
    """The WebSocket URL to open, with a single-use token valid for 60 s."""
    agent_id: str
    start_message: StartMessage


# --- client side ------------------------------------------------------------------------


def encode_client(event: ClientEvent) -> str:
    """Encode a client event as one frame (send it as TEXT, or its UTF-8 as BINARY).

    Raises ``ValueError`` for :class:`Ignored` (the protocol has no such message) and for
    a :class:`StartRequested` whose ids :func:`start_payload` refuses.
    """
    match event:
        case StartRequested():
            return _json(start_message(event.agent_id, event.conversation_id))
        case AudioIn():
            return _message("audio", {"data": b64encode(event.pcm)})
        case TextIn():
            return _message("text", {"text": event.text})
        case InterruptRequested():
            return _message("interrupt")
        case PauseRequested():
            return _message("pause")
        case ResumeRequested():
            return _message("resume")
        case CloseRequested():
            return _message("stop")
        case Ignored():
            raise ValueError("the Datagrid protocol has no Ignored message")
        case _:
            assert_never(event)


_CLOSE_REASONS: dict[str, CloseReason] = {
    "client_requested": "client_requested",
    "websocket_closed": "websocket_closed",
    "ended": "ended",
    "handoff": "handoff",
    "timeout": "timeout",
    "server_shutdown": "server_shutdown",
}
_TOOL_STATUSES: dict[str, ToolStatus] = {
    "started": "started",
    "completed": "completed",
    "failed": "failed",
}


def _role(value: object, where: str) -> Role:
    if value == "user":
        return "user"
    if value == "assistant":
        return "assistant"
    shown = repr(value[:32]) if isinstance(value, str) else type(value).__name__
    raise InvalidEvent(f"{where}: 'role' must be 'user' or 'assistant', not {shown}")


def _lines(value: object) -> tuple[Line, ...]:
    if value is None:
        raise InvalidEvent("ended: missing payload field 'transcript'")
    if not isinstance(value, list):
        raise InvalidEvent("ended: 'transcript' must be a list")
    lines: list[Line] = []
    for i, item in enumerate(value):
        where = f"ended: transcript[{i}]"
        if not isinstance(item, dict):
            raise InvalidEvent(f"{where} must be an object")
        role, text = item.get("role"), item.get("text")
        if role is None:
            raise InvalidEvent(f"{where}: missing field 'role'")
        if text is None:
            raise InvalidEvent(f"{where}: missing field 'text'")
        if not isinstance(text, str):
            raise InvalidEvent(f"{where}: 'text' must be a string")
        lines.append(Line(role=_role(role, where), text=text))
    return tuple(lines)


def decode_server(frame: str | bytes) -> ServerEvent:
    """Decode one server frame; the inverse of :func:`encode`. Raises :class:`InvalidEvent`.

    ``started`` decodes with ``sample_rate=OUTPUT_RATE, channels=1`` and ``transcript``
    with ``interrupted=False`` (the wire carries neither). voxgate's own additions may be
    absent, as from the vendor's server: ``ended`` without ``reason`` is ``"ended"`` and
    ``error`` without ``code`` has code ``"error"``.
    """
    kind, msg, payload = _load(frame)
    match kind:
        case "started":
            return SessionStarted(
                session_id=_field(msg, payload, "session_id", kind),
                call_id=_field(msg, payload, "conversation_id", kind),
                sample_rate=OUTPUT_RATE,
            )
        case "ready":
            return Ready()
        case "audio":
            return AgentAudio(pcm=_audio_field(msg, payload, kind))
        case "transcript":
            if payload.get("role") is None:
                raise _missing(msg, "role", kind)
            role = _role(payload["role"], kind)
            text = _field(msg, payload, "text", kind)
            final = payload.get("final")
            if not isinstance(final, bool):
                raise InvalidEvent("transcript: payload field 'final' must be true or false")
            if final:
                return Transcript(role=role, text=text)
            return TranscriptDelta(role=role, text=text)
        case "tool_call":
            name = _field(msg, payload, "tool_name", kind)
            status = _field(msg, payload, "status", kind)
            if status in _TOOL_STATUSES:
                return ToolCallStatus(tool_name=name, status=_TOOL_STATUSES[status])
            allowed = ", ".join(_TOOL_STATUSES)
            raise InvalidEvent(f"tool_call: 'status' must be one of {allowed}, not {status[:32]!r}")
        case "interrupted":
            return Interruption()
        case "error":
            code = payload.get("code")
            if code is None:
                code = "error"
            elif not isinstance(code, str):
                raise InvalidEvent("error: payload field 'code' must be a string")
            return Error(code=code, message=_field(msg, payload, "message", kind))
        case "ended":
            reason = payload.get("reason")
            if reason is None:
                reason = "ended"
            elif not isinstance(reason, str) or reason not in _CLOSE_REASONS:
                shown = repr(reason[:64]) if isinstance(reason, str) else type(reason).__name__
                raise InvalidEvent(f"ended: unknown reason {shown}")
            return SessionEnded(
                reason=_CLOSE_REASONS[reason], transcript=_lines(payload.get("transcript"))
            )
        case _:
            raise _unknown(kind)
