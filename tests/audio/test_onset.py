"""voxgate.audio.onset: which frames may be speech beginning."""

from __future__ import annotations

import numpy as np

from voxgate.audio.onset import OnsetGate, level_db

RATE = 16000
N = 512


def tone(db: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(N).astype(np.float32)
    noise *= np.float32(10 ** (db / 20) / np.sqrt(np.mean(noise**2)))
    return noise


def test_level_db() -> None:
    assert abs(level_db(tone(-20)) - -20) < 0.01
    assert level_db(np.zeros(N, np.float32)) == -120.0


def test_sound_well_above_the_floor_is_loud() -> None:
    gate = OnsetGate()
    assert not any(gate.loud(tone(-70, i)) for i in range(10))
    assert gate.loud(tone(-35))


def test_quiet_sound_is_never_loud_and_steady_noise_stops_being_loud() -> None:
    gate = OnsetGate()
    assert not gate.loud(tone(-60))
    gate = OnsetGate()
    gate.loud(tone(-80))
    results = [gate.loud(tone(-40, i)) for i in range(200)]
    assert results[0] and not results[-1]  # the floor rose to the background


def test_frames_the_echo_canceller_attenuated_are_echo_not_onset() -> None:
    gate = OnsetGate()
    gate.loud(tone(-80))
    mic = tone(-30)
    assert not gate.loud(mic, mic * np.float32(0.3))  # ~10 dB removed: echo
    assert gate.loud(mic, mic * np.float32(0.9))  # ~1 dB removed: the user
