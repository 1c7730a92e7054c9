"""voxgate.conversation.outbox: FIFO, barge-in dropping, close and drain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from voxgate.conversation.outbox import Outbox
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    Interruption,
    ServerEvent,
    SessionEnded,
    Transcript,
    TranscriptDelta,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


async def drain(outbox: Outbox, n: int) -> list[ServerEvent | None]:
    return [await outbox.get() for _ in range(n)]


async def test_fifo() -> None:
    outbox = Outbox()
    events = [AgentAudio(pcm=bytes([i])) for i in range(5)]
    for event in events:
        outbox.put(event)
    assert await drain(outbox, 5) == events


async def test_get_waits_for_a_put() -> None:
    outbox = Outbox()
    getter = asyncio.create_task(outbox.get())
    await asyncio.sleep(0)  # let the getter block on the empty queue
    assert not getter.done()
    outbox.put(Interruption())
    assert await getter == Interruption()


async def test_drop_reply_audio_removes_only_audio_and_assistant_deltas() -> None:
    outbox = Outbox()
    kept: list[ServerEvent] = [
        AgentTalking(talking=True, at=AT),
        TranscriptDelta(role="user", text="I want"),
        Transcript(role="assistant", text="Sure"),
        Interruption(),
    ]
    outbox.put(kept[0])
    outbox.put(AgentAudio(pcm=b"\x00\x00"))
    outbox.put(kept[1])
    outbox.put(TranscriptDelta(role="assistant", text="Sure,"))
    outbox.put(AgentAudio(pcm=b"\x01\x00"))
    outbox.put(kept[2])
    outbox.put(TranscriptDelta(role="assistant", text="Sure, for"))
    outbox.put(kept[3])
    assert outbox.drop_reply_audio() == 4
    assert await drain(outbox, 4) == kept
    assert outbox.drop_reply_audio() == 0


async def test_drop_reply_audio_on_empty_outbox() -> None:
    outbox = Outbox()
    assert outbox.drop_reply_audio() == 0
    outbox.put(AgentAudio(pcm=b""))
    assert outbox.drop_reply_audio() == 1
    outbox.close()
    assert await outbox.get() is None


async def test_close_drains_then_returns_none() -> None:
    outbox = Outbox()
    outbox.put(Transcript(role="assistant", text="Bye."))
    outbox.put(SessionEnded(reason="ended"))
    outbox.close()
    assert await outbox.get() == Transcript(role="assistant", text="Bye.")
    assert await outbox.get() == SessionEnded(reason="ended")
    assert await outbox.get() is None
    assert await outbox.get() is None  # and stays closed


async def test_put_after_close_is_ignored() -> None:
    outbox = Outbox()
    outbox.close()
    outbox.put(Interruption())
    assert await outbox.get() is None


async def test_close_wakes_a_waiting_getter() -> None:
    outbox = Outbox()
    getter = asyncio.create_task(outbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    outbox.close()
    assert await getter is None


async def test_getter_survives_a_barge_in_that_empties_the_queue() -> None:
    outbox = Outbox()
    outbox.put(AgentAudio(pcm=b"\x00\x00"))
    assert outbox.drop_reply_audio() == 1
    getter = asyncio.create_task(outbox.get())
    await asyncio.sleep(0)
    assert not getter.done()  # the set event from the dropped put must not yield nothing
    outbox.put(Interruption())
    assert await getter == Interruption()
