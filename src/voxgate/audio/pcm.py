"""PCM16 little-endian mono helpers. Pure: no I/O, no clock."""

from __future__ import annotations

import base64
import binascii

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]

SUPPORTED_RATES = (8000, 16000, 24000, 48000)


def b64decode_strict(data: str) -> bytes:
    """Decode standard base64; raises ``ValueError`` on any invalid character or padding."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64: {exc}") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def bytes_to_int16(pcm: bytes) -> Int16Array:
    """View even-length PCM16LE bytes as samples (no copy)."""
    return np.frombuffer(pcm, dtype="<i2")


def int16_to_float32(samples: Int16Array) -> Float32Array:
    return samples.astype(np.float32) * np.float32(1 / 32768)


def float32_to_int16(samples: Float32Array) -> Int16Array:
    out: Int16Array = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
    return out


def duration_ms(n_bytes: int, rate: int) -> float:
    """Duration of ``n_bytes`` of PCM16 mono at ``rate``."""
    return n_bytes / 2 / rate * 1000.0


def rms_dbfs(samples: Int16Array) -> float:
    """Level in dBFS (-inf for digital silence)."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * np.log10(rms / 32768) if rms > 0 else float("-inf")


class SampleAligner:
    """Carries a trailing odd byte of one chunk into the next so samples never split."""

    __slots__ = ("_carry",)

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        """Return the whole samples available after ``chunk``; keep the odd byte, if any."""
        if self._carry:
            chunk = self._carry + chunk
        if len(chunk) % 2:
            self._carry = chunk[-1:]
            return chunk[:-1]
        self._carry = b""
        return chunk


class FrameSplitter:
    """Cuts a stream of float32 samples into fixed-size frames, keeping the remainder."""

    __slots__ = ("_buf", "_fill", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf: Float32Array = np.zeros(size, dtype=np.float32)
        self._fill = 0

    def feed(self, samples: Float32Array) -> list[Float32Array]:
        """Return the complete frames (fresh arrays) that ``samples`` finishes."""
        frames: list[Float32Array] = []
        pos = 0
        n = samples.size
        while pos < n:
            take = min(self.size - self._fill, n - pos)
            self._buf[self._fill : self._fill + take] = samples[pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self.size:
                frames.append(self._buf.copy())
                self._fill = 0
        return frames
