"""The conversation engine: one per call. Routes client events through VAD, turn-taking,
STT, the agent and TTS, and puts server events in an :class:`Outbox`.

The transport calls :meth:`Conversation.start` once, :meth:`Conversation.handle` for each
decoded client event (in order, one at a time), and :meth:`Conversation.close` when the
socket ends; it sends what :attr:`Conversation.outbox` yields. When the agent ends the
call, :attr:`Conversation.finished` is set after the last audio has been played.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, assert_never

import numpy as np

from voxgate.agents.base import (
    Agent,
    AgentContext,
    Channel,
    EndCall,
    Handoff,
    HistoryItem,
    ReplyExtras,
    ReplyPart,
    ReplyText,
    ToolStatus,
)
from voxgate.audio.echo import EchoCanceller
from voxgate.audio.onset import OnsetGate
from voxgate.audio.pcm import (
    Float32Array,
    FrameSplitter,
    SampleAligner,
    bytes_to_int16,
    duration_ms,
    int16_to_float32,
)
from voxgate.audio.resample import StreamResampler
from voxgate.conversation.latency import TurnClock, TurnLatency
from voxgate.conversation.outbox import Outbox
from voxgate.conversation.transcript import Playback, SentenceBuffer
from voxgate.conversation.turns import (
    Paused,
    SpeechStarted,
    TurnDetector,
    TurnEnded,
    TurnSettings,
)
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    AudioIn,
    ClientEvent,
    CloseReason,
    CloseRequested,
    Error,
    Ignored,
    Interruption,
    InterruptRequested,
    Line,
    PauseRequested,
    ResumeRequested,
    SessionEnded,
    SessionStarted,
    StartRequested,
    TextIn,
    ToolCallStatus,
    Transcript,
    TranscriptDelta,
    UserSpeechStarted,
)
from voxgate.speech.base import VAD_FRAME, VAD_FRAME_MS, VAD_RATE
from voxgate.speech.services import SpeechServices
from voxgate.store import NewConversation, NewTurn

log = logging.getLogger(__name__)

Mode = Literal["webcall", "chat"]
CHUNK_MS = 40.0
"""Agent audio is sent in chunks of this length."""
SMART_TURN_TAIL_MS = 80.0
SMART_TURN_SPAN_MS = 8000.0


class TurnRecorder(Protocol):
    """The part of the store a conversation writes to."""

    async def create_conversation(self, conv: NewConversation) -> None: ...
    async def reopen_conversation(self, conversation_id: str) -> None: ...
    async def add_turn(self, conversation_id: str, turn: NewTurn) -> int: ...
    async def end_conversation(
        self, conversation_id: str, reason: str, ended_at: datetime
    ) -> None: ...


@dataclass(slots=True)
class _Reply:
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


class Conversation:
    """One call or chat session. Not thread-safe: use from one event loop."""

    def __init__(
        self,
        *,
        call_id: str,
        session_id: str,
        tenant_id: str,
        agent: Agent,
        turn_settings: TurnSettings,
        services: SpeechServices | None,
        recorder: TurnRecorder,
        mode: Mode,
        sample_rate: int,
        variables: dict[str, str | int | float | bool],
        output_rate: int | None = None,
        resume: Sequence[HistoryItem] | None = None,
        dialect: str,
        channel: Channel = "voice",
        lead_ms: float = 250.0,
        clock: Callable[[], float] = time.monotonic,
        on_turn: Callable[[TurnLatency], None] | None = None,
        on_barge_in: Callable[[], None] | None = None,
        greet: bool = True,
        silence_timeout_s: float | None = None,
        instructions: str | None = None,
        extra_context: str | None = None,
    ) -> None:
        if mode == "webcall" and services is None:
            raise ValueError("a webcall needs speech services")
        self.call_id = call_id
        self.session_id = session_id
        self.tenant_id = tenant_id
        self.agent = agent
        self.mode = mode
        self.sample_rate = sample_rate
        """Rate of the client's audio (and of ours, unless ``output_rate`` differs)."""
        self.output_rate = output_rate or sample_rate
        self._resume = resume is not None
        self.variables = variables
        self.dialect = dialect
        self.channel: Channel = channel
        self.outbox = Outbox()
        self.finished = asyncio.Event()
        self.history: list[HistoryItem] = list(resume or ())
        self._services = services
        self._recorder = recorder
        self._settings = turn_settings
        self._lead_ms = lead_ms
        self._clock = clock
        self._on_turn = on_turn
        self._on_barge_in = on_barge_in
        self._detector = TurnDetector(turn_settings)
        self._echo = EchoCanceller(VAD_RATE) if turn_settings.echo_cancel else None
        self._onset = OnsetGate()
        self._echo_resampler = StreamResampler(self.output_rate, VAD_RATE)
        self._aligner = SampleAligner()
        self._splitter = FrameSplitter(VAD_FRAME)
        self._in_resampler = StreamResampler(sample_rate, VAD_RATE)
        self._vad = services.vad.acquire() if services and mode == "webcall" else None
        keep = (
            turn_settings.prefix_padding_ms
            + max(turn_settings.barge_in_min_ms, turn_settings.min_speech_ms)
            + turn_settings.onset_lookback_ms
            + 200
        )
        self._idle_frames = int(keep / VAD_FRAME_MS) + 1
        self._frames: deque[Float32Array] = deque()
        self._frames_start_ms = 0.0  # stream time of self._frames[0]
        self._stream_ms = 0.0  # stream time of VAD input processed so far
        self._speech_start_wall: datetime | None = None
        self._reply: _Reply | None = None
        self._stt_tail: asyncio.Task[None] | None = None  # last user-turn transcription
        self._speculative: tuple[tuple[float, float], asyncio.Future[str]] | None = None
        self._unanswered: list[str] = []
        self._closed = False
        self._agent_state: dict[str, object] = {}
        self._greet = greet
        self._instructions = instructions
        self._extra_context = extra_context
        self._silence_timeout_s = silence_timeout_s
        self._last_activity = clock()
        self._watchdog: asyncio.Task[None] | None = None
        self.end_reason: CloseReason | None = None
        self._held = False  # the app paused its audio (PauseRequested)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Record the conversation (or reopen a resumed one), announce the session, and
        greet (if the agent does; not when resuming)."""
        if self._resume:
            await self._recorder.reopen_conversation(self.call_id)
        else:
            await self._create()
        self.outbox.put(
            SessionStarted(
                session_id=self.session_id, call_id=self.call_id, sample_rate=self.sample_rate
            )
        )
        greeting = None if self._resume or not self._greet else self.agent.greeting(self._context())
        if greeting:
            self._start_reply(_single(greeting), TurnClock())
        if self._silence_timeout_s is not None:
            self._watchdog = asyncio.create_task(self._end_when_silent(self._silence_timeout_s))
            self._watchdog.add_done_callback(_log_task_error)

    def _active(self) -> None:
        self._last_activity = self._clock()

    async def _end_when_silent(self, timeout_s: float) -> None:
        """End the call once neither side has said anything for ``timeout_s``."""
        while not self._closed:
            busy = self._held or self._detector.in_user_turn or (self._reply is not None)
            if busy:
                self._active()
            idle = self._clock() - self._last_activity
            if idle >= timeout_s:
                log.info("call %s: %.0f s of silence, ending", self.call_id, idle)
                await self.close("timeout")
                return
            await asyncio.sleep(min(0.5, timeout_s - idle))

    async def say_first(self, text: str) -> None:
        """Answer ``text`` as if the user had typed it (the session's opening message),
        instead of greeting. Call right after :meth:`start`."""
        await self.handle(TextIn(text=text))

    async def _create(self) -> None:
        await self._recorder.create_conversation(
            NewConversation(
                id=self.call_id,
                tenant_id=self.tenant_id,
                agent_id=self.agent.id,
                channel=self.channel,
                dialect=self.dialect,
                mode=self.mode,
                sample_rate=self.sample_rate if self.mode == "webcall" else None,
                variables=dict(self.variables),
                started_at=_now(),
            )
        )

    async def close(self, reason: CloseReason) -> None:
        """End the session: keep what was said (an agent turn cut to what was heard),
        record the end, and put :class:`SessionEnded` as the last event. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.end_reason = reason
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
        await self._interrupt(notify=False)
        if self._stt_tail is not None:
            # The user's last words are accepted input: finish and store them.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._stt_tail), timeout=10)
        if self._reply is not None and self._reply.task is not None:
            self._reply.task.cancel()
            await asyncio.wait({self._reply.task})  # never raises the task's cancellation
        try:
            await self._recorder.end_conversation(self.call_id, reason, _now())
        except Exception:
            log.exception("call %s: could not record the end of the conversation", self.call_id)
        if self._vad is not None:
            self._vad.release()
            self._vad = None
        transcript = tuple(Line(role=h.role, text=h.text) for h in self.history if h.text)
        self.outbox.put(SessionEnded(reason=reason, transcript=transcript))
        self.outbox.close()
        self.finished.set()

    # --- client events --------------------------------------------------------------------

    async def handle(self, event: ClientEvent) -> None:
        """Process one client event. Protocol problems become :class:`Error` events."""
        if self._closed:
            return
        match event:
            case AudioIn():
                if self.mode != "webcall":
                    self.outbox.put(
                        Error(code="invalid_event", message="audio is not accepted in chat mode")
                    )
                    return
                if not self._held:  # audio still in flight when the app paused: not heard
                    await self._audio(event.pcm)
            case TextIn():
                self._unhold()
                await self._interrupt(notify=True)
                self._cancel_pending_reply()
                now = self._clock()
                self.outbox.put(Transcript(role="user", text=event.text))
                await self._store_user_turn(event.text, _now(), _now(), TurnClock())
                self._answer(TurnClock(speech_end=now, detected=now, stt_done=now))
            case CloseRequested():
                await self.close("client_requested")
            case InterruptRequested():
                # Client-side barge-in (the app heard the user): stop the reply now.
                await self._interrupt(notify=True)
            case PauseRequested():
                await self._hold()
            case ResumeRequested():
                self._unhold()
            case StartRequested():
                self.outbox.put(Error(code="invalid_event", message="the session has started"))
            case Ignored():
                pass
            case _:
                assert_never(event)

    # --- audio in -------------------------------------------------------------------------

    async def _audio(self, pcm: bytes) -> None:
        assert self._vad is not None
        samples = bytes_to_int16(self._aligner.feed(pcm))
        if samples.size == 0:
            return
        audio16k = int16_to_float32(self._in_resampler.process(samples))
        now_ms = self._clock() * 1000
        for heard in self._splitter.feed(audio16k):
            frame = heard
            if self._echo is not None and self._echo.active(now_ms):
                frame = self._echo.process(heard, now_ms)  # the agent's own voice, removed
            prob = self._vad.process(frame)  # ~0.15 ms: cheaper inline than a thread hop
            loud = self._onset.loud(heard, frame)
            start = self._stream_ms
            self._stream_ms += VAD_FRAME_MS
            self._frames.append(frame)
            action = self._detector.feed(prob, start, self._stream_ms, loud=loud)
            if not self._detector.in_user_turn and action is None:
                while len(self._frames) > self._idle_frames:
                    self._frames.popleft()
                    self._frames_start_ms += VAD_FRAME_MS
            if isinstance(action, SpeechStarted):
                await self._on_speech_started(action)
            elif isinstance(action, Paused):
                self._on_pause(action)
            elif isinstance(action, TurnEnded):
                self._on_turn_ended(action)

    async def _on_speech_started(self, action: SpeechStarted) -> None:
        ago = (self._stream_ms - action.start_ms) / 1000
        self._speech_start_wall = _now() - timedelta(seconds=ago)
        self.outbox.put(UserSpeechStarted(at=self._speech_start_wall))
        if action.barge_in:
            await self._interrupt(notify=True)
        else:
            # The user went on talking before the agent spoke: answer everything at once.
            self._cancel_pending_reply()

    def _turn_audio(self, start_ms: float, end_ms: float) -> Float32Array:
        """The audio STT gets for a turn: prefix padding before onset, a short tail after
        (no longer than what has arrived when the pause is announced, so a speculative
        transcription at the pause and the final one get the same audio)."""
        pad = self._settings.prefix_padding_ms
        tail = max(0.0, min(200.0, self._settings.pause_ms - VAD_FRAME_MS))
        first = max(0, int((start_ms - pad - self._frames_start_ms) / VAD_FRAME_MS))
        last = int((end_ms + tail - self._frames_start_ms) / VAD_FRAME_MS) + 1
        frames = list(self._frames)[first:last]
        return np.concatenate(frames) if frames else np.zeros(0, np.float32)

    def _on_pause(self, action: Paused) -> None:
        """The user paused: transcribe now, in case the turn ends here (speculative STT).
        If the user goes on, the result is not used."""
        assert self._services is not None
        audio = self._turn_audio(action.start_ms, action.end_ms)
        task = asyncio.ensure_future(self._services.transcribe(audio))
        task.add_done_callback(_ignore_result)
        self._speculative = ((action.start_ms, action.end_ms), task)
        if self._settings.smart_turn and self._services.turn_model is not None:
            check = asyncio.create_task(self._end_turn_if_done(action))
            check.add_done_callback(_log_task_error)

    async def _end_turn_if_done(self, pause: Paused) -> None:
        """Ask the end-of-turn model about this pause; end the turn now if it is sure and
        the user has not spoken again meanwhile."""
        assert self._services is not None
        # Speech plus ~80 ms: the model misjudges fragments given more trailing silence.
        audio = self._recent_audio(pause.end_ms + SMART_TURN_TAIL_MS, SMART_TURN_SPAN_MS)
        probability = await self._services.turn_complete(audio)
        log.debug("call %s: end-of-turn probability %.3f", self.call_id, probability)
        if probability < self._settings.smart_turn_threshold:
            return
        if self._closed or self._detector.pause != pause:
            return
        ended = self._detector.end_turn()
        if ended is not None:
            self._on_turn_ended(ended)

    def _recent_audio(self, until_ms: float, span_ms: float) -> Float32Array:
        last = int((until_ms - self._frames_start_ms) / VAD_FRAME_MS) + 1
        first = max(0, last - int(span_ms / VAD_FRAME_MS))
        frames = list(self._frames)[first:last]
        return np.concatenate(frames) if frames else np.zeros(0, np.float32)

    def _on_turn_ended(self, action: TurnEnded) -> None:
        now = self._clock()
        timing = TurnClock(
            speech_end=now - (self._stream_ms - action.end_ms) / 1000,
            detected=now,
        )
        speculative = self._speculative
        self._speculative = None
        if speculative is not None and speculative[0] == (action.start_ms, action.end_ms):
            transcription: Awaitable[str] = speculative[1]
        else:
            assert self._services is not None
            transcription = self._services.transcribe(
                self._turn_audio(action.start_ms, action.end_ms)
            )
        started = self._speech_start_wall or _now()
        ended = _now() - timedelta(seconds=(self._stream_ms - action.end_ms) / 1000)
        previous = self._stt_tail
        self._stt_tail = asyncio.create_task(
            self._transcribe_turn(previous, transcription, started, ended, timing)
        )

    async def _transcribe_turn(
        self,
        previous: asyncio.Task[None] | None,
        transcription: Awaitable[str],
        started: datetime,
        ended: datetime,
        timing: TurnClock,
    ) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous  # keep user turns in order
        try:
            text = await transcription
        except Exception:
            log.exception("call %s: speech-to-text failed", self.call_id)
            self.outbox.put(Error(code="internal_error", message="speech recognition failed"))
            return
        timing.stt_done = self._clock()
        if text:  # empty: noise, not words (an earlier turn may still wait for its answer)
            self.outbox.put(TranscriptDelta(role="user", text=text))
            self.outbox.put(Transcript(role="user", text=text))
            await self._store_user_turn(text, started, ended, timing)
        if self._closed or self._detector.in_user_turn:
            return  # the user is talking again: answer when that turn ends
        self._answer(timing)

    # --- replies --------------------------------------------------------------------------

    def _answer(self, timing: TurnClock) -> None:
        """Answer the user turns not answered yet."""
        if not self._unanswered or self._closed or self._held:
            return  # (held: answered on resume)
        answers = list(self._unanswered)
        self._unanswered.clear()
        parts = self.agent.respond(self._context(), " ".join(answers))
        self._start_reply(parts, timing, answers)

    def _start_reply(
        self, parts: AsyncIterator[ReplyPart], timing: TurnClock, answers: list[str] | None = None
    ) -> None:
        reply = _Reply(timing=timing, started_at=_now(), answers=answers or [])
        self._reply = reply
        reply.task = asyncio.create_task(self._run_reply(reply, parts))

    async def _run_reply(self, reply: _Reply, parts: AsyncIterator[ReplyPart]) -> None:
        try:
            if self.mode == "webcall":
                await self._speak(reply, parts)
            else:
                await self._write(reply, parts)
        except Exception:
            log.exception("call %s: the reply failed", self.call_id)
            self.outbox.put(Error(code="internal_error", message="the agent could not reply"))
            if reply.talking:
                reply.talking = False
                self._detector.agent_talking = False
                self.outbox.put(AgentTalking(talking=False, at=_now()))
            if self._reply is reply:
                self._reply = None

    async def _hold(self) -> None:
        """The app paused its audio: stop talking (what was heard is kept), forget speech
        in progress, and hold replies until it resumes. The silence watchdog waits too."""
        if self._held:
            return
        self._held = True
        await self._interrupt(notify=True)
        self._cancel_pending_reply()
        self._detector.reset()
        self._speculative = None

    def _unhold(self) -> None:
        """The app has its audio back: listen again, and answer what is still unanswered."""
        if not self._held:
            return
        self._held = False
        self._active()
        self._answer(TurnClock())  # no latency to report: the user did not just speak

    def _cancel_pending_reply(self) -> None:
        """Drop a reply that has not started talking yet; its user text is answered later."""
        reply = self._reply
        if reply is None or reply.talking or reply.task is None or reply.task.done():
            return
        reply.task.cancel()
        self._reply = None
        self._unanswered[:0] = reply.answers

    async def _write(self, reply: _Reply, parts: AsyncIterator[ReplyPart]) -> None:
        """A text reply (chat mode): cumulative deltas, then the final transcript."""
        async for part in parts:
            if isinstance(part, ReplyText):
                if reply.timing.first_text is None:
                    reply.timing.first_text = self._clock()
                reply.generated.append(part.text)
                self.outbox.put(TranscriptDelta(role="assistant", text="".join(reply.generated)))
            else:
                self._control(reply, part)
        await self._finish_reply(reply)

    def _control(self, reply: _Reply, part: EndCall | Handoff | ToolStatus | ReplyExtras) -> None:
        """Reply parts that are not text."""
        match part:
            case ReplyExtras():
                pass  # suggestions and attachments are for text channels
            case EndCall():
                reply.end = reply.end or "ended"
            case Handoff():
                reply.end = "handoff"
            case ToolStatus():
                self.outbox.put(ToolCallStatus(tool_name=part.tool_name, status=part.status))
            case _:
                assert_never(part)

    async def _speak(self, reply: _Reply, parts: AsyncIterator[ReplyPart]) -> None:
        """A spoken reply: text → sentences → TTS → paced audio, as a pipeline."""
        assert self._services is not None
        services = self._services
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        audio: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()

        async def think() -> None:
            buf = SentenceBuffer()
            try:
                async for part in parts:
                    if isinstance(part, ReplyText):
                        if reply.timing.first_text is None:
                            reply.timing.first_text = self._clock()
                        reply.generated.append(part.text)
                        for s in buf.feed(part.text):
                            sentences.put_nowait(s)
                    else:
                        self._control(reply, part)
                for s in buf.flush():
                    sentences.put_nowait(s)
            finally:
                sentences.put_nowait(None)

        async def synthesize() -> None:
            resampler = StreamResampler(services.tts.sample_rate, self.output_rate)
            try:
                while (sentence := await sentences.get()) is not None:
                    pcm = resampler.process(await services.synthesize(sentence))
                    if reply.timing.first_audio is None:
                        reply.timing.first_audio = self._clock()
                    audio.put_nowait((sentence, pcm.tobytes()))
                tail = resampler.flush()
                if tail.size:
                    audio.put_nowait(("", tail.tobytes()))
            finally:
                audio.put_nowait(None)

        async def play() -> None:
            chunk_bytes = int(self.output_rate * CHUNK_MS / 1000) * 2
            playback = reply.playback
            shown = ""
            while (item := await audio.get()) is not None:
                sentence, pcm = item
                playback.add_segment(sentence, duration_ms(len(pcm), self.output_rate))
                for pos in range(0, len(pcm), chunk_bytes):
                    now_ms = self._clock() * 1000
                    wait = playback.lead_ms(now_ms) - self._lead_ms
                    if wait > 0:
                        await asyncio.sleep(wait / 1000)
                        now_ms = self._clock() * 1000
                    if not reply.talking:
                        reply.talking = True
                        self._detector.agent_talking = True
                        self.outbox.put(AgentTalking(talking=True, at=_now()))
                    chunk = pcm[pos : pos + chunk_bytes]
                    self.outbox.put(AgentAudio(pcm=chunk))
                    if self._echo is not None:
                        sent = self._echo_resampler.process(bytes_to_int16(chunk))
                        self._echo.reference(int16_to_float32(sent), now_ms)
                    if reply.timing.first_sent is None:
                        reply.timing.first_sent = now_ms / 1000
                    playback.sent(duration_ms(len(chunk), self.output_rate), now_ms)
                    text = playback.text_at(playback.sent_ms)
                    if text != shown:
                        shown = text
                        self.outbox.put(TranscriptDelta(role="assistant", text=text))
            # Stay "talking" until the client has played it all, so a late barge-in still
            # cuts the transcript correctly.
            remaining = playback.lead_ms(self._clock() * 1000)
            if remaining > 0:
                await asyncio.sleep(remaining / 1000)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(think())
            tg.create_task(synthesize())
            tg.create_task(play())
        await self._finish_reply(reply)

    async def _finish_reply(self, reply: _Reply) -> None:
        text = "".join(reply.generated).strip()
        if text:
            self.outbox.put(Transcript(role="assistant", text=text))
        if reply.talking:
            reply.talking = False
            self._detector.agent_talking = False
            self.outbox.put(AgentTalking(talking=False, at=_now()))
        if self._reply is reply:
            self._reply = None
        if text:
            await self._store_assistant_turn(reply, text, None)
        if reply.end is not None:
            # Close from outside this task: close() waits for the reply task to end.
            asyncio.get_running_loop().call_soon(self._end_soon, reply.end)

    def _end_soon(self, reason: CloseReason) -> None:
        task = asyncio.create_task(self.close(reason))
        task.add_done_callback(_log_task_error)
        self._end_task = task

    async def _interrupt(self, *, notify: bool) -> None:
        """Barge-in: stop the talking reply now; nothing of it is sent after this."""
        reply = self._reply
        if reply is None or not reply.talking:
            return
        played = reply.playback.played_ms(self._clock() * 1000)
        self._reply = None
        if reply.task is not None and not reply.task.done():
            reply.task.cancel()
            await asyncio.wait({reply.task})
        reply.talking = False
        self._detector.agent_talking = False
        self.outbox.drop_reply_audio()
        heard = reply.playback.text_at(played)
        if notify:
            if self._on_barge_in is not None:
                self._on_barge_in()
            self.outbox.put(Interruption())
            self.outbox.put(Transcript(role="assistant", text=heard, interrupted=True))
            self.outbox.put(AgentTalking(talking=False, at=_now()))
        generated = "".join(reply.generated).strip()
        await self._store_assistant_turn(reply, generated, heard)

    # --- transcript and store -------------------------------------------------------------

    def _context(self) -> AgentContext:
        return AgentContext(
            call_id=self.call_id,
            channel=self.channel,
            variables=self.variables,
            history=tuple(self.history),
            tenant_id=self.tenant_id,
            now=_now(),
            instructions=self._instructions,
            extra_context=self._extra_context,
            state=self._agent_state,
        )

    async def _store_user_turn(
        self, text: str, started: datetime, ended: datetime, timing: TurnClock
    ) -> None:
        self.history.append(HistoryItem(role="user", text=text))
        self._unanswered.append(text)
        await self._add_turn(
            NewTurn(
                role="user",
                text=text,
                heard_text=None,
                interrupted=False,
                started_at=started,
                ended_at=ended,
                latency=timing.latency().user_side(),
            )
        )

    async def _store_assistant_turn(self, reply: _Reply, text: str, heard: str | None) -> None:
        latency = reply.timing.latency()
        if self._on_turn is not None and reply.timing.speech_end is not None:
            self._on_turn(latency)
        self.history.append(
            HistoryItem(role="assistant", text=heard if heard is not None else text)
        )
        await self._add_turn(
            NewTurn(
                role="assistant",
                text=text,
                heard_text=heard,
                interrupted=heard is not None,
                started_at=reply.started_at,
                ended_at=_now(),
                latency=latency.agent_side(),
            )
        )

    async def _add_turn(self, turn: NewTurn) -> None:
        try:
            await self._recorder.add_turn(self.call_id, turn)
        except Exception:
            log.exception("call %s: could not store a %s turn", self.call_id, turn.role)


def _now() -> datetime:
    return datetime.now(UTC)


async def _single(text: str) -> AsyncIterator[ReplyPart]:
    yield ReplyText(text=text)


def _ignore_result(future: asyncio.Future[str]) -> None:
    """Retrieve a speculative result's exception so it is never reported as unhandled."""
    if not future.cancelled():
        future.exception()


def _log_task_error(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
