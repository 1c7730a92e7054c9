"""The queue between a conversation and its transport's single writer task."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from voxgate.events import AgentAudio, ServerEvent, TranscriptDelta


class Outbox:
    """FIFO of server events. The conversation puts; one writer task gets and sends."""

    __slots__ = ("_closed", "_items", "_ready", "_watchers")

    def __init__(self) -> None:
        self._items: deque[ServerEvent] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._watchers: list[asyncio.Queue[ServerEvent | None]] = []

    def put(self, event: ServerEvent) -> None:
        if self._closed:
            return
        self._items.append(event)
        self._ready.set()
        if self._watchers and not isinstance(event, AgentAudio):
            for queue in self._watchers:
                if not queue.full():  # a watcher too slow to keep up misses events
                    queue.put_nowait(event)

    def watch(self, maxsize: int = 1000) -> asyncio.Queue[ServerEvent | None]:
        """A queue that gets a copy of every event but audio (for live dashboards),
        then ``None`` when the session ends. Stop with :meth:`unwatch`."""
        queue: asyncio.Queue[ServerEvent | None] = asyncio.Queue(maxsize)
        if self._closed:
            queue.put_nowait(None)
        else:
            self._watchers.append(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[ServerEvent | None]) -> None:
        if queue in self._watchers:
            self._watchers.remove(queue)

    def drop_reply_audio(self) -> int:
        """Remove queued agent audio and assistant text deltas (barge-in); return the count."""
        before = len(self._items)
        kept = [
            e
            for e in self._items
            if not isinstance(e, AgentAudio)
            and not (isinstance(e, TranscriptDelta) and e.role == "assistant")
        ]
        self._items.clear()
        self._items.extend(kept)
        return before - len(kept)

    def close(self) -> None:
        """No more puts; the writer drains what is queued, then gets ``None``."""
        self._closed = True
        self._ready.set()
        for queue in self._watchers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self._watchers.clear()

    async def get(self) -> ServerEvent | None:
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()
