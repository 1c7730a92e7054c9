"""voxgate.messaging.handoff: the queues alone, with a fake host and a fake clock (no
store, no service)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from voxgate.dialects import messaging as wire
from voxgate.messaging.handoff import (
    FAILED_MESSAGE,
    TIMEOUT_MESSAGE,
    Queues,
    console_topic,
)
from voxgate.messaging.hub import Hub
from voxgate.messaging.states import SessionState, transition
from voxgate.store import ConsoleUser, MessagingSession

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def session(n: int, tenant: str = "t1") -> MessagingSession:
    return MessagingSession(
        id=f"msg_{n}",
        tenant_id=tenant,
        connector_id="c",
        agent_id="a",
        conversation_id=f"conv_{n}",
        platform="ios",
        streaming=False,
        device_type=None,
        state="agent",
        queue_name=None,
        live_agent_id=None,
        created_at=AT,
        last_activity_at=AT,
        ended_at=None,
        end_reason=None,
    )


def user(name: str = "ann", queues: tuple[str, ...] = ("default",)) -> ConsoleUser:
    return ConsoleUser(
        id=f"cu_{name}",
        tenant_id="t1",
        username=name,
        display_name=name.title(),
        queues=queues,
        created_at=AT,
    )


class FakeHost:
    """Records what the queues ask for, and keeps each session's state by the table."""

    def __init__(self) -> None:
        self.events: list[tuple[str, wire.SessionEvent]] = []
        self.states: dict[str, SessionState] = {}
        self.comebacks: list[tuple[str, str]] = []
        self._locks: dict[str, asyncio.Lock] = {}

    def session_lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def record(self, session: MessagingSession, event: wire.SessionEvent) -> object:
        self.events.append((session.id, event))
        return event

    async def set_state(
        self,
        session: MessagingSession,
        to: SessionState,
        *,
        current: SessionState,
        queue_name: str | None = None,
        live_agent_id: str | None = None,
    ) -> None:
        assert self.states.get(session.id, SessionState.AGENT) == current
        self.states[session.id] = transition(current, to)

    async def comeback(self, session: MessagingSession, message: str) -> None:
        self.comebacks.append((session.id, message))

    def of(self, session_id: str) -> list[wire.SessionEvent]:
        return [e for sid, e in self.events if sid == session_id]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(timeout_s: float = 60.0) -> tuple[Queues, FakeHost, Hub, Clock]:
    host, hub, clock = FakeHost(), Hub(), Clock()
    return Queues(host, hub, timeout_for=lambda _s: timeout_s, clock=clock), host, hub, clock


async def test_nobody_signed_in_fails_and_the_agent_comes_back() -> None:
    queues, host, _hub, _clock = make()
    await queues.request(session(1), "default", "wants a human")
    assert host.of("msg_1") == [
        wire.AgentTriggeredHandoff(),
        wire.AgentLeft(),
        wire.HandoffFailed(queue="default"),
    ]
    assert host.comebacks == [("msg_1", FAILED_MESSAGE)]
    assert "msg_1" not in host.states  # never left "agent"


async def test_positions_estimates_and_accept() -> None:
    queues, host, hub, clock = make()
    ann = user()
    with hub.subscribe(console_topic("t1")) as changes:
        queues.sign_in(ann)
        assert changes.queue.get_nowait().type == wire.QueuesChanged.TYPE
    for n in (1, 2):
        await queues.request(session(n), "default", "human")
    assert host.of("msg_2")[-1] == wire.HandoffQueueStatus(
        queue="default", position=2, estimated_wait_s=120
    )
    clock.now += 30
    view = queues.view(ann)
    assert [(w.session_id, w.position, w.waited_s) for w in view[0].waiting] == [
        ("msg_1", 1, 30.0),
        ("msg_2", 2, 30.0),
    ]
    taken = await queues.accept(ann, "msg_1")
    assert taken is not None and taken.id == "msg_1"
    assert host.states["msg_1"] is SessionState.LIVE
    assert host.of("msg_1")[-1] == wire.LiveAgentJoined(agent_id=ann.id, agent_name="Ann")
    # msg_2 moved up, and the estimate now uses the 30 s that msg_1 waited.
    assert host.of("msg_2")[-1] == wire.HandoffQueueStatus(
        queue="default", position=1, estimated_wait_s=30
    )
    assert await queues.accept(ann, "msg_1") is None  # taken already
    assert await queues.accept(user("bob", ("billing",)), "msg_2") is None  # not their queue
    await queues.leave("msg_2")
    assert queues.view(ann)[0].waiting == ()


async def test_nobody_accepts_in_time() -> None:
    queues, host, _hub, _clock = make(timeout_s=0.01)
    queues.sign_in(user())
    await queues.request(session(1), "default", "human")
    for _ in range(100):
        if host.comebacks:
            break
        await asyncio.sleep(0.01)
    assert host.of("msg_1")[-1] == wire.HandoffTimeout(queue="default")
    assert host.states["msg_1"] is SessionState.AGENT
    assert host.comebacks == [("msg_1", TIMEOUT_MESSAGE)]
    assert queues.view(user())[0].waiting == ()


async def test_consoles_count_once_per_user() -> None:
    queues, _host, _hub, _clock = make()
    ann = user()
    queues.sign_in(ann)
    queues.sign_in(ann)  # a second tab
    assert queues.online("t1", "default") == 1
    queues.sign_out(ann)
    assert queues.online("t1", "default") == 1
    queues.sign_out(ann)
    assert queues.online("t1", "default") == 0
