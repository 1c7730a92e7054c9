"""voxgate.audio.resample: chunked resampling equals one-shot and has no edge clicks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voxgate.audio.pcm import Int16Array
from voxgate.audio.resample import StreamResampler, resample

FREQ = 440.0
AMPLITUDE = 16000
PAIRS = [(44100, 16000), (44100, 24000), (48000, 16000), (48000, 24000)]
CHUNK_MS = [10, 20, 37]


def _sine(rate: int, seconds: float = 1.0) -> Int16Array:
    t = np.arange(int(rate * seconds)) / rate
    out: Int16Array = np.round(AMPLITUDE * np.sin(2 * np.pi * FREQ * t)).astype(np.int16)
    return out


def _stream(samples: Int16Array, src: int, dst: int, chunk_ms: int) -> tuple[Int16Array, int]:
    """Resample chunk by chunk, then flush; returns the output and the flushed length."""
    resampler = StreamResampler(src, dst)
    step = src * chunk_ms // 1000
    parts = [resampler.process(samples[i : i + step]) for i in range(0, samples.size, step)]
    tail = resampler.flush()
    return np.concatenate([*parts, tail]), tail.size


def _assert_close(got: Int16Array, expected: Int16Array, lsb: int = 4) -> None:
    """Equal up to a few LSBs (soxr's int16 output rounding depends on chunking)."""
    assert np.abs(got.astype(np.int32) - expected.astype(np.int32)).max() <= lsb


def _max_step(samples: Int16Array) -> int:
    return int(np.abs(np.diff(samples.astype(np.int32))).max())


def _step_bound(rate: int) -> float:
    """Largest sample-to-sample step a clean 440 Hz sine allows, plus a small margin."""
    return 2 * math.pi * FREQ / rate * AMPLITUDE * 1.03 + 8


@pytest.mark.parametrize("chunk_ms", CHUNK_MS)
@pytest.mark.parametrize(("src", "dst"), [*PAIRS, (16000, 24000), (8000, 48000)])
def test_chunked_equals_one_shot(src: int, dst: int, chunk_ms: int) -> None:
    signal = _sine(src)
    chunked, _ = _stream(signal, src, dst, chunk_ms)
    whole = resample(signal, src, dst)
    assert chunked.dtype == np.int16
    assert whole.dtype == np.int16
    # soxr compensates its filter delay in both modes: the outputs line up sample for
    # sample (no shift needed) and have the same length, within a sample of rounding.
    assert abs(chunked.size - whole.size) <= 1
    assert whole.size == pytest.approx(signal.size * dst / src, abs=1)
    n = min(chunked.size, whole.size)
    _assert_close(chunked[:n], whole[:n])


@pytest.mark.parametrize("chunk_ms", CHUNK_MS)
@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_chunked_has_no_clicks(src: int, dst: int, chunk_ms: int) -> None:
    chunked, _ = _stream(_sine(src), src, dst, chunk_ms)
    assert _max_step(chunked) <= _step_bound(dst)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_output_keeps_pitch_and_level(src: int, dst: int) -> None:
    chunked, _ = _stream(_sine(src), src, dst, 20)
    body = chunked[dst // 10 : -dst // 10].astype(np.float64)  # away from the edges
    crossings = np.count_nonzero(np.diff(np.signbit(body)))
    seconds = body.size / dst
    assert crossings / 2 / seconds == pytest.approx(FREQ, rel=0.01)
    assert np.sqrt(np.mean(body**2)) == pytest.approx(AMPLITUDE / math.sqrt(2), rel=0.01)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_click_check_catches_stateless_resampling(src: int, dst: int) -> None:
    """The bound above is tight enough: resampling each chunk afresh breaks it."""
    signal = _sine(src)
    step = src * 20 // 1000
    naive = np.concatenate(
        [resample(signal[i : i + step], src, dst) for i in range(0, signal.size, step)]
    )
    assert _max_step(naive) > _step_bound(dst)


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_passthrough_when_rates_are_equal(rate: int) -> None:
    signal = _sine(rate, 0.1)
    resampler = StreamResampler(rate, rate)
    out = resampler.process(signal)
    np.testing.assert_array_equal(out, signal)
    flushed = resampler.flush()
    assert flushed.dtype == np.int16
    assert flushed.size == 0
    np.testing.assert_array_equal(resample(signal, rate, rate), signal)


def test_flush_returns_the_tail() -> None:
    src, dst = 48000, 16000
    signal = _sine(src, 0.5)
    resampler = StreamResampler(src, dst)
    head = resampler.process(signal)
    tail = resampler.flush()
    assert tail.dtype == np.int16
    assert tail.size > 0  # the filter held samples back
    assert head.size + tail.size == pytest.approx(signal.size * dst / src, abs=1)
    # The tail is the continuation of the signal, not silence or a restart.
    whole = resample(signal, src, dst)
    n = min(whole.size, head.size + tail.size)
    _assert_close(np.concatenate([head, tail])[:n], whole[:n])


def test_flush_resets_the_stream_for_a_new_signal() -> None:
    src, dst = 44100, 24000
    signal = _sine(src, 0.3)
    resampler = StreamResampler(src, dst)
    first = np.concatenate([resampler.process(signal), resampler.flush()])
    second = np.concatenate([resampler.process(signal), resampler.flush()])
    # Same length and no leftover from the first signal; int16 rounding may differ by LSBs.
    assert second.size == first.size
    _assert_close(second, first)


def test_empty_chunks_are_harmless() -> None:
    src, dst = 48000, 24000
    signal = _sine(src, 0.2)
    empty = np.zeros(0, dtype=np.int16)
    resampler = StreamResampler(src, dst)
    parts = []
    for i in range(0, signal.size, 480):
        parts.append(resampler.process(empty))
        parts.append(resampler.process(signal[i : i + 480]))
    parts.append(resampler.flush())
    reference, _ = _stream(signal, src, dst, 10)
    got = np.concatenate(parts)
    assert got.size == reference.size
    _assert_close(got, reference)
