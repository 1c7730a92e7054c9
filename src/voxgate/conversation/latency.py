"""How long each stage of one turn took: one frozen value, carried unchanged from the
engine through the store to the API, the CLI and the metrics.

The engine notes monotonic milestones in a :class:`TurnClock` while a turn runs and turns
them into a :class:`TurnLatency` once; everything downstream reads that value, and the
stage table :data:`STAGES` says what each field is called where it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Stage:
    """One latency field: its name on :class:`TurnLatency` (and in the API and the store),
    its metric label, its short label for people, and what it measures."""

    field: str
    metric: str
    label: str
    description: str


STAGES: tuple[Stage, ...] = (
    Stage("endpointing_ms", "endpointing", "endpointing", "Last user speech to end of turn."),
    Stage("stt_ms", "stt", "stt", "End of turn to transcript."),
    Stage(
        "agent_first_text_ms", "agent_first_text", "first text", "Transcript to first reply text."
    ),
    Stage(
        "tts_first_audio_ms",
        "tts_first_audio",
        "first audio",
        "First reply text to first audio.",
    ),
    Stage("first_byte_ms", "first_byte", "first byte", "First audio to first byte sent."),
    Stage(
        "voice_to_voice_ms",
        "voice_to_voice",
        "voice-to-voice",
        "Last user speech to first byte sent.",
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnLatency:
    """Milliseconds of each stage of a turn; ``None`` where it was not measured (a chat
    turn, a greeting, or the stages that belong to the other side of the turn)."""

    endpointing_ms: float | None = None
    stt_ms: float | None = None
    agent_first_text_ms: float | None = None
    tts_first_audio_ms: float | None = None
    first_byte_ms: float | None = None
    voice_to_voice_ms: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.items():
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")

    def items(self) -> tuple[tuple[str, float | None], ...]:
        """``(field, value)`` in stage order."""
        return tuple((f.name, getattr(self, f.name)) for f in fields(self))

    def user_side(self) -> TurnLatency:
        """The stages recorded with the user's turn (hearing it)."""
        return TurnLatency(endpointing_ms=self.endpointing_ms, stt_ms=self.stt_ms)

    def agent_side(self) -> TurnLatency:
        """The stages recorded with the agent's turn (answering it)."""
        return TurnLatency(
            agent_first_text_ms=self.agent_first_text_ms,
            tts_first_audio_ms=self.tts_first_audio_ms,
            first_byte_ms=self.first_byte_ms,
            voice_to_voice_ms=self.voice_to_voice_ms,
        )


NO_LATENCY = TurnLatency()

assert tuple(s.field for s in STAGES) == tuple(f.name for f in fields(TurnLatency))


@dataclass(slots=True)
class TurnClock:
    """Monotonic seconds of one turn's milestones, noted as they happen (``None`` until
    reached). Mutable and private to the engine; :meth:`latency` is what leaves it."""

    speech_end: float | None = None
    detected: float | None = None
    stt_done: float | None = None
    first_text: float | None = None
    first_audio: float | None = None
    first_sent: float | None = None

    def latency(self) -> TurnLatency:
        def span(a: float | None, b: float | None) -> float | None:
            # max(0): milestones dated back (speech_end) can fall a hair after "detected".
            return max(0.0, round((b - a) * 1000, 1)) if a is not None and b is not None else None

        return TurnLatency(
            endpointing_ms=span(self.speech_end, self.detected),
            stt_ms=span(self.detected, self.stt_done),
            agent_first_text_ms=span(self.stt_done, self.first_text),
            tts_first_audio_ms=span(self.first_text, self.first_audio),
            first_byte_ms=span(self.first_audio, self.first_sent),
            voice_to_voice_ms=span(self.speech_end, self.first_sent),
        )
