"""The one internal vocabulary of voxgate: frozen events, a closed union.

Dialects turn wire frames into these and back; the conversation engine consumes the
client events and produces the server events. Match on them with ``assert_never`` in the
fallthrough. Events are validated when built (``ValueError`` on misuse).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Role = Literal["user", "assistant"]
CloseReason = Literal[
    "client_requested", "websocket_closed", "ended", "handoff", "timeout", "server_shutdown"
]

_ROLES = ("user", "assistant")


# --- client → server -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioIn:
    """PCM16LE mono audio at the session's rate. May hold an odd number of bytes."""

    pcm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TextIn:
    """A typed user turn."""

    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("TextIn.text must not be empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRequested:
    """The client asked to end the session."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRequested:
    """The client's first message in dialects that open sessions in-band (Datagrid)."""

    agent_id: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InterruptRequested:
    """Client-side barge-in: stop the current reply now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseRequested:
    """The app lost its audio (a phone call, another app took the device): stop talking,
    drop what was not heard, and do not take the silence that follows for the end of the
    call. A voxgate extension in both dialects."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeRequested:
    """The app has its audio back: listen again (after :class:`PauseRequested`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ignored:
    """A valid client event that has no effect (kept so dialects can acknowledge it)."""

    type: str


ClientEvent = (
    AudioIn
    | TextIn
    | CloseRequested
    | StartRequested
    | InterruptRequested
    | PauseRequested
    | ResumeRequested
    | Ignored
)


# --- server → client -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted:
    session_id: str
    call_id: str
    sample_rate: int
    channels: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAudio:
    """PCM16LE mono audio at the session's rate."""

    pcm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptDelta:
    """Cumulative text of the turn so far (replace, don't append)."""

    role: Role
    text: str

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"bad role {self.role!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """Final text of a turn; for an interrupted assistant turn, what was heard."""

    role: Role
    text: str
    interrupted: bool = False

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"bad role {self.role!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSpeechStarted:
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTalking:
    """The agent started (``talking=True``) or stopped talking."""

    talking: bool
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Interruption:
    """The user barged in; the client must flush its playback queue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStatus:
    tool_name: str
    status: Literal["started", "completed", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """The session can take audio now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One turn of a transcript: for an interrupted assistant turn, what was heard."""

    role: Role
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded:
    reason: CloseReason
    transcript: tuple[Line, ...] = ()
    """The whole conversation, in order (dialects that report it on close)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """Something the peer should know about; the session goes on unless closed after."""

    code: str
    message: str


ServerEvent = (
    SessionStarted
    | AgentAudio
    | TranscriptDelta
    | Transcript
    | UserSpeechStarted
    | AgentTalking
    | Interruption
    | ToolCallStatus
    | Ready
    | SessionEnded
    | Error
)
Event = ClientEvent | ServerEvent
