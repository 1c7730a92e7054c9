"""In-process fan-out of messaging events to the sockets that watch a topic (a session,
or a tenant's console). Persistence is the store's job: a socket that misses something
reads it back from the log with its cursor."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator

from voxgate.dialects.messaging import ServerEvent

QUEUE_LIMIT = 1000
"""Events one slow socket may fall behind by before it is dropped (it reconnects with its
cursor and loses nothing)."""


class Subscription:
    """Events for one socket; :attr:`overflowed` once it fell too far behind."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ServerEvent] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = asyncio.Event()

    def put(self, event: ServerEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed.set()


class Hub:
    def __init__(self) -> None:
        self._topics: defaultdict[str, set[Subscription]] = defaultdict(set)

    def count(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    @contextlib.contextmanager
    def subscribe(self, topic: str) -> Iterator[Subscription]:
        sub = Subscription()
        self._topics[topic].add(sub)
        try:
            yield sub
        finally:
            subs = self._topics.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._topics[topic]

    def publish(self, topic: str, event: ServerEvent) -> None:
        for sub in list(self._topics.get(topic, ())):
            sub.put(event)


def session_topic(session_id: str) -> str:
    """Everything the user's sockets get (and the live agent's console)."""
    return f"session:{session_id}"


def live_topic(session_id: str) -> str:
    """What only the live agent sees: the user typing."""
    return f"live:{session_id}"
