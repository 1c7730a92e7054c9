"""A light echo canceller for speakerphones without echo cancellation.

The agent's audio comes back into the microphone delayed (playback lead, device buffers)
and attenuated. For each input frame, find the delay at which the recently sent agent
audio best matches it (normalised cross-correlation, by FFT), estimate the gain, and
subtract that copy. Pure echo leaves almost nothing; a user talking over the agent is
left in the residual, so barge-in still works. A single-tap model: reverberant rooms are
cancelled partly, not fully.

Pure: numpy only; times in ms are passed in.
"""

from __future__ import annotations

import numpy as np

from voxgate.audio.pcm import Float32Array

MIN_MATCH = 0.3
"""Normalised correlation below which the input is not taken for echo at all."""


class EchoCanceller:
    """Feed sent agent audio with :meth:`reference`, microphone frames with :meth:`process`
    (both 16 kHz float32); use the returned residual instead of the frame."""

    __slots__ = ("_last_ref_ms", "_ref", "history", "rate")

    def __init__(self, rate: int = 16000, history_ms: float = 1000.0) -> None:
        self.rate = rate
        self.history = int(rate * history_ms / 1000)
        self._ref: Float32Array = np.zeros(0, dtype=np.float32)
        self._last_ref_ms = -1e12

    def reference(self, samples: Float32Array, at_ms: float) -> None:
        """Agent audio sent at ``at_ms`` (it may come back within the history window)."""
        if samples.size == 0:
            return
        self._ref = np.concatenate([self._ref, samples])[-self.history :]
        self._last_ref_ms = at_ms

    def active(self, at_ms: float) -> bool:
        """Whether an echo of recent agent audio can still arrive."""
        return self._ref.size > 0 and at_ms - self._last_ref_ms <= self.history * 1000 / self.rate

    def process(self, frame: Float32Array, at_ms: float) -> Float32Array:
        """The frame with the best-matching delayed copy of the agent audio removed."""
        n = frame.size
        if not self.active(at_ms) or self._ref.size < n:
            return frame
        frame_energy = float(np.dot(frame, frame))
        if frame_energy < 1e-10:
            return frame
        ref = self._ref
        size = 1 << int(np.ceil(np.log2(ref.size + n)))
        corr = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(frame, size)), size)
        corr = corr[: ref.size - n + 1]
        squares = np.concatenate([[0.0], np.cumsum(ref.astype(np.float64) ** 2)])
        windows = squares[n:] - squares[:-n]
        ncc = corr / np.sqrt(windows * frame_energy + 1e-12)
        lag = int(np.argmax(ncc))
        if ncc[lag] < MIN_MATCH or windows[lag] < 1e-10:
            return frame
        gain = corr[lag] / windows[lag]
        residual: Float32Array = (frame - gain * ref[lag : lag + n]).astype(np.float32)
        return residual
