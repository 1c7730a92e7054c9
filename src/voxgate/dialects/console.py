"""The live-agent console's socket protocol (``/console/ws``): JSON objects with a
``type``. Pure: no I/O, no clock.

A request may carry ``ref`` (any string, kept to 100 characters), echoed in its answer.

Console → server (:data:`Request`, from :func:`decode`):

- ``{type: "accept", session_id}``: take a waiting chat → ``chat`` or ``error``.
- ``{type: "message", session_id, text, suggestions?: [str]}`` → ``ok`` or ``error``.
- ``{type: "typing", session_id, state: "started" | "stopped"}`` → nothing, or ``error``.
- ``{type: "end", session_id}``: ``LIVE_AGENT_LEFT`` then ``SESSION_END`` → ``ok`` or
  ``error``.
- ``{type: "calls"}``: the list of handed-over calls again → ``calls``.
- ``{type: "transcript", conversation_id}``: one of those calls → ``transcript`` or
  ``error``.
- ``{type: "ping"}`` → ``pong``.

Server → console (:data:`Reply`, to :func:`encode`):

- ``{type: "hello", user: {id, username, display_name, queues}}`` first.
- ``{type: "queues", queues: [{name, online, waiting: [{session_id, position, waited_s,
  platform, reason}]}]}`` on connect and whenever a queue or who is online changes.
- ``{type: "chat", session_id, platform, agent_id, queue, started_at, ended, transcript:
  [{role, text, at}], events: [messaging events]}``: a chat this console follows, with
  its history (sent on accept, and on connect for the user's chats still live). Events
  are as the user's ``/ws`` sends them (``EVENT_TYPE_…``, with sequence).
- ``{type: "event", session_id, event}``: what happens in a followed chat from then on,
  once each, in order, including the user's transient ``EVENT_TYPE_USER_TYPING``. Ends
  with ``EVENT_TYPE_SESSION_END``.
- ``{type: "calls", calls: [{conversation_id, channel, agent_id, queue, reason,
  started_at, ended_at, turn_count}]}``: calls of the last 24 hours (voice, or the Atoms
  API's text chats) that the agent handed over to one of the user's queues.
- ``{type: "transcript", conversation_id, channel, agent_id, queue, reason, started_at,
  ended_at, turns: [{role, text, at}]}``.
- ``{type: "ok", request, session_id}``, ``{type: "error", code, message, request?,
  session_id?}``, ``{type: "pong"}``.

Error codes: ``bad_request``, ``too_large``, ``not_waiting`` (someone else took it, it
timed out, or it is not in your queues), ``not_your_chat`` (not a live chat of yours),
``not_found`` (no such handed-over call in your queues), ``server_error``. A frame that
cannot be a request raises :class:`BadRequest`, whose :meth:`BadRequest.reply` is the
``error`` to send; the socket goes on.

One concept, the whole vocabulary of one protocol with its codec, so it runs past 500
lines: most of them are the message declarations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeGuard, assert_never

from voxgate.errors import InvalidEvent

MAX_FRAME_BYTES = 64 * 1024
MAX_TEXT_CHARS = 4000
MAX_SUGGESTIONS = 8
MAX_SUGGESTION_CHARS = 200
MAX_ID_CHARS = 100
MAX_REF_CHARS = 100
TYPING_STATES = {
    "started": True,
    "stopped": False,
    "TYPING_STATE_STARTED": True,
    "TYPING_STATE_STOPPED": False,
}
"""Typing states a console may send (its own, or the messaging protocol's)."""

ErrorCode = Literal[
    "bad_request", "too_large", "not_waiting", "not_your_chat", "not_found", "server_error"
]


# --- console → server ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept:
    TYPE: ClassVar[str] = "accept"
    session_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    TYPE: ClassVar[str] = "message"
    session_id: str
    text: str
    suggestions: tuple[str, ...] = ()
    """Stripped, none empty."""
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Typing:
    TYPE: ClassVar[str] = "typing"
    session_id: str
    typing: bool
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class End:
    TYPE: ClassVar[str] = "end"
    session_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListCalls:
    TYPE: ClassVar[str] = "calls"
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetTranscript:
    TYPE: ClassVar[str] = "transcript"
    conversation_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    TYPE: ClassVar[str] = "ping"
    ref: str | None = None


ChatRequest = Accept | Message | Typing | End
"""Requests about one chat (they name its ``session_id``)."""
Request = ChatRequest | ListCalls | GetTranscript | Ping


# --- server → console ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UserView:
    id: str
    username: str
    display_name: str
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitingChat:
    """A chat waiting in a queue (``position`` from 1)."""

    session_id: str
    position: int
    waited_s: float
    platform: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueView:
    """A queue as a console shows it, first in line first."""

    name: str
    online: int
    waiting: tuple[WaitingChat, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One turn of a transcript."""

    role: str
    text: str
    at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSummary:
    conversation_id: str
    channel: str
    agent_id: str
    queue: str
    reason: str
    started_at: datetime | None
    ended_at: datetime | None
    turn_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    TYPE: ClassVar[str] = "hello"
    user: UserView


@dataclass(frozen=True, slots=True, kw_only=True)
class Queues:
    TYPE: ClassVar[str] = "queues"
    queues: tuple[QueueView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Chat:
    """A followed chat with its history; ``events`` are messaging wire events."""

    TYPE: ClassVar[str] = "chat"
    session_id: str
    platform: str
    agent_id: str
    queue: str | None
    started_at: datetime
    ended: bool
    transcript: tuple[Line, ...]
    events: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatEvent:
    """A messaging wire event of a followed chat."""

    TYPE: ClassVar[str] = "event"
    session_id: str
    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Calls:
    TYPE: ClassVar[str] = "calls"
    calls: tuple[CallSummary, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    TYPE: ClassVar[str] = "transcript"
    conversation_id: str
    channel: str
    agent_id: str
    queue: str
    reason: str
    started_at: datetime | None
    ended_at: datetime | None
    turns: tuple[Line, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Ok:
    TYPE: ClassVar[str] = "ok"
    request: str
    session_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """``request``, ``session_id`` and ``ref`` echo what the refused request named."""

    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str
    request: str | None = None
    session_id: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    TYPE: ClassVar[str] = "pong"


Reply = Hello | Queues | Chat | ChatEvent | Calls | Transcript | Ok | Error | Pong


# --- decoding -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Echo:
    """What a refused request named, for its :class:`Error`."""

    request: str | None = None
    session_id: str | None = None
    ref: str | None = None


class BadRequest(InvalidEvent):
    """A console frame that is no valid request. Send :meth:`reply`; the socket goes on."""

    def __init__(self, code: ErrorCode, message: str, echo: Echo | None = None) -> None:
        super().__init__(message)
        self.error_code: ErrorCode = code
        self.echo = echo or Echo()

    def reply(self) -> Error:
        return error(self.error_code, str(self), self.echo)


def error(code: ErrorCode, message: str, echo: Echo | None = None) -> Error:
    echo = echo or Echo()
    return Error(
        code=code, message=message, request=echo.request, session_id=echo.session_id, ref=echo.ref
    )


def echo_of(request: Request) -> Echo:
    """The echo of a decoded request (for an :class:`Error` answering it)."""
    session_id = request.session_id if isinstance(request, ChatRequest) else None
    return Echo(request=request.TYPE, session_id=session_id, ref=request.ref)


def _echo(raw: dict[str, Any]) -> Echo:
    kind, session_id, ref = raw.get("type"), raw.get("session_id"), raw.get("ref")
    return Echo(
        request=kind[:40] if isinstance(kind, str) else None,
        session_id=session_id[:MAX_ID_CHARS] if isinstance(session_id, str) else None,
        ref=ref[:MAX_REF_CHARS] if isinstance(ref, str) else None,
    )


def _message_problem(text: Any, suggestions: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "text must be a non-empty string"
    if len(text) > MAX_TEXT_CHARS:
        return f"text is over {MAX_TEXT_CHARS} characters"
    if not isinstance(suggestions, list) or not all(isinstance(s, str) for s in suggestions):
        return "suggestions must be a list of strings"
    if len(suggestions) > MAX_SUGGESTIONS:
        return f"at most {MAX_SUGGESTIONS} suggestions"
    if any(len(s) > MAX_SUGGESTION_CHARS for s in suggestions):
        return f"a suggestion has at most {MAX_SUGGESTION_CHARS} characters"
    return None


def _short_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS


def decode(frame: str | bytes) -> Request:
    """Decode one console frame. Raises :class:`BadRequest`."""
    size = len(frame.encode() if isinstance(frame, str) else frame)
    if size > MAX_FRAME_BYTES:
        raise BadRequest("too_large", f"a message of {size} bytes is over {MAX_FRAME_BYTES}")
    try:
        raw = json.loads(frame)
    except (ValueError, RecursionError):
        raise BadRequest("bad_request", "malformed JSON") from None
    if not isinstance(raw, dict):
        raise BadRequest("bad_request", "a request must be a JSON object")
    kind = raw.get("type")
    echo = _echo(raw)
    ref = echo.ref
    if kind == Ping.TYPE:
        return Ping(ref=ref)
    if kind == ListCalls.TYPE:
        return ListCalls(ref=ref)
    if kind == GetTranscript.TYPE:
        conversation_id = raw.get("conversation_id")
        if not _short_id(conversation_id):
            raise BadRequest("not_found", "no such handed-over call in your queues", echo)
        return GetTranscript(conversation_id=conversation_id, ref=ref)
    if kind not in (Accept.TYPE, Message.TYPE, Typing.TYPE, End.TYPE):
        shown = kind[:40] if isinstance(kind, str) else kind
        raise BadRequest(
            "bad_request",
            f"unknown request {shown!r}: accept, message, typing, end, calls, transcript or ping",
            echo,
        )
    session_id = raw.get("session_id")
    if not _short_id(session_id):
        raise BadRequest("bad_request", "session_id must be a string", echo)
    if kind == Accept.TYPE:
        return Accept(session_id=session_id, ref=ref)
    if kind == End.TYPE:
        return End(session_id=session_id, ref=ref)
    if kind == Typing.TYPE:
        state = raw.get("state")
        if not isinstance(state, str) or state not in TYPING_STATES:
            raise BadRequest("bad_request", "state must be 'started' or 'stopped'", echo)
        return Typing(session_id=session_id, typing=TYPING_STATES[state], ref=ref)
    text, suggestions = raw.get("text"), raw.get("suggestions") or []
    problem = _message_problem(text, suggestions)
    if problem or not isinstance(text, str):
        raise BadRequest("bad_request", problem or "text must be a string", echo)
    cleaned = tuple(s.strip() for s in suggestions if s.strip())
    return Message(session_id=session_id, text=text, suggestions=cleaned, ref=ref)


def encode_request(request: Request) -> str:
    """The frame of ``request`` (for tests and other consoles; :func:`decode` gives it
    back)."""
    out: dict[str, Any] = {"type": request.TYPE}
    match request:
        case Accept() | End():
            out["session_id"] = request.session_id
        case Message():
            out.update(
                session_id=request.session_id,
                text=request.text,
                suggestions=list(request.suggestions),
            )
        case Typing():
            out.update(
                session_id=request.session_id, state="started" if request.typing else "stopped"
            )
        case GetTranscript():
            out["conversation_id"] = request.conversation_id
        case ListCalls() | Ping():
            pass
        case _:
            assert_never(request)
    if request.ref is not None:
        out["ref"] = request.ref
    return _dumps(out)


# --- encoding -----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _lines(lines: tuple[Line, ...]) -> list[dict[str, Any]]:
    return [{"role": t.role, "text": t.text, "at": _iso(t.at)} for t in lines]


def user_json(user: UserView) -> dict[str, Any]:
    """The user as the console protocol (and the sign-in answers) show it."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "queues": list(user.queues),
    }


def _queue(q: QueueView) -> dict[str, Any]:
    return {
        "name": q.name,
        "online": q.online,
        "waiting": [
            {
                "session_id": w.session_id,
                "position": w.position,
                "waited_s": w.waited_s,
                "platform": w.platform,
                "reason": w.reason,
            }
            for w in q.waiting
        ],
    }


def _call(c: CallSummary) -> dict[str, Any]:
    return {
        "conversation_id": c.conversation_id,
        "channel": c.channel,
        "agent_id": c.agent_id,
        "queue": c.queue,
        "reason": c.reason,
        "started_at": _iso(c.started_at),
        "ended_at": _iso(c.ended_at),
        "turn_count": c.turn_count,
    }


def to_json(reply: Reply) -> dict[str, Any]:
    """The JSON object of ``reply``."""
    out: dict[str, Any] = {"type": reply.TYPE}
    match reply:
        case Hello():
            out["user"] = user_json(reply.user)
        case Queues():
            out["queues"] = [_queue(q) for q in reply.queues]
        case Chat():
            out.update(
                session_id=reply.session_id,
                platform=reply.platform,
                agent_id=reply.agent_id,
                queue=reply.queue,
                started_at=_iso(reply.started_at),
                ended=reply.ended,
                transcript=_lines(reply.transcript),
                events=[dict(e) for e in reply.events],
            )
        case ChatEvent():
            out.update(session_id=reply.session_id, event=dict(reply.event))
        case Calls():
            out["calls"] = [_call(c) for c in reply.calls]
        case Transcript():
            out.update(
                conversation_id=reply.conversation_id,
                channel=reply.channel,
                agent_id=reply.agent_id,
                queue=reply.queue,
                reason=reply.reason,
                started_at=_iso(reply.started_at),
                ended_at=_iso(reply.ended_at),
                turns=_lines(reply.turns),
            )
        case Ok():
            out.update(request=reply.request, session_id=reply.session_id)
            if reply.ref is not None:
                out["ref"] = reply.ref
        case Error():
            out.update(code=reply.code, message=reply.message)
            for name in ("request", "session_id", "ref"):
                value = getattr(reply, name)
                if value is not None:
                    out[name] = value
        case Pong():
            pass
        case _:
            assert_never(reply)
    return out


def encode(reply: Reply) -> str:
    """The frame of ``reply``."""
    return _dumps(to_json(reply))


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
