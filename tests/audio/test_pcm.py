"""voxgate.audio.pcm: base64, sample alignment, framing, levels, durations."""

from __future__ import annotations

import base64
import math
from itertools import pairwise
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.audio.pcm import (
    FrameSplitter,
    SampleAligner,
    b64decode_strict,
    b64encode,
    bytes_to_int16,
    duration_ms,
    float32_to_int16,
    int16_to_float32,
    rms_dbfs,
)

_S = TypeVar("_S", bytes, np.ndarray)


def _chunked(data: _S, cuts: list[int]) -> list[_S]:
    """``data`` cut at the given (unsorted, possibly repeated) positions."""
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in pairwise(bounds)]


# -- base64 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", b""), ("AAE=", b"\x00\x01"), ("YWJj", b"abc"), ("/+8=", b"\xff\xef")],
)
def test_b64decode_strict_valid(text: str, expected: bytes) -> None:
    assert b64decode_strict(text) == expected


@given(st.binary(max_size=300))
def test_b64_round_trip(data: bytes) -> None:
    assert b64decode_strict(b64encode(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        "YW$j",  # character outside the alphabet
        "YW Jj",  # whitespace is not skipped
        "YWJj\n",
        "YW-_",  # URL-safe alphabet is not standard base64
        "YWJjé",  # non-ASCII
    ],
)
def test_b64decode_strict_rejects_invalid_characters(text: str) -> None:
    with pytest.raises(ValueError, match="invalid base64"):
        b64decode_strict(text)


@pytest.mark.parametrize("text", ["YWJ", "YQ", "YQ=", "Y", "YQ==YQ==", "=YWJ"])
def test_b64decode_strict_rejects_bad_padding(text: str) -> None:
    with pytest.raises(ValueError, match="invalid base64"):
        b64decode_strict(text)


def test_b64encode_is_standard_padded_ascii() -> None:
    assert b64encode(b"\xff\xef") == base64.b64encode(b"\xff\xef").decode() == "/+8="


# -- conversions -------------------------------------------------------------------------


def test_bytes_to_int16_is_little_endian() -> None:
    assert bytes_to_int16(b"\x01\x00\xff\xff\x00\x80").tolist() == [1, -1, -32768]


@given(st.lists(st.integers(-32768, 32767), max_size=200))
def test_int16_float32_round_trip(values: list[int]) -> None:
    samples = np.array(values, dtype=np.int16)
    floats = int16_to_float32(samples)
    assert floats.dtype == np.float32
    assert np.all(np.abs(floats) <= 1.0)
    np.testing.assert_array_equal(float32_to_int16(floats), samples)


def test_float32_to_int16_clips() -> None:
    out = float32_to_int16(np.array([2.0, 1.0, -1.0, -3.0, 0.5], dtype=np.float32))
    assert out.dtype == np.int16
    assert out.tolist() == [32767, 32767, -32768, -32768, 16384]


# -- SampleAligner -----------------------------------------------------------------------


def test_sample_aligner_carries_odd_byte_into_next_chunk() -> None:
    aligner = SampleAligner()
    assert aligner.feed(b"\x01\x02\x03") == b"\x01\x02"
    assert aligner.feed(b"\x04") == b"\x03\x04"
    assert aligner.feed(b"\x05") == b""
    assert aligner.feed(b"") == b""
    assert aligner.feed(b"\x06\x07\x08") == b"\x05\x06\x07\x08"


def test_sample_aligner_even_chunks_pass_through() -> None:
    aligner = SampleAligner()
    assert aligner.feed(b"ab") == b"ab"
    assert aligner.feed(b"cdef") == b"cdef"


@given(st.binary(max_size=200), st.lists(st.integers(min_value=0), max_size=20))
def test_sample_aligner_any_chunking(data: bytes, cuts: list[int]) -> None:
    aligner = SampleAligner()
    outputs = [aligner.feed(chunk) for chunk in _chunked(data, cuts)]
    assert all(len(out) % 2 == 0 for out in outputs)
    assert b"".join(outputs) == data[: len(data) - len(data) % 2]


# -- FrameSplitter -----------------------------------------------------------------------


def test_frame_splitter_keeps_remainder() -> None:
    splitter = FrameSplitter(4)
    first = splitter.feed(np.arange(6, dtype=np.float32))
    assert [f.tolist() for f in first] == [[0, 1, 2, 3]]
    second = splitter.feed(np.arange(6, 9, dtype=np.float32))
    assert [f.tolist() for f in second] == [[4, 5, 6, 7]]
    assert splitter.feed(np.zeros(0, dtype=np.float32)) == []


def test_frame_splitter_frames_are_fresh_arrays() -> None:
    splitter = FrameSplitter(2)
    frames = splitter.feed(np.array([1, 2, 3, 4], dtype=np.float32))
    frames[0][0] = 99.0
    later = splitter.feed(np.array([5, 6], dtype=np.float32))
    assert [f.tolist() for f in frames] == [[99, 2], [3, 4]]
    assert [f.tolist() for f in later] == [[5, 6]]


@given(
    st.integers(min_value=1, max_value=40),
    st.lists(st.floats(-1, 1, width=32), max_size=300),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_frame_splitter_any_chunking_matches_one_shot(
    size: int, values: list[float], cuts: list[int]
) -> None:
    samples = np.array(values, dtype=np.float32)
    expected = FrameSplitter(size).feed(samples)
    assert len(expected) == len(values) // size

    splitter = FrameSplitter(size)
    got: list[np.ndarray] = []
    for chunk in _chunked(samples, cuts):
        got.extend(splitter.feed(chunk))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == np.float32
        assert g.shape == (size,)
        np.testing.assert_array_equal(g, e)


# -- levels and durations ----------------------------------------------------------------


def test_rms_dbfs_silence_and_empty_are_minus_infinity() -> None:
    assert rms_dbfs(np.zeros(0, dtype=np.int16)) == float("-inf")
    assert rms_dbfs(np.zeros(160, dtype=np.int16)) == float("-inf")


def test_rms_dbfs_full_scale_square_is_zero() -> None:
    assert rms_dbfs(np.full(100, -32768, dtype=np.int16)) == pytest.approx(0.0)


def test_rms_dbfs_half_scale_is_minus_six() -> None:
    samples = np.array([16384, -16384] * 50, dtype=np.int16)
    assert rms_dbfs(samples) == pytest.approx(20 * math.log10(0.5))


def test_rms_dbfs_sine() -> None:
    amplitude = 10000
    t = np.arange(16000) / 16000
    samples = np.round(amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    expected = 20 * math.log10(amplitude / math.sqrt(2) / 32768)
    assert rms_dbfs(samples) == pytest.approx(expected, abs=0.01)


def test_rms_dbfs_does_not_overflow_int16() -> None:
    # Squaring in int16 would wrap around; the level must still be near full scale.
    assert rms_dbfs(np.full(10, 32767, dtype=np.int16)) == pytest.approx(0.0, abs=0.001)


@pytest.mark.parametrize(
    ("n_bytes", "rate", "expected"),
    [
        (0, 16000, 0.0),
        (32000, 16000, 1000.0),
        (960, 24000, 20.0),
        (320, 8000, 20.0),
        (9600, 48000, 100.0),
        (1, 16000, 1 / 32),
    ],
)
def test_duration_ms(n_bytes: int, rate: int, expected: float) -> None:
    assert duration_ms(n_bytes, rate) == pytest.approx(expected)
