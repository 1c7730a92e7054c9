"""The Atoms-compatible realtime agent protocol (``/atoms/v1/agent/connect``).

Pure: no I/O, no clock. Vendor field names stay in this module. ``decode`` raises
:class:`~voxgate.errors.InvalidEvent` for a malformed frame; the caller answers with
``encode(Error(code=exc.code, ...))`` and carries on.

The client side uses the inverse pair: ``encode_client`` for what it sends and
``decode_server`` (also raising :class:`~voxgate.errors.InvalidEvent`) for what it gets.
The register-call REST bodies are here too (pydantic models: validation, no I/O).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, assert_never

from pydantic import BaseModel, Field

from voxgate.audio.pcm import SUPPORTED_RATES, b64decode_strict, b64encode
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
    InterruptRequested,
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

Mode = Literal["webcall", "chat"]
DEFAULT_SAMPLE_RATE = 24000
RESERVED_VARIABLES = frozenset(
    {
        "call_id",
        "conversation_type",
        "agent_number",
        "user_number",
        "current_date",
        "current_time",
        "current_day",
        "agent_gender",
        "default_language",
        "supported_languages",
        "timezone",
    }
)
Variables = dict[str, str | int | float | bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectParams:
    """What the connect URL asks for (credentials are handled by the server)."""

    agent_id: str | None
    mode: Mode
    sample_rate: int
    variables: Variables


def parse_mode(value: str | None) -> Mode:
    if value in (None, "", "webcall"):
        return "webcall"
    if value == "chat":
        return "chat"
    raise SetupError(f"mode must be 'webcall' or 'chat', not {value!r}")


def parse_sample_rate(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_SAMPLE_RATE
    try:
        rate = int(value)
    except ValueError:
        rate = -1
    if rate not in SUPPORTED_RATES:
        allowed = ", ".join(map(str, SUPPORTED_RATES))
        raise SetupError(f"sample_rate must be one of {allowed}, not {value!r}")
    return rate


def parse_variables(value: str | Mapping[str, Any] | None) -> Variables:
    """Validate a variables object (JSON text or mapping); reserved keys are dropped."""
    if value in (None, ""):
        return {}
    raw: Any = value
    if isinstance(value, str):
        try:
            raw = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SetupError(f"variables must be a JSON object: {exc.msg}") from None
    if not isinstance(raw, Mapping):
        raise SetupError("variables must be a JSON object")
    out: Variables = {}
    for key, val in raw.items():
        if not isinstance(val, str | int | float | bool) or val is None:
            raise SetupError(f"variable {key!r} must be a string, number or boolean")
        if key not in RESERVED_VARIABLES:
            out[str(key)] = val
    return out


def parse_connect_params(query: Mapping[str, str]) -> ConnectParams:
    """Validate the connect URL's query. Raises :class:`SetupError` (close 4000)."""
    return ConnectParams(
        agent_id=query.get("agent_id") or None,
        mode=parse_mode(query.get("mode")),
        sample_rate=parse_sample_rate(query.get("sample_rate")),
        variables=parse_variables(query.get("variables")),
    )


# --- register-call (REST) -----------------------------------------------------------------


class RegisterCallRequest(BaseModel):
    """The body of ``POST /atoms/v1/conversation/register-call``."""

    agent_id: str = Field(min_length=1, max_length=200)
    mode: Mode = "webcall"
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)


class RegisterCallData(BaseModel):
    access_token: str
    expires_in: int
    sample_rate: int


class RegisterCallResponse(BaseModel):
    status: bool = True
    data: RegisterCallData


# --- realtime frames ----------------------------------------------------------------------


def _field(msg: Mapping[str, Any], name: str, kind: str) -> str:
    value = msg.get(name)
    if value is None:
        raise InvalidEvent(f"{kind}: missing field {name!r}")
    if not isinstance(value, str):
        raise InvalidEvent(f"{kind}: field {name!r} must be a string")
    return value


def _load(frame: str | bytes) -> dict[str, Any]:
    """Parse one frame as a JSON object; raises :class:`InvalidEvent`."""
    try:
        msg = json.loads(frame)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise InvalidEvent(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise InvalidEvent("malformed JSON: nested too deeply") from None
    if not isinstance(msg, dict):
        raise InvalidEvent("an event must be a JSON object")
    return msg


def decode(frame: str | bytes) -> list[ClientEvent]:
    """Decode one client frame (JSON in a TEXT or BINARY message)."""
    msg = _load(frame)
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise InvalidEvent("missing or non-string 'type'")
    match kind:
        case "input_audio_buffer.append":
            try:
                pcm = b64decode_strict(_field(msg, "audio", kind))
            except ValueError as exc:
                raise InvalidEvent(f"{kind}: 'audio' is not valid base64 ({exc})") from None
            return [AudioIn(pcm=pcm)]
        case "input_text.send":
            text = _field(msg, "text", kind)
            if not text.strip():
                raise InvalidEvent(f"{kind}: 'text' must not be empty")
            return [TextIn(text=text)]
        case "session.close":
            return [CloseRequested()]
        case "input_audio_buffer.commit" | "session.update":
            return [Ignored(type=kind)]
        case "session.pause":  # voxgate extension
            return [PauseRequested()]
        case "session.resume":  # voxgate extension
            return [ResumeRequested()]
        case _:
            raise InvalidEvent(f"unknown event type {kind[:64]!r}")


def _json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def encode(event: ServerEvent) -> list[str]:
    """Encode a server event as TEXT frames (none for events this protocol lacks)."""
    match event:
        case SessionStarted():
            return [
                _json(
                    {
                        "type": "session.created",
                        "session_id": event.session_id,
                        "call_id": event.call_id,
                        "sample_rate": event.sample_rate,
                        "channels": event.channels,
                    }
                )
            ]
        case AgentAudio():
            return [_json({"type": "output_audio.delta", "audio": b64encode(event.pcm)})]
        case TranscriptDelta():
            return [_json({"type": "transcript.delta", "role": event.role, "text": event.text})]
        case Transcript():
            return [_json({"type": "transcript", "role": event.role, "text": event.text})]
        case AgentTalking():
            kind = "agent_start_talking" if event.talking else "agent_stop_talking"
            return [_json({"type": kind, "timestamp": event.at.isoformat()})]
        case Interruption():
            return [_json({"type": "interruption"})]
        case SessionEnded():
            # The vendor has no reason for a server shutdown; its clients know "ended".
            # The vendor's clients know three reasons; ours map onto "ended".
            reason = (
                "ended"
                if event.reason in ("server_shutdown", "handoff", "timeout")
                else event.reason
            )
            return [_json({"type": "session.closed", "reason": reason})]
        case Error():
            return [_json({"type": "error", "code": event.code, "message": event.message})]
        case UserSpeechStarted() | ToolCallStatus() | Ready():
            return []
        case _:
            assert_never(event)


# --- client side ------------------------------------------------------------------------


def encode_client(event: ClientEvent) -> str:
    """Encode a client event as one frame (send it as TEXT, or its UTF-8 as BINARY)."""
    match event:
        case AudioIn():
            return _json({"type": "input_audio_buffer.append", "audio": b64encode(event.pcm)})
        case TextIn():
            return _json({"type": "input_text.send", "text": event.text})
        case CloseRequested():
            return _json({"type": "session.close"})
        case Ignored():
            return _json({"type": event.type})
        case PauseRequested():
            return _json({"type": "session.pause"})
        case ResumeRequested():
            return _json({"type": "session.resume"})
        case StartRequested() | InterruptRequested():
            raise ValueError(f"the Atoms protocol has no {type(event).__name__} event")
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


def _int_field(msg: Mapping[str, Any], name: str, kind: str) -> int:
    value = msg.get(name)
    if value is None:
        raise InvalidEvent(f"{kind}: missing field {name!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent(f"{kind}: field {name!r} must be an integer")
    return value


def _role_field(msg: Mapping[str, Any], kind: str) -> Role:
    role = _field(msg, "role", kind)
    if role == "user":
        return "user"
    if role == "assistant":
        return "assistant"
    raise InvalidEvent(f"{kind}: 'role' must be 'user' or 'assistant', not {role[:32]!r}")


def _timestamp_field(msg: Mapping[str, Any], kind: str) -> datetime:
    """An ISO-8601 timestamp; one without an offset is taken as UTC."""
    value = _field(msg, "timestamp", kind)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{kind}: 'timestamp' is not ISO-8601: {value[:40]!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def decode_server(frame: str | bytes) -> ServerEvent:
    """Decode one server frame; the inverse of :func:`encode`. Raises :class:`InvalidEvent`.

    ``transcript`` decodes with ``interrupted=False`` (the wire does not carry it).
    """
    msg = _load(frame)
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise InvalidEvent("missing or non-string 'type'")
    match kind:
        case "session.created":
            return SessionStarted(
                session_id=_field(msg, "session_id", kind),
                call_id=_field(msg, "call_id", kind),
                sample_rate=_int_field(msg, "sample_rate", kind),
                channels=_int_field(msg, "channels", kind),
            )
        case "output_audio.delta":
            try:
                pcm = b64decode_strict(_field(msg, "audio", kind))
            except ValueError as exc:
                raise InvalidEvent(f"{kind}: 'audio' is not valid base64 ({exc})") from None
            return AgentAudio(pcm=pcm)
        case "transcript.delta":
            return TranscriptDelta(role=_role_field(msg, kind), text=_field(msg, "text", kind))
        case "transcript":
            return Transcript(role=_role_field(msg, kind), text=_field(msg, "text", kind))
        case "agent_start_talking" | "agent_stop_talking":
            return AgentTalking(
                talking=kind == "agent_start_talking", at=_timestamp_field(msg, kind)
            )
        case "interruption":
            return Interruption()
        case "session.closed":
            reason = _field(msg, "reason", kind)
            if reason not in _CLOSE_REASONS:
                raise InvalidEvent(f"{kind}: unknown reason {reason[:64]!r}")
            return SessionEnded(reason=_CLOSE_REASONS[reason])
        case "error":
            return Error(code=_field(msg, "code", kind), message=_field(msg, "message", kind))
        case _:
            raise InvalidEvent(f"unknown event type {kind[:64]!r}")


# --- client side: the connect URL ------------------------------------------------------

CONNECT_PATH = "/atoms/v1/agent/connect"


def connect_query(
    *,
    mode: str = "webcall",
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    agent_id: str | None = None,
    variables: Mapping[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """The connect URL's query; :func:`parse_connect_params` reads it back. Values are not
    checked (a client may ask for what the server refuses). Without ``token`` the caller
    sends it in an ``Authorization: Bearer`` header."""
    query = {"mode": mode, "sample_rate": str(sample_rate)}
    if agent_id:
        query["agent_id"] = agent_id
    if variables:
        query["variables"] = json.dumps(variables)
    if token is not None:
        query["token"] = token
    return query
