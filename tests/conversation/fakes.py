"""Fakes for running a Conversation without models or real time: a clock the test
advances, a VAD that hears loud frames as speech, canned STT, synthetic TTS, a scripted
agent and an in-memory recorder."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from voxgate.agents.base import AgentContext, EndCall, ReplyPart, ReplyText
from voxgate.audio.pcm import Float32Array, Int16Array
from voxgate.conversation.engine import Conversation
from voxgate.conversation.spec import CallSpec, Mode
from voxgate.conversation.turns import TurnSettings
from voxgate.events import AgentAudio, AudioIn, ServerEvent
from voxgate.speech.base import VAD_FRAME, VAD_FRAME_MS, VAD_RATE, Speech
from voxgate.store import NewConversation, NewTurn

FRAME_S = VAD_FRAME_MS / 1000
LOUD = np.full(VAD_FRAME, 8000, np.int16).tobytes()
QUIET = np.zeros(VAD_FRAME, np.int16).tobytes()


class FakeClock:
    """Time moves only in :meth:`advance`; ``sleep`` waits for it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._epoch = datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=self.t - 1000.0)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time on, waking sleepers in deadline order, and let tasks run."""
        end = self.t + seconds
        while self._sleepers and self._sleepers[0][0] <= end:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self.t = end
        await settle()


async def settle(rounds: int = 20) -> None:
    """Let every ready task run (no real time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeVadStream:
    def __init__(self, owner: FakeVad) -> None:
        self._owner = owner

    def process(self, frame: Float32Array) -> float:
        return 0.9 if float(np.abs(frame).max(initial=0.0)) > 0.05 else 0.02

    def release(self) -> None:
        self._owner.released += 1


class FakeVad:
    def __init__(self) -> None:
        self.acquired = 0
        self.released = 0

    def acquire(self) -> FakeVadStream:
        self.acquired += 1
        return FakeVadStream(self)


class FakeStt:
    """Returns ``results`` in order (an exception is raised). A call waits for ``gate``
    when one is set."""

    def __init__(self, *results: str | Exception) -> None:
        self.results = list(results)
        self.calls: list[float] = []
        """Seconds of audio of each call."""
        self.cancelled = 0
        self.gate: asyncio.Event | None = None

    async def transcribe(self, audio16k: Float32Array) -> str:
        self.calls.append(audio16k.size / VAD_RATE)
        result = self.results.pop(0) if self.results else ""
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(result, Exception):
            raise result
        return result


class FakeTts:
    """Synthetic speech: ``ms_per_char`` of a constant tone per character."""

    sample_rate = VAD_RATE

    def __init__(self, ms_per_char: float = 50.0) -> None:
        self.ms_per_char = ms_per_char
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None
        self.sentences: list[str] = []

    async def synthesize(self, text: str) -> Int16Array:
        self.sentences.append(text)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        n = int(len(text) * self.ms_per_char * self.sample_rate / 1000)
        return np.full(n, 3000, np.int16)


class FakeTurnModel:
    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def turn_complete(self, audio16k: Float32Array) -> float:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.probability


@dataclass
class FakeAgent:
    """Answers each user text with the next of ``replies`` (``reply`` if none left)."""

    replies: list[str] = field(default_factory=list)
    reply: str = "Sure. I can help with that."
    greet: str | None = None
    fail: Exception | None = None
    end_call: bool = False
    gate: asyncio.Event | None = None
    heard: list[str] = field(default_factory=list)
    closed: int = 0

    @property
    def id(self) -> str:
        return "agent_test"

    @property
    def tenant(self) -> str:
        return "t1"

    def greeting(self, context: AgentContext) -> str | None:
        return self.greet

    async def respond(self, context: AgentContext, user_text: str) -> AsyncIterator[ReplyPart]:
        self.heard.append(user_text)
        text = self.replies.pop(0) if self.replies else self.reply
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            for word in text.split(" "):
                yield ReplyText(text=word + " ")
                await asyncio.sleep(0)
            if self.end_call:
                yield EndCall()
        finally:
            self.closed += 1


class MemoryRecorder:
    def __init__(self) -> None:
        self.conversations: list[NewConversation] = []
        self.turns: list[NewTurn] = []
        self.ended: list[str] = []
        self.fail_turns = False

    async def create_conversation(self, conv: NewConversation) -> None:
        self.conversations.append(conv)

    async def reopen_conversation(self, conversation_id: str) -> None:
        pass

    async def add_turn(self, conversation_id: str, turn: NewTurn) -> int:
        if self.fail_turns:
            raise RuntimeError("database down")
        self.turns.append(turn)
        return len(self.turns)

    async def end_conversation(self, conversation_id: str, reason: str, ended_at: datetime) -> None:
        self.ended.append(reason)


QUICK = TurnSettings(echo_cancel=False, smart_turn=False)


class Call:
    """A conversation on fakes, with a writer collecting what is sent (as a transport)."""

    def __init__(
        self,
        *,
        agent: FakeAgent | None = None,
        stt: FakeStt | None = None,
        tts: FakeTts | None = None,
        turn_model: FakeTurnModel | None = None,
        settings: TurnSettings = QUICK,
        mode: Mode = "webcall",
        silence_timeout_s: float | None = None,
    ) -> None:
        self.clock = FakeClock()
        self.agent = agent or FakeAgent()
        self.stt = stt or FakeStt()
        self.tts = tts or FakeTts()
        self.vad = FakeVad()
        self.turn_model = turn_model
        self.recorder = MemoryRecorder()
        self.sent: list[ServerEvent] = []
        spec = CallSpec(
            call_id="call_1",
            session_id="sess_1",
            tenant_id="t1",
            mode=mode,
            dialect="test",
            channel="voice" if mode == "webcall" else "chat",
            sample_rate=VAD_RATE,
            turn_settings=settings,
            variables={},
            silence_timeout_s=silence_timeout_s,
        )
        speech = Speech(vad=self.vad, stt=self.stt, tts=self.tts, turn_model=turn_model)
        self.conv = Conversation(
            spec,
            agent=self.agent,
            speech=speech if mode == "webcall" else None,
            recorder=self.recorder,
            clock=self.clock,
        )
        self._writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Call:
        await self.conv.start()
        self._writer = asyncio.create_task(self._write())
        await settle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conv.close("client_requested")
        assert self._writer is not None
        await self._writer

    async def _write(self) -> None:
        while (event := await self.conv.outbox.get()) is not None:
            self.sent.append(event)

    async def audio(self, frame: bytes, ms: float) -> None:
        """``ms`` of ``frame`` in real time, one VAD frame at a time."""
        for _ in range(round(ms / VAD_FRAME_MS)):
            await self.clock.advance(FRAME_S)
            await self.conv.handle(AudioIn(pcm=frame))

    async def say(self, ms: float = 600, then_quiet_ms: float = 800) -> None:
        """A user turn: speech, then enough silence to end it."""
        await self.audio(LOUD, ms)
        await self.audio(QUIET, then_quiet_ms)

    def of(self, kind: type[ServerEvent]) -> list[ServerEvent]:
        return [e for e in self.sent if isinstance(e, kind)]

    def audio_ms(self) -> float:
        return sum(len(e.pcm) for e in self.sent if isinstance(e, AgentAudio)) / 2 / VAD_RATE * 1000
