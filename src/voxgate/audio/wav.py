"""WAV file reading and writing (PCM16 mono), via the standard library."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from voxgate.audio.pcm import Int16Array


def read_wav(path: str | Path) -> tuple[Int16Array, int]:
    """Read a PCM16 WAV; stereo is mixed down. Raises ``ValueError`` for other formats."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        channels = w.getnchannels()
        rate = w.getframerate()
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return data.astype(np.int16), rate


def write_wav(path: str | Path, samples: Int16Array, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
