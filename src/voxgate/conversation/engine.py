"""The conversation engine: one per call. Routes client events to the audio front end
(:mod:`~voxgate.conversation.listen`), turn ends to STT and the agent, and replies to the
reply stages (:mod:`~voxgate.conversation.speak`); server events go to an :class:`Outbox`.

The transport calls :meth:`Conversation.start` once, :meth:`Conversation.handle` for each
decoded client event (in order, one at a time), and :meth:`Conversation.close` when the
socket ends; it sends what :attr:`Conversation.outbox` yields. When the agent ends the
call, :attr:`Conversation.finished` is set after the last audio has been played.

Every task the engine starts is held in an attribute and ended by :meth:`close` (or
when superseded): the reply, the user turn's transcription, a speculative transcription,
the end-of-turn check, the silence watchdog and the agent's own end of the call.

A little over 500 lines, kept whole: it is one concept (routing one call's events and
the bookkeeping of its turns); audio and reply work live in ``listen`` and ``speak``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, assert_never

from voxgate.agents.base import Agent, AgentContext, HistoryItem, ReplyPart, ReplyText
from voxgate.conversation.clock import SYSTEM_CLOCK, Clock
from voxgate.conversation.latency import TurnClock, TurnLatency
from voxgate.conversation.listen import Listener
from voxgate.conversation.outbox import Outbox
from voxgate.conversation.speak import Reply, ReplyStages
from voxgate.conversation.spec import CallSpec
from voxgate.conversation.turns import Paused, SpeechStarted, TurnEnded
from voxgate.events import (
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
    Transcript,
    TranscriptDelta,
    UserSpeechStarted,
)
from voxgate.speech.base import Speech
from voxgate.store import NewConversation, NewTurn

log = logging.getLogger(__name__)

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


class Conversation:
    """One call or chat session. Not thread-safe: use from one event loop.

    ``speech`` is required for a webcall (``ValueError`` otherwise). ``on_turn`` gets the
    latency of each answered spoken turn, ``on_barge_in`` is called at each barge-in.
    """

    def __init__(
        self,
        spec: CallSpec,
        *,
        agent: Agent,
        speech: Speech | None,
        recorder: TurnRecorder,
        clock: Clock = SYSTEM_CLOCK,
        on_turn: Callable[[TurnLatency], None] | None = None,
        on_barge_in: Callable[[], None] | None = None,
    ) -> None:
        if spec.mode == "webcall" and speech is None:
            raise ValueError("a webcall needs speech services")
        self.spec = spec
        self.call_id = spec.call_id
        self.session_id = spec.session_id
        self.tenant_id = spec.tenant_id
        self.agent = agent
        self.outbox = Outbox()
        self.finished = asyncio.Event()
        self.history: list[HistoryItem] = list(spec.resume or ())
        self.end_reason: CloseReason | None = None
        self._variables = dict(spec.variables)
        self._speech = speech if spec.mode == "webcall" else None
        self._recorder = recorder
        self._clock = clock
        self._on_turn = on_turn
        self._on_barge_in = on_barge_in
        self._listener = (
            None
            if self._speech is None
            else Listener(
                spec.turn_settings, input_rate=spec.sample_rate, vad=self._speech.vad.acquire()
            )
        )
        self._stages = ReplyStages(
            outbox=self.outbox,
            clock=clock,
            playback_rate=spec.playback_rate,
            lead_ms=spec.lead_ms,
            tts=self._speech.tts if self._speech is not None else None,
            listener=self._listener,
        )
        self._speech_start_wall: datetime | None = None
        self._reply: Reply | None = None
        self._unanswered: list[str] = []
        self._agent_state: dict[str, object] = {}
        self._closed = False
        self._held = False  # the app paused its audio (PauseRequested)
        self._last_activity = clock.monotonic()
        # Owned tasks (see the module docstring).
        self._stt_tail: asyncio.Task[None] | None = None  # last user-turn transcription
        self._speculative: tuple[tuple[float, float], asyncio.Task[str]] | None = None
        self._end_check: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._end_task: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Record the conversation (or reopen a resumed one), announce the session, and
        greet (if the agent does; not when resuming)."""
        spec = self.spec
        if spec.resume is not None:
            await self._recorder.reopen_conversation(self.call_id)
        else:
            await self._create()
        self.outbox.put(
            SessionStarted(
                session_id=self.session_id, call_id=self.call_id, sample_rate=spec.sample_rate
            )
        )
        greet = spec.resume is None and spec.greet
        greeting = self.agent.greeting(self._context()) if greet else None
        if greeting:
            self._start_reply(_single(greeting), TurnClock())
        if spec.silence_timeout_s is not None:
            self._watchdog = asyncio.create_task(self._end_when_silent(spec.silence_timeout_s))
            self._watchdog.add_done_callback(_log_task_error)

    def _active(self) -> None:
        self._last_activity = self._clock.monotonic()

    def _in_user_turn(self) -> bool:
        return self._listener is not None and self._listener.detector.in_user_turn

    async def _end_when_silent(self, timeout_s: float) -> None:
        """End the call once neither side has said anything for ``timeout_s``."""
        while not self._closed:
            if self._held or self._in_user_turn() or self._reply is not None:
                self._active()
            idle = self._clock.monotonic() - self._last_activity
            if idle >= timeout_s:
                log.info("call %s: %.0f s of silence, ending", self.call_id, idle)
                await self.close("timeout")
                return
            await self._clock.sleep(min(0.5, timeout_s - idle))

    async def say_first(self, text: str) -> None:
        """Answer ``text`` as if the user had typed it (the session's opening message),
        instead of greeting. Call right after :meth:`start`."""
        await self.handle(TextIn(text=text))

    async def _create(self) -> None:
        spec = self.spec
        await self._recorder.create_conversation(
            NewConversation(
                id=self.call_id,
                tenant_id=self.tenant_id,
                agent_id=self.agent.id,
                channel=spec.channel,
                dialect=spec.dialect,
                mode=spec.mode,
                sample_rate=spec.sample_rate if spec.mode == "webcall" else None,
                variables=dict(self._variables),
                started_at=self._clock.now(),
            )
        )

    async def close(self, reason: CloseReason) -> None:
        """End the session: keep what was said (an agent turn cut to what was heard),
        record the end, and put :class:`SessionEnded` as the last event. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.end_reason = reason
        current = asyncio.current_task()
        for task in (self._watchdog, self._end_check):
            if task is not None and task is not current:
                task.cancel()
        self._drop_speculative()
        await self._interrupt(notify=False)
        if self._stt_tail is not None:
            # The user's last words are accepted input: finish and store them.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._stt_tail), timeout=10)
        if self._reply is not None and self._reply.task is not None:
            self._reply.task.cancel()
            await asyncio.wait({self._reply.task})  # never raises the task's cancellation
        if self._end_check is not None and self._end_check is not current:
            await asyncio.wait({self._end_check})
        try:
            await self._recorder.end_conversation(self.call_id, reason, self._clock.now())
        except Exception:
            log.exception("call %s: could not record the end of the conversation", self.call_id)
        if self._listener is not None:
            self._listener.release()
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
                if self._listener is None:
                    self.outbox.put(
                        Error(code="invalid_event", message="audio is not accepted in chat mode")
                    )
                    return
                if not self._held:  # audio still in flight when the app paused: not heard
                    await self._audio(self._listener, event.pcm)
            case TextIn():
                self._unhold()
                await self._interrupt(notify=True)
                self._cancel_pending_reply()
                now = self._clock.monotonic()
                wall = self._clock.now()
                self.outbox.put(Transcript(role="user", text=event.text))
                await self._store_user_turn(event.text, wall, wall, TurnClock())
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

    # --- user turns -----------------------------------------------------------------------

    async def _audio(self, listener: Listener, pcm: bytes) -> None:
        for action in listener.feed(pcm, self._clock.monotonic() * 1000):
            if isinstance(action, SpeechStarted):
                await self._on_speech_started(listener, action)
            elif isinstance(action, Paused):
                self._on_pause(listener, action)
            else:
                self._on_turn_ended(listener, action)

    async def _on_speech_started(self, listener: Listener, action: SpeechStarted) -> None:
        ago = (listener.stream_ms - action.start_ms) / 1000
        self._speech_start_wall = self._clock.now() - timedelta(seconds=ago)
        self.outbox.put(UserSpeechStarted(at=self._speech_start_wall))
        if action.barge_in:
            await self._interrupt(notify=True)
        else:
            # The user went on talking before the agent spoke: answer everything at once.
            self._cancel_pending_reply()

    def _on_pause(self, listener: Listener, action: Paused) -> None:
        """The user paused: transcribe now, in case the turn ends here (speculative STT).
        If the user goes on, the result is dropped at the next pause or turn end."""
        assert self._speech is not None
        self._drop_speculative()
        audio = listener.turn_audio(action.start_ms, action.end_ms)
        task = asyncio.ensure_future(self._speech.stt.transcribe(audio))
        task.add_done_callback(_ignore_result)
        self._speculative = ((action.start_ms, action.end_ms), task)
        if self._end_check is not None:
            self._end_check.cancel()  # asked about an earlier pause: moot now
            self._end_check = None
        if listener.detector.settings.smart_turn and self._speech.turn_model is not None:
            self._end_check = asyncio.create_task(self._end_turn_if_done(listener, action))
            self._end_check.add_done_callback(_log_task_error)

    def _drop_speculative(self) -> None:
        if self._speculative is not None:
            self._speculative[1].cancel()
            self._speculative = None

    async def _end_turn_if_done(self, listener: Listener, pause: Paused) -> None:
        """Ask the end-of-turn model about this pause; end the turn now if it is sure and
        the user has not spoken again meanwhile."""
        assert self._speech is not None and self._speech.turn_model is not None
        # Speech plus ~80 ms: the model misjudges fragments given more trailing silence.
        audio = listener.recent_audio(pause.end_ms + SMART_TURN_TAIL_MS, SMART_TURN_SPAN_MS)
        probability = await self._speech.turn_model.turn_complete(audio)
        log.debug("call %s: end-of-turn probability %.3f", self.call_id, probability)
        if probability < listener.detector.settings.smart_turn_threshold:
            return
        if self._closed or listener.detector.pause != pause:
            return
        ended = listener.detector.end_turn()
        if ended is not None:
            self._on_turn_ended(listener, ended)

    def _on_turn_ended(self, listener: Listener, action: TurnEnded) -> None:
        now = self._clock.monotonic()
        behind_s = (listener.stream_ms - action.end_ms) / 1000
        timing = TurnClock(speech_end=now - behind_s, detected=now)
        speculative = self._speculative
        self._speculative = None
        transcription: Awaitable[str]
        if speculative is not None and speculative[0] == (action.start_ms, action.end_ms):
            transcription = speculative[1]
        else:
            if speculative is not None:
                speculative[1].cancel()
            assert self._speech is not None
            audio = listener.turn_audio(action.start_ms, action.end_ms)
            transcription = self._speech.stt.transcribe(audio)
        wall = self._clock.now()
        started = self._speech_start_wall or wall
        ended = wall - timedelta(seconds=behind_s)
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
        timing.stt_done = self._clock.monotonic()
        if text:  # empty: noise, not words (an earlier turn may still wait for its answer)
            self.outbox.put(TranscriptDelta(role="user", text=text))
            self.outbox.put(Transcript(role="user", text=text))
            await self._store_user_turn(text, started, ended, timing)
        if self._closed or self._in_user_turn():
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
        reply = Reply(timing=timing, started_at=self._clock.now(), answers=answers or [])
        self._reply = reply
        reply.task = asyncio.create_task(self._run_reply(reply, parts))

    async def _run_reply(self, reply: Reply, parts: AsyncIterator[ReplyPart]) -> None:
        try:
            if self._speech is not None:
                await self._stages.speak(reply, parts)
            else:
                await self._stages.write(reply, parts)
        except Exception:
            log.exception("call %s: the reply failed", self.call_id)
            self.outbox.put(Error(code="internal_error", message="the agent could not reply"))
            self._stages.set_talking(reply, False)
            if self._reply is reply:
                self._reply = None
            return
        await self._finish_reply(reply)

    async def _hold(self) -> None:
        """The app paused its audio: stop talking (what was heard is kept), forget speech
        in progress, and hold replies until it resumes. The silence watchdog waits too."""
        if self._held:
            return
        self._held = True
        await self._interrupt(notify=True)
        self._cancel_pending_reply()
        if self._listener is not None:
            self._listener.detector.reset()
        self._drop_speculative()

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

    async def _finish_reply(self, reply: Reply) -> None:
        text = "".join(reply.generated).strip()
        if text:
            self.outbox.put(Transcript(role="assistant", text=text))
        self._stages.set_talking(reply, False)
        if self._reply is reply:
            self._reply = None
        if text:
            await self._store_assistant_turn(reply, text, None)
        if reply.end is not None:
            # Close from outside this task: close() waits for the reply task to end.
            asyncio.get_running_loop().call_soon(self._end_soon, reply.end)

    def _end_soon(self, reason: CloseReason) -> None:
        self._end_task = asyncio.create_task(self.close(reason))
        self._end_task.add_done_callback(_log_task_error)

    async def _interrupt(self, *, notify: bool) -> None:
        """Barge-in: stop the talking reply now; nothing of it is sent after this."""
        reply = self._reply
        if reply is None or not reply.talking:
            return
        played = reply.playback.played_ms(self._clock.monotonic() * 1000)
        self._reply = None
        if reply.task is not None and not reply.task.done():
            reply.task.cancel()
            await asyncio.wait({reply.task})
        reply.talking = False
        if self._listener is not None:
            self._listener.detector.agent_talking = False
        self.outbox.drop_reply_audio()
        heard = reply.playback.text_at(played)
        if notify:
            if self._on_barge_in is not None:
                self._on_barge_in()
            self.outbox.put(Interruption())
            self.outbox.put(Transcript(role="assistant", text=heard, interrupted=True))
            self.outbox.put(AgentTalking(talking=False, at=self._clock.now()))
        generated = "".join(reply.generated).strip()
        await self._store_assistant_turn(reply, generated, heard)

    # --- transcript and store -------------------------------------------------------------

    def _context(self) -> AgentContext:
        spec = self.spec
        return AgentContext(
            call_id=self.call_id,
            channel=spec.channel,
            variables=self._variables,
            history=tuple(self.history),
            tenant_id=self.tenant_id,
            now=self._clock.now(),
            instructions=spec.instructions,
            extra_context=spec.extra_context,
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

    async def _store_assistant_turn(self, reply: Reply, text: str, heard: str | None) -> None:
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
                ended_at=self._clock.now(),
                latency=latency.agent_side(),
            )
        )

    async def _add_turn(self, turn: NewTurn) -> None:
        try:
            await self._recorder.add_turn(self.call_id, turn)
        except Exception:
            log.exception("call %s: could not store a %s turn", self.call_id, turn.role)


async def _single(text: str) -> AsyncIterator[ReplyPart]:
    yield ReplyText(text=text)


def _ignore_result(future: asyncio.Future[str]) -> None:
    """Retrieve a speculative result's exception so it is never reported as unhandled."""
    if not future.cancelled():
        future.exception()


def _log_task_error(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
