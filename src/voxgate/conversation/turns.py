"""Turn-taking as a pure state machine, fed with VAD probabilities and stream times.

No audio, no clock: the caller passes each VAD frame's speech probability and the stream
time (ms of input audio received) at the frame's end, and gets back what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnSettings:
    """Per-agent turn settings (milliseconds unless said otherwise)."""

    vad_threshold: float = 0.5
    """Speech probability at or above which a frame counts as speech."""
    min_speech_ms: float = 150.0
    """Speech needed before a user turn starts (shorter blips are ignored)."""
    silence_ms: float = 600.0
    """Non-speech after which the user's turn ends."""
    prefix_padding_ms: float = 300.0
    """Audio kept from before speech onset and handed to STT."""
    barge_in_min_ms: float = 150.0
    """Speech needed, while the agent talks, to interrupt it (guards against echo)."""
    onset_lookback_ms: float = 300.0
    """How far a turn's start may be dated back before the VAD's first speech frame, to
    where the sound began (loud frames right before it, not echo): the VAD is late on
    fricatives. 0 counts speech from the VAD alone."""
    echo_cancel: bool = True
    """Remove the agent's own voice coming back into the microphone before VAD and STT
    (speakerphones without echo cancellation)."""
    smart_turn: bool = True
    """At a pause, ask the end-of-turn model (Smart Turn) whether the user is done; if
    it is sure (``smart_turn_threshold``), end the turn then instead of after
    ``silence_ms``. Faster turns; now and then a user who pauses mid-sentence is cut."""
    smart_turn_threshold: float = 0.5
    pause_ms: float = 150.0
    """Silence after which the turn *may* be over: speculative STT (and an end-of-turn
    model, if enabled) start here; the turn ends for sure after ``silence_ms``."""
    max_turn_ms: float = 28000.0
    """A user turn is ended after this long even without silence (STT takes 30 s at most)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.vad_threshold < 1.0:
            raise ValueError("vad_threshold must be between 0 and 1")
        if not 0.0 < self.smart_turn_threshold < 1.0:
            raise ValueError("smart_turn_threshold must be between 0 and 1")
        for name in (
            "min_speech_ms",
            "silence_ms",
            "prefix_padding_ms",
            "barge_in_min_ms",
            "max_turn_ms",
            "pause_ms",
            "onset_lookback_ms",
        ):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative")

    @property
    def release_threshold(self) -> float:
        """Hysteresis: a frame is non-speech only below this."""
        return max(0.01, self.vad_threshold - 0.15)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted:
    """A user turn began at ``start_ms``; ``barge_in`` if the agent was talking."""

    start_ms: float
    barge_in: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnEnded:
    """The user's turn ended: speech spanned ``start_ms``..``end_ms``."""

    start_ms: float
    end_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused:
    """The user has been silent for ``pause_ms``: if the turn ends without more speech, it
    will be exactly ``start_ms``..``end_ms`` (so work on it may start now)."""

    start_ms: float
    end_ms: float


TurnAction = SpeechStarted | Paused | TurnEnded


class _State(Enum):
    IDLE = "idle"
    ONSET = "onset"  # speech seen, not yet long enough
    SPEAKING = "speaking"  # user turn confirmed


class TurnDetector:
    """Feed one VAD frame at a time with :meth:`feed`; tell it when the agent talks."""

    __slots__ = (
        "_last_speech_ms",
        "_loud_since_ms",
        "_onset_ms",
        "_paused",
        "_state",
        "agent_talking",
        "settings",
    )

    def __init__(self, settings: TurnSettings) -> None:
        self.settings = settings
        self.agent_talking = False
        self._state = _State.IDLE
        self._onset_ms = 0.0
        self._last_speech_ms = 0.0
        self._loud_since_ms: float | None = None
        self._paused = False

    @property
    def in_user_turn(self) -> bool:
        return self._state is _State.SPEAKING

    @property
    def pause(self) -> Paused | None:
        """The pause the user is in now (announced, speech not resumed), if any."""
        if self._state is not _State.SPEAKING or not self._paused:
            return None
        return Paused(start_ms=self._onset_ms, end_ms=self._last_speech_ms)

    def feed(
        self, prob: float, frame_start_ms: float, frame_end_ms: float, *, loud: bool = False
    ) -> TurnAction | None:
        """Process one frame spanning ``frame_start_ms``..``frame_end_ms`` of input.
        ``loud``: the frame's sound may be speech beginning (see ``onset_lookback_ms``)."""
        s = self.settings
        speech = prob >= s.vad_threshold
        silence = prob < s.release_threshold
        loud_since = self._loud_since_ms
        self._loud_since_ms = (
            (loud_since if loud_since is not None else frame_start_ms) if loud else None
        )
        match self._state:
            case _State.IDLE:
                if speech:
                    self._state = _State.ONSET
                    self._onset_ms = frame_start_ms
                    if loud_since is not None:  # the sound began before the VAD noticed
                        self._onset_ms = max(loud_since, frame_start_ms - s.onset_lookback_ms)
                    self._last_speech_ms = frame_end_ms
                    return self._maybe_confirm(frame_end_ms)
            case _State.ONSET:
                if silence:
                    self._state = _State.IDLE
                    return None
                self._last_speech_ms = frame_end_ms  # hysteresis: non-speech only below release
                return self._maybe_confirm(frame_end_ms)
            case _State.SPEAKING:
                if frame_end_ms - self._onset_ms >= s.max_turn_ms:
                    self._state = _State.IDLE
                    return TurnEnded(start_ms=self._onset_ms, end_ms=frame_end_ms)
                if not silence:
                    self._last_speech_ms = frame_end_ms
                    self._paused = False
                    return None
                quiet = frame_end_ms - self._last_speech_ms
                if quiet >= s.silence_ms:
                    return self.end_turn()
                if quiet >= s.pause_ms and not self._paused:
                    self._paused = True
                    return Paused(start_ms=self._onset_ms, end_ms=self._last_speech_ms)
        return None

    def end_turn(self) -> TurnEnded | None:
        """End the user's turn now (e.g. an end-of-turn model is sure it is over); ``None``
        when no turn is in progress."""
        if self._state is not _State.SPEAKING:
            return None
        self._state = _State.IDLE
        self._paused = False
        return TurnEnded(start_ms=self._onset_ms, end_ms=self._last_speech_ms)

    def _maybe_confirm(self, now_ms: float) -> SpeechStarted | None:
        needed = (
            self.settings.barge_in_min_ms if self.agent_talking else self.settings.min_speech_ms
        )
        if now_ms - self._onset_ms < needed:
            return None
        self._state = _State.SPEAKING
        self._paused = False
        return SpeechStarted(start_ms=self._onset_ms, barge_in=self.agent_talking)

    def reset(self) -> None:
        """Forget any speech in progress (e.g. after the call was paused)."""
        self._state = _State.IDLE
        self._paused = False
        self._loud_since_ms = None
