"""voxgate.audio.echo: removing a delayed, attenuated copy of the agent's audio."""

from __future__ import annotations

import numpy as np

from voxgate.audio.echo import EchoCanceller

RATE = 16000


def voice_like(seconds: float, seed: int) -> np.ndarray:
    """Noise shaped by a slow envelope: broadband like speech, never periodic."""
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    envelope = 0.5 + 0.5 * np.sin(np.linspace(0, 12 * np.pi, n)) ** 2
    return (rng.standard_normal(n) * 0.1 * envelope).astype(np.float32)


def energy_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


def test_pure_echo_is_removed() -> None:
    agent = voice_like(1.0, 1)
    canceller = EchoCanceller(RATE)
    canceller.reference(agent, at_ms=1000)
    delay = 4000  # 250 ms
    echo = 0.316 * agent[delay - 512 : delay]  # -10 dB, a frame of what was sent earlier
    residual = canceller.process(echo, at_ms=1000)
    assert energy_db(residual) < energy_db(echo) - 30


def test_the_user_over_the_echo_survives() -> None:
    agent, user = voice_like(1.0, 1), voice_like(0.1, 2)[:512]
    canceller = EchoCanceller(RATE)
    canceller.reference(agent, at_ms=1000)
    echo = 0.316 * agent[3000:3512]
    residual = canceller.process(echo + user, at_ms=1000)
    assert abs(energy_db(residual) - energy_db(user)) < 1.0  # the user, echo removed
    assert float(np.corrcoef(residual, user)[0, 1]) > 0.99


def test_unrelated_input_is_untouched() -> None:
    canceller = EchoCanceller(RATE)
    canceller.reference(voice_like(1.0, 1), at_ms=0)
    user = voice_like(0.1, 3)[:512]
    assert np.array_equal(canceller.process(user, at_ms=10), user)


def test_no_reference_or_old_reference_is_a_no_op() -> None:
    canceller = EchoCanceller(RATE, history_ms=1000)
    frame = voice_like(0.1, 4)[:512]
    assert canceller.process(frame, at_ms=0) is frame
    canceller.reference(voice_like(1.0, 5), at_ms=0)
    assert canceller.active(900) and not canceller.active(1500)
    assert canceller.process(frame, at_ms=1500) is frame


def test_silence_in_silence_out() -> None:
    canceller = EchoCanceller(RATE)
    canceller.reference(voice_like(1.0, 1), at_ms=0)
    zero = np.zeros(512, dtype=np.float32)
    assert np.array_equal(canceller.process(zero, at_ms=1), zero)
