"""Handoff to humans: named queues per tenant, who is signed in to them, and the
documented event sequence.

``POLY_AGENT_TRIGGERED_HANDOFF`` → ``POLY_AGENT_LEFT`` → ``HANDOFF_ACCEPTED`` →
``HANDOFF_QUEUE_STATUS``… → ``LIVE_AGENT_JOINED`` → live messages → ``LIVE_AGENT_LEFT`` →
``SESSION_END``. Nobody signed in to the queue → ``HANDOFF_FAILED``; nobody accepts
within the queue's limit → ``HANDOFF_TIMEOUT``. In both cases the virtual agent comes
back and says so.

The queues need only a narrow :class:`HandoffHost` (the messaging service is one): it
logs events, moves the session's state, and brings the virtual agent back.

Queues live in this process (one server; a shared queue across processes would need
Redis). The session's state and every event are in the store, so a restart loses no
conversation, only the places in line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voxgate.dialects import messaging as wire
from voxgate.dialects.console import QueueView, WaitingChat
from voxgate.messaging.hub import Hub
from voxgate.messaging.log import transient
from voxgate.messaging.states import SessionState
from voxgate.store import ConsoleUser, MessagingSession

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 60.0
"""Estimated handling time per person ahead while there is no history yet."""
RECENT = 20
"""Waits remembered per queue for the estimate."""
FAILED_MESSAGE = (
    "I'm sorry, nobody is available to take over right now. I can keep helping you here."
)
TIMEOUT_MESSAGE = "I'm sorry, nobody could take your chat in time. I can keep helping you here."

QueueKey = tuple[str, str]
"""(tenant id, queue name)."""


def console_topic(tenant_id: str) -> str:
    """Where consoles of a tenant hear that queues changed."""
    return f"console:{tenant_id}"


class HandoffHost(Protocol):
    """What the queues need of the messaging service."""

    def session_lock(self, session_id: str) -> asyncio.Lock:
        """Held while a session's events are written."""
        ...

    async def record(self, session: MessagingSession, event: wire.SessionEvent) -> object:
        """Append ``event`` to the session's log and send it to its sockets."""
        ...

    async def set_state(
        self,
        session: MessagingSession,
        to: SessionState,
        *,
        current: SessionState,
        queue_name: str | None = None,
        live_agent_id: str | None = None,
    ) -> None:
        """Move the session from ``current`` to ``to`` (an allowed transition)."""
        ...

    async def comeback(self, session: MessagingSession, message: str) -> None:
        """The virtual agent takes the chat back and says ``message``."""
        ...


@dataclass
class Waiting:
    session: MessagingSession
    queue: str
    reason: str
    since: float
    """Monotonic seconds when it joined the queue."""
    timer: asyncio.Task[None] | None = None


class Queues:
    """The handoff queues of one server process."""

    def __init__(
        self,
        host: HandoffHost,
        hub: Hub,
        *,
        timeout_for: Callable[[MessagingSession], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.hub = hub
        self.timeout_for = timeout_for
        self.clock = clock
        self._online: defaultdict[QueueKey, dict[str, int]] = defaultdict(dict)
        self._waiting: defaultdict[QueueKey, list[Waiting]] = defaultdict(list)
        self._waits: defaultdict[QueueKey, deque[float]] = defaultdict(lambda: deque(maxlen=RECENT))
        self._lock = asyncio.Lock()

    # --- consoles -------------------------------------------------------------------------

    def sign_in(self, user: ConsoleUser) -> None:
        """A console of ``user`` is open (count one per open console)."""
        for queue in user.queues:
            online = self._online[(user.tenant_id, queue)]
            online[user.id] = online.get(user.id, 0) + 1
        self._changed(user.tenant_id)

    def sign_out(self, user: ConsoleUser) -> None:
        for queue in user.queues:
            online = self._online[(user.tenant_id, queue)]
            left = online.get(user.id, 0) - 1
            if left > 0:
                online[user.id] = left
            else:
                online.pop(user.id, None)
        self._changed(user.tenant_id)

    def online(self, tenant_id: str, queue: str) -> int:
        return len(self._online.get((tenant_id, queue), {}))

    def view(self, user: ConsoleUser) -> list[QueueView]:
        """The queues ``user`` works, with who waits in them, first in line first."""
        now = self.clock()
        return [
            QueueView(
                name=name,
                online=self.online(user.tenant_id, name),
                waiting=tuple(
                    WaitingChat(
                        session_id=w.session.id,
                        position=position,
                        waited_s=round(now - w.since, 1),
                        platform=w.session.platform,
                        reason=w.reason,
                    )
                    for position, w in enumerate(self._waiting.get((user.tenant_id, name), []), 1)
                ),
            )
            for name in user.queues
        ]

    def _changed(self, tenant_id: str) -> None:
        self.hub.publish(console_topic(tenant_id), transient(wire.QueuesChanged()))

    # --- the user's side ------------------------------------------------------------------

    def estimate(self, key: QueueKey, position: int) -> int:
        """Seconds until someone takes a chat now at ``position`` (from recent waits)."""
        waits = self._waits.get(key)
        per_person = sum(waits) / len(waits) if waits else DEFAULT_WAIT_S
        agents = max(1, self.online(*key))
        return round(per_person * position / agents)

    async def request(self, session: MessagingSession, queue: str, reason: str) -> None:
        """The virtual agent hands over (called with the session's lock held)."""
        host = self.host
        await host.record(session, wire.AgentTriggeredHandoff())
        await host.record(session, wire.AgentLeft())
        key = (session.tenant_id, queue)
        if self.online(*key) == 0:
            await host.record(session, wire.HandoffFailed(queue=queue))
            await host.comeback(session, FAILED_MESSAGE)
            return
        await host.record(session, wire.HandoffAccepted(queue=queue))
        await host.set_state(
            session, SessionState.QUEUED, current=SessionState.AGENT, queue_name=queue
        )
        waiting = Waiting(session=session, queue=queue, reason=reason, since=self.clock())
        async with self._lock:
            self._waiting[key].append(waiting)
            position = len(self._waiting[key])
        waiting.timer = asyncio.create_task(self._expire(waiting, self.timeout_for(session)))
        await self._statuses(key, position)  # those ahead did not move
        self._changed(session.tenant_id)

    async def _statuses(self, key: QueueKey, from_position: int = 1) -> None:
        """Tell everyone in the queue from ``from_position`` on where they are."""
        for position, w in enumerate(list(self._waiting.get(key, [])), 1):
            if position < from_position:
                continue
            status = wire.HandoffQueueStatus(
                queue=w.queue, position=position, estimated_wait_s=self.estimate(key, position)
            )
            await self.host.record(w.session, status)

    async def _remove(self, session_id: str) -> tuple[Waiting, int] | None:
        async with self._lock:
            for waiting_list in self._waiting.values():
                for position, w in enumerate(waiting_list, 1):
                    if w.session.id == session_id:
                        waiting_list.remove(w)
                        if w.timer is not None and w.timer is not asyncio.current_task():
                            w.timer.cancel()
                        return w, position
        return None

    async def _expire(self, waiting: Waiting, after_s: float) -> None:
        await asyncio.sleep(after_s)
        removed = await self._remove(waiting.session.id)
        if removed is None:
            return
        session = waiting.session
        key = (session.tenant_id, waiting.queue)
        async with self.host.session_lock(session.id):
            await self.host.record(session, wire.HandoffTimeout(queue=waiting.queue))
            await self.host.set_state(session, SessionState.AGENT, current=SessionState.QUEUED)
            await self.host.comeback(session, TIMEOUT_MESSAGE)
        await self._statuses(key, removed[1])
        self._changed(session.tenant_id)

    async def leave(self, session_id: str) -> None:
        """The session ended while it waited."""
        removed = await self._remove(session_id)
        if removed is not None:
            w, position = removed
            await self._statuses((w.session.tenant_id, w.queue), position)
            self._changed(w.session.tenant_id)

    # --- the console's side ---------------------------------------------------------------

    async def accept(self, user: ConsoleUser, session_id: str) -> MessagingSession | None:
        """``user`` takes the chat: ``None`` when it is not waiting in one of their queues
        (someone else took it, or it timed out)."""
        async with self._lock:
            found = None
            for name in user.queues:
                for position, w in enumerate(self._waiting.get((user.tenant_id, name), []), 1):
                    if w.session.id == session_id:
                        found = (w, position)
            if found is None:
                return None
            waiting, position = found
            key = (user.tenant_id, waiting.queue)
            self._waiting[key].remove(waiting)
            if waiting.timer is not None:
                waiting.timer.cancel()
            self._waits[key].append(self.clock() - waiting.since)
        session = waiting.session
        async with self.host.session_lock(session.id):
            await self.host.set_state(
                session,
                SessionState.LIVE,
                current=SessionState.QUEUED,
                queue_name=waiting.queue,
                live_agent_id=user.id,
            )
            joined = wire.LiveAgentJoined(agent_id=user.id, agent_name=user.display_name)
            await self.host.record(session, joined)
        await self._statuses(key, position)
        self._changed(user.tenant_id)
        return session
