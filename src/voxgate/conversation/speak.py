"""The reply stages of a conversation: think (agent text → sentences), synthesize
(sentences → audio) and play (audio → paced chunks in the outbox), or just write for
a chat. The engine starts one :meth:`ReplyStages.speak` or :meth:`ReplyStages.write`
task per reply and cancels it on barge-in; both may raise whatever the agent or TTS raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never

from voxgate.agents.base import EndCall, Handoff, ReplyExtras, ReplyPart, ReplyText, ToolStatus
from voxgate.audio.pcm import Float32Array, duration_ms, int16_to_float32
from voxgate.audio.resample import StreamResampler
from voxgate.conversation.clock import Clock
from voxgate.conversation.latency import TurnClock
from voxgate.conversation.listen import Listener
from voxgate.conversation.outbox import Outbox
from voxgate.conversation.transcript import Playback, SentenceBuffer
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    CloseReason,
    ToolCallStatus,
    TranscriptDelta,
)
from voxgate.speech.base import VAD_RATE, Synthesizer

CHUNK_MS = 40.0
"""Agent audio is sent in chunks of this length."""


@dataclass(slots=True)
class Reply:
    """The agent turn in progress."""

    timing: TurnClock
    started_at: datetime
    playback: Playback = field(default_factory=Playback)
    answers: list[str] = field(default_factory=list)
    """The user texts this reply answers (re-queued if it is dropped before talking)."""
    generated: list[str] = field(default_factory=list)
    talking: bool = False
    end: CloseReason | None = None
    """End the session with this reason once the reply has been played."""
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class _Segment:
    sentence: str
    pcm: bytes
    """At the playback rate."""
    echo: Float32Array | None
    """The same audio at 16 kHz, for the echo canceller (None: no echo cancelling)."""


class ReplyStages:
    """Runs replies for one call into its outbox."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        clock: Clock,
        playback_rate: int,
        lead_ms: float,
        tts: Synthesizer | None,
        listener: Listener | None,
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._rate = playback_rate
        self._lead_ms = lead_ms
        self._tts = tts
        self._listener = listener

    def set_talking(self, reply: Reply, talking: bool) -> None:
        """Note (and announce) that the agent starts or stops talking."""
        if reply.talking == talking:
            return
        reply.talking = talking
        if self._listener is not None:
            self._listener.detector.agent_talking = talking
        self._outbox.put(AgentTalking(talking=talking, at=self._clock.now()))

    async def write(self, reply: Reply, parts: AsyncIterator[ReplyPart]) -> None:
        """A text reply (chat mode): cumulative deltas. The caller finishes the reply."""
        async for part in parts:
            if isinstance(part, ReplyText):
                if reply.timing.first_text is None:
                    reply.timing.first_text = self._clock.monotonic()
                reply.generated.append(part.text)
                self._outbox.put(TranscriptDelta(role="assistant", text="".join(reply.generated)))
            else:
                self._control(reply, part)

    def _control(self, reply: Reply, part: EndCall | Handoff | ToolStatus | ReplyExtras) -> None:
        """Reply parts that are not text."""
        match part:
            case ReplyExtras():
                pass  # suggestions and attachments are for text channels
            case EndCall():
                reply.end = reply.end or "ended"
            case Handoff():
                reply.end = "handoff"
            case ToolStatus():
                self._outbox.put(ToolCallStatus(tool_name=part.tool_name, status=part.status))
            case _:
                assert_never(part)

    async def speak(self, reply: Reply, parts: AsyncIterator[ReplyPart]) -> None:
        """A spoken reply: text → sentences → TTS → paced audio, as a pipeline. Returns
        once the client has played it all; the caller finishes the reply."""
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        audio: asyncio.Queue[_Segment | None] = asyncio.Queue()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._think(reply, parts, sentences))
            tg.create_task(self._synthesize(reply, sentences, audio))
            tg.create_task(self._play(reply, audio))

    async def _think(
        self, reply: Reply, parts: AsyncIterator[ReplyPart], sentences: asyncio.Queue[str | None]
    ) -> None:
        buf = SentenceBuffer()
        try:
            async for part in parts:
                if isinstance(part, ReplyText):
                    if reply.timing.first_text is None:
                        reply.timing.first_text = self._clock.monotonic()
                    reply.generated.append(part.text)
                    for s in buf.feed(part.text):
                        sentences.put_nowait(s)
                else:
                    self._control(reply, part)
            for s in buf.flush():
                sentences.put_nowait(s)
        finally:
            sentences.put_nowait(None)

    async def _synthesize(
        self,
        reply: Reply,
        sentences: asyncio.Queue[str | None],
        audio: asyncio.Queue[_Segment | None],
    ) -> None:
        tts = self._tts
        assert tts is not None, "a spoken reply needs a synthesizer"
        out = StreamResampler(tts.sample_rate, self._rate)
        # The echo reference straight from the TTS audio: one resampling per sentence.
        echo = None
        if self._listener is not None and self._listener.cancels_echo:
            echo = StreamResampler(tts.sample_rate, VAD_RATE)
        try:
            while (sentence := await sentences.get()) is not None:
                speech = await tts.synthesize(sentence)
                pcm = out.process(speech)
                if reply.timing.first_audio is None:
                    reply.timing.first_audio = self._clock.monotonic()
                ref = int16_to_float32(echo.process(speech)) if echo is not None else None
                audio.put_nowait(_Segment(sentence, pcm.tobytes(), ref))
            tail = out.flush()
            if tail.size:
                ref = int16_to_float32(echo.flush()) if echo is not None else None
                audio.put_nowait(_Segment("", tail.tobytes(), ref))
        finally:
            audio.put_nowait(None)

    async def _play(self, reply: Reply, audio: asyncio.Queue[_Segment | None]) -> None:
        chunk_bytes = int(self._rate * CHUNK_MS / 1000) * 2
        playback = reply.playback
        shown = ""
        while (segment := await audio.get()) is not None:
            pcm = segment.pcm
            playback.add_segment(segment.sentence, duration_ms(len(pcm), self._rate))
            echo_at = _echo_slicer(segment, len(pcm))
            for pos in range(0, len(pcm), chunk_bytes):
                now_ms = self._clock.monotonic() * 1000
                wait = playback.lead_ms(now_ms) - self._lead_ms
                if wait > 0:
                    await self._clock.sleep(wait / 1000)
                    now_ms = self._clock.monotonic() * 1000
                self.set_talking(reply, True)
                chunk = pcm[pos : pos + chunk_bytes]
                self._outbox.put(AgentAudio(pcm=chunk))
                if echo_at is not None and self._listener is not None:
                    self._listener.echo_reference(echo_at(pos, pos + len(chunk)), now_ms)
                if reply.timing.first_sent is None:
                    reply.timing.first_sent = now_ms / 1000
                playback.sent(duration_ms(len(chunk), self._rate), now_ms)
                text = playback.text_at(playback.sent_ms)
                if text != shown:
                    shown = text
                    self._outbox.put(TranscriptDelta(role="assistant", text=text))
        # Stay "talking" until the client has played it all, so a late barge-in still
        # cuts the transcript correctly.
        remaining = playback.lead_ms(self._clock.monotonic() * 1000)
        if remaining > 0:
            await self._clock.sleep(remaining / 1000)


def _echo_slicer(segment: _Segment, size: int) -> Callable[[int, int], Float32Array] | None:
    """Maps a byte range of the segment's PCM to the same stretch of its echo reference
    (a view, no copy)."""
    ref = segment.echo
    if ref is None or size == 0:
        return None
    scale = ref.size / size

    def at(start: int, end: int) -> Float32Array:
        return ref[round(start * scale) : round(end * scale)]

    return at
