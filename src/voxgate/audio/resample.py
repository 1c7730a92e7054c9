"""Stateful resampling (soxr): one stream per direction per conversation, no edge clicks."""

from __future__ import annotations

import numpy as np
import soxr

from voxgate.audio.pcm import Int16Array


class StreamResampler:
    """Resamples consecutive chunks of one signal; keeps filter state between calls.

    Call ``process`` for each chunk in order and ``flush`` once at the end of the signal.
    """

    __slots__ = ("_stream", "dst_rate", "src_rate")

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._stream = (
            None
            if src_rate == dst_rate
            else soxr.ResampleStream(src_rate, dst_rate, 1, dtype="int16", quality="HQ")
        )

    def process(self, samples: Int16Array) -> Int16Array:
        if self._stream is None:
            return samples
        out: Int16Array = self._stream.resample_chunk(samples)
        return out

    def flush(self) -> Int16Array:
        """Return the samples still held in the filter; the stream is then reset."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out: Int16Array = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._stream.clear()
        return out


def resample(samples: Int16Array, src_rate: int, dst_rate: int) -> Int16Array:
    """Resample a whole signal at once."""
    if src_rate == dst_rate:
        return samples
    out: Int16Array = soxr.resample(samples, src_rate, dst_rate, quality="HQ")
    return out
