"""voxgate.audio.wav: PCM16 mono round trip, stereo mixdown, other formats refused."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from voxgate.audio.wav import read_wav, write_wav


def _write_raw(path: Path, frames: bytes, *, channels: int, width: int, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100, 48000])
def test_round_trip(tmp_path: Path, rate: int) -> None:
    samples = np.array([0, 1, -1, 32767, -32768, 1234, -4321], dtype=np.int16)
    path = tmp_path / "a.wav"
    write_wav(path, samples, rate)
    got, got_rate = read_wav(path)
    assert got_rate == rate
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, samples)


def test_round_trip_accepts_str_path_and_empty(tmp_path: Path) -> None:
    path = str(tmp_path / "empty.wav")
    write_wav(path, np.zeros(0, dtype=np.int16), 16000)
    got, rate = read_wav(path)
    assert rate == 16000
    assert got.size == 0
    assert got.dtype == np.int16


def test_written_file_is_pcm16_mono(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    write_wav(path, np.array([1, 2, 3], dtype=np.int16), 24000)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        assert w.readframes(3) == b"\x01\x00\x02\x00\x03\x00"


def test_stereo_is_mixed_down(tmp_path: Path) -> None:
    left = np.array([1000, -2000, 32767, -32768, 10], dtype=np.int16)
    right = np.array([3000, -4000, 32767, -32768, -10], dtype=np.int16)
    interleaved = np.column_stack([left, right]).astype("<i2").tobytes()
    path = tmp_path / "stereo.wav"
    _write_raw(path, interleaved, channels=2, width=2, rate=16000)
    got, rate = read_wav(path)
    assert rate == 16000
    assert got.dtype == np.int16
    # Averaged in wide arithmetic: full-scale channels do not wrap around.
    assert got.tolist() == [2000, -3000, 32767, -32768, 0]


def test_8_bit_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    _write_raw(path, bytes([128, 200, 50]), channels=1, width=1, rate=8000)
    with pytest.raises(ValueError, match="16-bit"):
        read_wav(path)


def test_32_bit_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "s32.wav"
    _write_raw(path, b"\x00" * 16, channels=1, width=4, rate=8000)
    with pytest.raises(ValueError, match="16-bit"):
        read_wav(path)
