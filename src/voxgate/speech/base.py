"""What the conversation engine needs from speech models, as Protocols.

The engine imports only this module; the server wires in the real models
(:class:`voxgate.speech.services.SpeechServices`), tests wire in fakes. Every async method
may run its model in a worker thread; none may block the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voxgate.audio.pcm import Float32Array, Int16Array

VAD_RATE = 16000
"""The rate of the audio VAD, STT and the end-of-turn model read."""
VAD_FRAME = 512
"""Samples per VAD frame."""
VAD_FRAME_MS = VAD_FRAME / VAD_RATE * 1000


class VadStream(Protocol):
    """One audio stream's voice activity detector (it keeps hidden state)."""

    def process(self, frame: Float32Array) -> float:
        """Speech probability of one frame of ``VAD_FRAME`` float32 samples in [-1, 1].
        Cheap and synchronous: called inline for every frame."""
        ...

    def release(self) -> None:
        """Give the stream back; do not use it afterwards."""
        ...


class VadStreams(Protocol):
    """Hands out per-call VAD streams."""

    def acquire(self) -> VadStream:
        """A fresh stream; call :meth:`VadStream.release` when the call ends."""
        ...


class Transcriber(Protocol):
    async def transcribe(self, audio16k: Float32Array) -> str:
        """The words in ``audio16k`` (mono float32 at ``VAD_RATE``); ``""`` for none."""
        ...


class Synthesizer(Protocol):
    @property
    def sample_rate(self) -> int:
        """Rate of the audio :meth:`synthesize` returns."""
        ...

    async def synthesize(self, text: str) -> Int16Array:
        """Speech for one sentence, mono int16 at :attr:`sample_rate`."""
        ...


class TurnModel(Protocol):
    async def turn_complete(self, audio16k: Float32Array) -> float:
        """P(the user has finished their turn) for the end of ``audio16k``."""
        ...


@dataclass(frozen=True, slots=True)
class Speech:
    """The speech models one voice call uses."""

    vad: VadStreams
    stt: Transcriber
    tts: Synthesizer
    turn_model: TurnModel | None = None
    """None: end turns on silence alone."""
