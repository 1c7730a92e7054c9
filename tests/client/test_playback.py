"""voxgate.client.playback: the jitter buffer and the capture resampler."""

from __future__ import annotations

import numpy as np
import pytest

from voxgate.client.playback import CaptureResampler, JitterBuffer, to_int16

RATE = 24000
BLOCK = 480  # 20 ms


def ramp(n: int, start: int = 1) -> np.ndarray:
    return (np.arange(start, start + n) % 30000).astype(np.int16)


def test_waits_for_the_target_then_plays_gaplessly() -> None:
    buf = JitterBuffer(RATE, target_ms=100)  # 2400 samples
    buf.push(ramp(1000))
    out, real = buf.read(BLOCK)
    assert real == 0 and not out.any()  # still buffering
    buf.push(ramp(3000, start=1001))
    played = []
    while buf.queued:
        out, real = buf.read(BLOCK)
        played.append(out[:real])
    signal = np.concatenate(played)
    assert np.array_equal(signal, ramp(4000))  # every sample, in order, no gap
    assert buf.played == 4000


def test_a_short_tail_still_plays_after_the_target_time() -> None:
    buf = JitterBuffer(RATE, target_ms=100)
    buf.push(ramp(500))
    reads = 0
    while buf.played == 0:
        buf.read(BLOCK)
        reads += 1
    assert reads * BLOCK >= buf.target  # waited ~the target, then played what there was
    assert reads <= buf.target // BLOCK + 1


def test_flush_drops_everything_at_once() -> None:
    buf = JitterBuffer(RATE, target_ms=0)
    buf.push(ramp(5000))
    buf.read(BLOCK)
    assert buf.flush() == 5000 - BLOCK
    assert buf.queued == 0 and not buf.busy
    out, real = buf.read(BLOCK)
    assert real == 0 and not out.any()
    assert buf.dropped == 5000 - BLOCK and buf.played == BLOCK


def test_underrun_pads_with_silence_and_buffers_again() -> None:
    buf = JitterBuffer(RATE, target_ms=0)
    buf.push(ramp(100))
    out, real = buf.read(BLOCK)
    assert real == 100 and not out[100:].any()
    assert not buf.busy


@pytest.mark.parametrize("device_rate", [44100, 48000])
@pytest.mark.parametrize("session_rate", [16000, 24000])
@pytest.mark.parametrize("chunk", [441, 480, 1024, 4096, 137])
def test_capture_resampling_is_continuous_across_chunks(
    device_rate: int, session_rate: int, chunk: int
) -> None:
    """A 440 Hz sine captured in chunks comes out as one smooth sine: no clicks at the
    chunk edges (a click is a sample-to-sample jump far above the sine's largest step)."""
    seconds = 1.0
    t = np.arange(int(device_rate * seconds)) / device_rate
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    resampler = CaptureResampler(device_rate, session_rate)
    parts = [resampler.process(sine[i : i + chunk]) for i in range(0, sine.size, chunk)]
    parts.append(resampler.flush())
    out = np.concatenate(parts).astype(np.float64) / 32767
    assert abs(out.size - seconds * session_rate) <= 2
    body = out[200:-200]  # filter edges at the very start and end of the signal
    largest_step = 0.5 * 2 * np.pi * 440 / session_rate
    assert np.max(np.abs(np.diff(body))) < largest_step * 1.1
    # and it is the same sine: compare with the ideal signal at the session rate
    ideal = 0.5 * np.sin(2 * np.pi * 440 * np.arange(out.size) / session_rate)
    lag = int(np.argmax(np.correlate(out[:2000], ideal[:2000], "full"))) - 1999
    shifted = np.roll(ideal, lag)[300:-300]
    assert np.max(np.abs(out[300:-300] - shifted)) < 0.02


def test_to_int16_converts_float_and_stereo() -> None:
    assert to_int16(np.array([0.0, 1.0, -1.0, 2.0])).tolist() == [0, 32767, -32767, 32767]
    stereo = np.array([[100, 300], [-100, -300]], dtype=np.int16)
    assert to_int16(stereo).tolist() == [200, -200]
