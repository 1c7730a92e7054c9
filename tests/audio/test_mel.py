"""voxgate.audio.mel: Whisper log-mel as Smart Turn wants it, checked against faster-whisper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from voxgate.audio.mel import N_MELS, slaney_mel_filterbank, whisper_log_mel
from voxgate.audio.pcm import Float32Array, int16_to_float32
from voxgate.audio.wav import read_wav

SPEECH_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"
WINDOW = 128_000
# Both sides compute Whisper's log-mel; faster-whisper in float32/complex64, we in float64.
ATOL = 1e-4


def utterance(n: int) -> Float32Array:
    samples, rate = read_wav(SPEECH_DIR / f"spk1_snt{n}.wav")
    assert rate == 16000
    return int16_to_float32(samples)


def left_padded(x: Float32Array, size: int = WINDOW) -> Float32Array:
    out = np.zeros(size, dtype=np.float32)
    out[size - len(x) :] = x[-size:]
    return out


def zero_mean_unit_var(x: Float32Array) -> Float32Array:
    out: Float32Array = ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor()


def test_filterbank_is_whispers(extractor: FeatureExtractor) -> None:
    ours = slaney_mel_filterbank()
    assert ours.shape == (N_MELS, 201)
    np.testing.assert_allclose(ours, extractor.get_mel_filters(16000, 400, 80), atol=1e-12)


def test_shape_and_dtype() -> None:
    x = utterance(1)
    out = whisper_log_mel(x)
    assert out.shape == (80, 800)
    assert out.dtype == np.float32
    assert whisper_log_mel(x, 100).shape == (80, 100)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_matches_faster_whisper_on_real_speech(extractor: FeatureExtractor, n: int) -> None:
    """Without Smart Turn's pre-normalisation the features are Whisper's own log-mel.

    faster-whisper pads 160 zeros at the end by default; ``padding=0`` gives the same 800
    frames of the same 8 s window (it too drops the STFT's last frame).
    """
    window = left_padded(utterance(n))
    reference = extractor(window, padding=0)
    assert reference.shape == (80, 800)
    np.testing.assert_allclose(whisper_log_mel(window, normalize=False), reference, atol=ATOL)
    # The short utterance itself gives the same: it is left zero-padded to the window.
    np.testing.assert_allclose(whisper_log_mel(utterance(n), normalize=False), reference, atol=ATOL)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_normalised_matches_faster_whisper_on_normalised_window(
    extractor: FeatureExtractor, n: int
) -> None:
    window = left_padded(utterance(n))
    reference = extractor(zero_mean_unit_var(window), padding=0)
    np.testing.assert_allclose(whisper_log_mel(utterance(n)), reference, atol=ATOL)


def test_short_input_is_left_zero_padded() -> None:
    x = utterance(2)
    out = whisper_log_mel(x)
    np.testing.assert_array_equal(out, whisper_log_mel(left_padded(x)))
    # Frames over the padding alone are all alike (a constant after normalisation); the
    # speech is at the end.
    speech_frames = len(x) // 160
    head = out[:, : 800 - speech_frames - 3]
    np.testing.assert_allclose(head, np.repeat(head[:, :1], head.shape[1], axis=1), atol=1e-6)
    assert out[:, -speech_frames:].max() == out.max()
    assert head.max() < out.max() - 1.0


def test_long_input_keeps_the_last_window() -> None:
    x = np.concatenate([utterance(1), utterance(2), utterance(3), utterance(4)])
    assert len(x) > WINDOW
    noise = np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    np.testing.assert_array_equal(
        whisper_log_mel(np.concatenate([noise, x])), whisper_log_mel(x[-WINDOW:])
    )


def test_normalisation_removes_gain_and_offset() -> None:
    x = left_padded(utterance(4))
    base = whisper_log_mel(x)
    np.testing.assert_allclose(whisper_log_mel(x * 0.5), base, atol=2e-3)
    np.testing.assert_allclose(whisper_log_mel(x * 2.0), base, atol=2e-3)
    np.testing.assert_allclose(whisper_log_mel(x + 0.01), base, atol=2e-3)
    raw = whisper_log_mel(x, normalize=False)
    assert not np.allclose(whisper_log_mel(x * 0.5, normalize=False), raw, atol=0.1)


def test_silence_and_empty_input_are_finite() -> None:
    for audio in (np.zeros(0, dtype=np.float32), np.zeros(16000, dtype=np.float32)):
        out = whisper_log_mel(audio)
        assert out.shape == (80, 800)
        assert np.ptp(out) == 0.0
        assert out[0, 0] == pytest.approx(-1.5)  # log10(1e-10) = -10 → (-10 + 4) / 4


def test_float64_input_is_accepted() -> None:
    x = utterance(5)
    np.testing.assert_allclose(whisper_log_mel(x.astype(np.float64)), whisper_log_mel(x), atol=1e-5)


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="1-D"):
        whisper_log_mel(np.zeros((2, 160), dtype=np.float32))
    with pytest.raises(TypeError, match="floating"):
        whisper_log_mel(np.zeros(160, dtype=np.int16))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_frames"):
        whisper_log_mel(np.zeros(160, dtype=np.float32), 0)
