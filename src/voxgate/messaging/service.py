"""What happens in a messaging session: client events in, logged server events out.

Every event that belongs to the conversation is appended to the session's log in the store
(which gives it its sequence) and then fanned out to the session's sockets; transient ones
(heartbeat echo, typing, thinking, system messages) go out with ``sequence: null`` and are
not kept. One lock per session keeps its events in the order they happened.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, assert_never

from voxgate.agents.base import (
    Agent,
    AgentContext,
    Attachment,
    EndCall,
    Handoff,
    HistoryItem,
    ReplyExtras,
    ReplyText,
    ToolStatus,
)
from voxgate.dialects import messaging as wire
from voxgate.dialects.messaging import ClientEvent, ServerEvent, SessionEvent
from voxgate.messaging.handoff import Queues
from voxgate.messaging.hub import Hub, live_topic, session_topic
from voxgate.messaging.log import from_log, transient, utcnow
from voxgate.messaging.states import SessionState, transition
from voxgate.store import ConsoleUser, MessagingSession, NewTurn, Store

log = logging.getLogger(__name__)
WORDS = re.compile(r"\s*\S+")


def split_words(text: str, *, first: bool) -> tuple[list[str], str]:
    """Stream chunks of ``text``: each word with the whitespace before it (none before the
    message's first word), and the trailing whitespace held back for the next piece, so
    the chunks join into exactly the stripped message."""
    words = WORDS.findall(text)
    rest = text[sum(len(w) for w in words) :]
    if first and words:
        words[0] = words[0].lstrip()
    return words, rest


Send = Callable[[ServerEvent], None]
"""Puts one event on one socket (for answers meant for that socket only)."""


class Runtimes(Protocol):
    def runtime(self, agent_id: str) -> Agent: ...


class MessagingService:
    """Shared by every messaging socket of a server process."""

    def __init__(self, store: Store, agents: Runtimes, hub: Hub | None = None) -> None:
        self.store = store
        self.agents = agents
        self.hub = hub or Hub()
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._agent_state: dict[str, dict[str, Any]] = {}
        self.queues = Queues(self, self.hub, timeout_for=self._queue_timeout)

    def _queue_timeout(self, session: MessagingSession) -> float:
        spec = getattr(self.agents.runtime(session.agent_id), "spec", None)
        return float(spec.handoff.timeout_s) if spec is not None else 300.0

    # --- the log --------------------------------------------------------------------------

    async def record(
        self,
        session: MessagingSession,
        event: SessionEvent,
        metadata: dict[str, Any] | None = None,
    ) -> ServerEvent:
        """Append to the session's log, then send to its sockets."""
        type, payload = wire.to_log(event)
        logged = await self.store.append_messaging_event(session.id, type, payload, metadata)
        sent = from_log(logged)
        self.hub.publish(session_topic(session.id), sent)
        return sent

    def announce(self, session: MessagingSession, event: SessionEvent) -> ServerEvent:
        """Send a transient event to the session's sockets (not logged)."""
        sent = transient(event)
        self.hub.publish(session_topic(session.id), sent)
        return sent

    async def backlog(self, session: MessagingSession, after: int) -> list[ServerEvent]:
        """Everything after ``after`` (a new session's log starts with ``SESSION_START``)."""
        events = await self.store.list_messaging_events(session.id, after)
        if after == 0 and not events:
            async with self.session_lock(session.id):
                events = await self.store.list_messaging_events(session.id, 0)
                if not events:
                    type, payload = wire.to_log(wire.SessionStart(streaming=session.streaming))
                    first = await self.store.append_messaging_event(session.id, type, payload)
                    events = [first]
        return [from_log(e) for e in events]

    def session_lock(self, session_id: str) -> asyncio.Lock:
        """Held while a session's events are written, so they stay in order."""
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def set_state(
        self,
        session: MessagingSession,
        to: SessionState,
        *,
        current: SessionState,
        queue_name: str | None = None,
        live_agent_id: str | None = None,
    ) -> None:
        """Move the session from ``current`` to ``to``. Raises
        :class:`~voxgate.messaging.states.IllegalTransition` for a move the table refuses."""
        transition(current, to)
        await self.store.set_messaging_session_state(
            session.id, state=to, queue_name=queue_name, live_agent_id=live_agent_id
        )

    # --- client events --------------------------------------------------------------------

    async def handle(self, session: MessagingSession, event: ClientEvent, reply: Send) -> None:
        """One client event from one socket. ``reply`` answers that socket alone. The work
        is the service's, not the socket's: if the socket dies meanwhile, it still finishes
        (the client reads the result back with its cursor)."""
        task = asyncio.ensure_future(self._handle(session, event, reply))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.shield(task)

    async def _handle(self, session: MessagingSession, event: ClientEvent, reply: Send) -> None:
        receipt = wire.receipt(event.custom)
        match event:
            case wire.Heartbeat():
                reply(transient(wire.HeartbeatEcho(), receipt))
                await self.store.touch_messaging_session(session.id, utcnow())
            case wire.UserTyping():
                await self.store.touch_messaging_session(session.id, utcnow())
                shown = transient(wire.UserTypingShown(typing=event.typing))
                self.hub.publish(live_topic(session.id), shown)
            case wire.JoinRequest():
                async with self.session_lock(session.id):
                    await self._join(session, receipt)
            case wire.UserMessage():
                await self._user_message(session, event.text, receipt)
            case wire.EndRequest():
                async with self.session_lock(session.id):
                    await self.end(session, "REASON_USER_END", receipt)
            case _:
                assert_never(event)

    async def _join(self, session: MessagingSession, receipt: dict[str, Any] | None) -> None:
        if await self._has(session, wire.AgentJoined.TYPE):
            return  # a client that re-sends the join after a reconnect
        agent = self.agents.runtime(session.agent_id)
        await self.record(session, wire.AgentJoined(agent_name=agent_name(agent)), receipt)
        greeting = agent.greeting(await self._context(session))
        if greeting:
            out = Outgoing(self, session)
            await out.add(greeting)
            await out.finish()

    async def _has(self, session: MessagingSession, type: str) -> bool:
        return any(e.type == type for e in await self.store.list_messaging_events(session.id))

    async def _user_message(
        self, session: MessagingSession, text: str, receipt: dict[str, Any] | None
    ) -> None:
        now = utcnow()
        async with self.session_lock(session.id):
            logged = wire.UserMessageLogged(message_id=_message_id(), text=text)
            await self.record(session, logged, receipt)
            await self.store.add_turn(session.conversation_id, _turn("user", text, now))
        current = await self.store.get_messaging_session(session.id)
        if current is None or current.ended_at is not None:
            return
        if current.state == SessionState.AGENT:
            task = asyncio.create_task(self._answer(current, text))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, session: MessagingSession, text: str) -> None:
        """The virtual agent answers ``text``: thinking, then the message (streamed in
        chunks when the session asked for streaming)."""
        try:
            async with self.session_lock(session.id):
                self.announce(session, wire.AgentThinking())
                agent = self.agents.runtime(session.agent_id)
                context = await self._context(session, exclude_last=True)
                out = Outgoing(self, session)
                after: Handoff | EndCall | None = None
                async for part in agent.respond(context, text):
                    match part:
                        case ReplyText():
                            await out.add(part.text)
                        case Handoff() | EndCall():
                            after = part
                        case ReplyExtras():
                            out.extras(part)
                        case ToolStatus():
                            pass
                await out.finish()
                if isinstance(after, EndCall):
                    await self.end(session, "REASON_NATURAL_END", None)
                elif isinstance(after, Handoff):
                    await self.queues.request(session, after.queue, after.reason)
        except Exception:
            log.exception("messaging session %s: the agent could not reply", session.id)
            message = "the agent could not reply; try again"
            self.announce(session, wire.SystemMessage(level="ERROR", message=message))

    async def end(
        self, session: MessagingSession, reason: wire.EndReason, receipt: dict[str, Any] | None
    ) -> None:
        """End the session (call with its lock held)."""
        current = await self.store.get_messaging_session(session.id)
        if current is None or current.ended_at is not None:
            return
        transition(current.state, SessionState.ENDED)
        if current.state == SessionState.QUEUED:
            await self.queues.leave(session.id)
        await self.record(session, wire.SessionEnd(reason=reason), receipt)
        await self.store.end_messaging_session(session.id, reason, utcnow())

    async def comeback(self, session: MessagingSession, message: str) -> None:
        """The virtual agent takes the chat back (handoff failed or timed out; the
        session is in state ``agent``) and says ``message``."""
        agent = self.agents.runtime(session.agent_id)
        await self.record(session, wire.AgentJoined(agent_name=agent_name(agent)))
        out = Outgoing(self, session)
        await out.add(message)
        await out.finish()

    # --- the live agent (console) ---------------------------------------------------------

    async def _live(self, user: ConsoleUser, session_id: str) -> MessagingSession:
        session = await self.store.get_messaging_session(session_id)
        if (
            session is None
            or session.tenant_id != user.tenant_id
            or session.state != SessionState.LIVE
            or session.live_agent_id != user.id
        ):
            raise LookupError(f"{session_id[:80]!r} is not a chat you are in")
        return session

    async def live_message(
        self, user: ConsoleUser, session_id: str, text: str, suggestions: list[str] | None = None
    ) -> None:
        """A human's message to the user. Raises ``LookupError`` if not their chat."""
        session = await self._live(user, session_id)
        text = text.strip()
        if not text:
            raise ValueError("the message is empty")
        async with self.session_lock(session.id):
            message = wire.LiveAgentMessage(
                message_id=_message_id(),
                agent_id=user.id,
                text=text,
                suggestions=tuple(suggestions or ()),
            )
            await self.record(session, message)
            await self.store.add_turn(session.conversation_id, _turn("assistant", text, utcnow()))

    async def live_typing(self, user: ConsoleUser, session_id: str, typing: bool) -> None:
        session = await self._live(user, session_id)
        self.announce(session, wire.LiveAgentTyping(agent_id=user.id, typing=typing))

    async def live_end(self, user: ConsoleUser, session_id: str) -> None:
        """The human ends the chat: ``LIVE_AGENT_LEFT``, then ``SESSION_END``."""
        session = await self._live(user, session_id)
        async with self.session_lock(session.id):
            await self.record(session, wire.LiveAgentLeft(agent_id=user.id))
            await self.end(session, "REASON_NATURAL_END", None)

    async def abandon(self, session: MessagingSession) -> None:
        """Nobody has said anything for the idle timeout: the session ends."""
        async with self.session_lock(session.id):
            await self.end(session, "REASON_USER_ABANDONED", None)

    async def _context(
        self, session: MessagingSession, *, exclude_last: bool = False
    ) -> AgentContext:
        record = await self.store.get_conversation(session.conversation_id, session.tenant_id)
        turns = list(record.turns) if record is not None else []
        if exclude_last and turns and turns[-1].role == "user":
            turns = turns[:-1]
        history = tuple(
            HistoryItem(role="assistant" if t.role == "assistant" else "user", text=t.text)
            for t in turns
        )
        return AgentContext(
            call_id=session.conversation_id,
            channel="messaging",
            variables={},
            history=history,
            tenant_id=session.tenant_id,
            platform=session.platform,
            state=self._agent_state.setdefault(session.id, {}),
        )

    async def sweep(self, idle_timeout_s: float, now: datetime | None = None) -> list[str]:
        """End the sessions idle for ``idle_timeout_s`` (``REASON_USER_ABANDONED``), with
        ``SESSION_END`` in their logs and on their sockets; returns their ids."""
        now = now or utcnow()
        end = wire.SessionEnd(reason="REASON_USER_ABANDONED")
        ended = await self.store.expire_messaging_sessions(
            now - timedelta(seconds=idle_timeout_s), reason=end.reason, at=now
        )
        type, payload = wire.to_log(end)
        for session_id in ended:
            await self.queues.leave(session_id)
            logged = await self.store.append_messaging_event(session_id, type, payload)
            self.hub.publish(session_topic(session_id), from_log(logged))
        return ended

    async def sweep_forever(self, idle_timeout_s: float, every_s: float = 30.0) -> None:
        """Run :meth:`sweep` every ``every_s`` until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.sweep(idle_timeout_s)
            except Exception:
                log.exception("could not end idle messaging sessions")

    async def drain(self) -> None:
        """Let replies in progress finish (shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)


class Outgoing:
    """One agent message on its way out: streamed word by word as its text arrives when
    the session streams (``POLY_AGENT_MESSAGE_CHUNK``, then a last empty chunk with
    ``is_complete``), otherwise one ``POLY_AGENT_MESSAGE`` at the end. Either way the
    text is the same, and it is stored as the assistant's turn."""

    def __init__(self, service: MessagingService, session: MessagingSession) -> None:
        self.service = service
        self.session = session
        self.message_id = _message_id()
        self.pieces: list[str] = []
        self.pending = ""  # whitespace held until the next word
        self.index = 0
        self.suggestions: tuple[str, ...] = ()
        self.attachments: tuple[Attachment, ...] = ()

    def extras(self, extras: ReplyExtras) -> None:
        self.suggestions += extras.suggestions
        self.attachments += extras.attachments

    async def add(self, text: str) -> None:
        self.pieces.append(text)
        if not self.session.streaming:
            return
        words, self.pending = split_words(self.pending + text, first=self.index == 0)
        for word in words:
            self.index += 1
            chunk = wire.AgentMessageChunk(
                message_id=self.message_id, text=word, chunk_index=self.index, is_complete=False
            )
            await self.service.record(self.session, chunk)

    async def finish(self) -> str:
        reply = "".join(self.pieces).strip()
        if self.session.streaming and self.index:
            last = wire.AgentMessageChunk(
                message_id=self.message_id,
                text="",
                chunk_index=self.index + 1,
                is_complete=True,
                attachments=self.attachments,
                suggestions=self.suggestions,
            )
            await self.service.record(self.session, last)
        elif reply:
            message = wire.AgentMessage(
                message_id=self.message_id,
                text=reply,
                attachments=self.attachments,
                suggestions=self.suggestions,
            )
            await self.service.record(self.session, message)
        if reply:
            turn = _turn("assistant", reply, utcnow())
            await self.service.store.add_turn(self.session.conversation_id, turn)
        return reply


def agent_name(agent: Agent) -> str:
    """The agent's display name (its definition's ``name``), else its id."""
    spec = getattr(agent, "spec", None)
    name = getattr(spec, "name", None)
    return name if isinstance(name, str) and name else agent.id


def _message_id() -> str:
    return "msg_" + uuid.uuid4().hex


def _turn(role: Literal["user", "assistant"], text: str, at: datetime) -> NewTurn:
    return NewTurn(
        role=role, text=text, heard_text=None, interrupted=False, started_at=at, ended_at=at
    )
