"""Client-side audio: the playback jitter buffer and the capture resampler (pure: the
caller's clock pulls; no I/O).

The jitter buffer holds agent audio until ``target`` samples are queued (or the same
time has passed with some queued, so a short tail still plays), then plays gaplessly;
an underrun pads with silence and buffers again. :meth:`JitterBuffer.flush` drops
everything at once (on ``interruption``). Thread-safe: a sound card callback may read
while the event loop writes.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from voxgate.audio.pcm import Int16Array
from voxgate.audio.resample import StreamResampler


class JitterBuffer:
    """Agent audio waiting to be played, at one sample rate."""

    def __init__(self, rate: int, target_ms: float = 200.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if target_ms < 0:
            raise ValueError("target_ms must not be negative")
        self.rate = rate
        self.target = int(rate * target_ms / 1000)
        self._chunks: deque[Int16Array] = deque()
        self._queued = 0
        self._offset = 0  # samples of _chunks[0] already played
        self._playing = False
        self._waited = 0  # samples of time spent buffering with audio queued
        self._lock = threading.Lock()
        self.played = 0
        """Samples of agent audio played so far (silence padding not counted)."""
        self.dropped = 0
        """Samples flushed unplayed."""

    @property
    def queued(self) -> int:
        """Samples waiting to be played."""
        return self._queued

    @property
    def busy(self) -> bool:
        """Whether agent audio is queued or playing."""
        return self._queued > 0

    def push(self, samples: Int16Array) -> None:
        if samples.size == 0:
            return
        with self._lock:
            self._chunks.append(samples)
            self._queued += int(samples.size)

    def flush(self) -> int:
        """Drop everything queued (the user interrupted); returns the samples dropped."""
        with self._lock:
            dropped = self._queued
            self._chunks.clear()
            self._queued = self._offset = self._waited = 0
            self._playing = False
            self.dropped += dropped
            return dropped

    def read(self, n: int) -> tuple[Int16Array, int]:
        """The next ``n`` samples to play, and how many of them (a prefix) are agent audio;
        the rest is silence."""
        out = np.zeros(n, dtype=np.int16)
        with self._lock:
            if not self._playing:
                if self._queued == 0:
                    return out, 0
                self._waited += n
                if self._queued < self.target and self._waited < self.target:
                    return out, 0
                self._playing = True
            filled = 0
            while filled < n and self._chunks:
                head = self._chunks[0]
                take = min(n - filled, head.size - self._offset)
                out[filled : filled + take] = head[self._offset : self._offset + take]
                filled += take
                self._offset += take
                if self._offset == head.size:
                    self._chunks.popleft()
                    self._offset = 0
            self._queued -= filled
            self.played += filled
            if self._queued == 0:  # ran dry (the turn ended, or audio is late): buffer again
                self._playing = False
                self._waited = 0
        return out, filled


class CaptureResampler:
    """Microphone audio at the device rate → PCM16 at the session rate, with the filter
    state kept across chunks (no clicks at chunk edges)."""

    def __init__(self, device_rate: int, session_rate: int) -> None:
        self.device_rate = device_rate
        self.session_rate = session_rate
        self._stream = StreamResampler(device_rate, session_rate)

    def process(self, samples: Int16Array | np.ndarray) -> Int16Array:
        """Resample one chunk; float input in [-1, 1] is converted to int16 first."""
        return self._stream.process(to_int16(samples))

    def flush(self) -> Int16Array:
        return self._stream.flush()


def to_int16(samples: np.ndarray) -> Int16Array:
    """int16 as is; float in [-1, 1] scaled and clipped; stereo averaged to mono."""
    x = np.asarray(samples)
    if x.ndim == 2:
        mono = x.mean(axis=1)
        x = mono if x.dtype.kind == "f" else np.rint(mono).astype(np.int32)
    if x.dtype == np.int16:
        return x
    if x.dtype.kind == "f":
        out: Int16Array = np.clip(np.rint(x * 32767.0), -32768, 32767).astype(np.int16)
        return out
    clipped: Int16Array = np.clip(x, -32768, 32767).astype(np.int16)
    return clipped
