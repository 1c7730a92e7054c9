"""Whisper-style log-mel features of a 16 kHz window, as the Smart Turn model expects them.

Pure: numpy only, no I/O, no clock. The steps, in order:

1. keep the last ``n_frames * 160`` samples, zero-padding on the LEFT when there are fewer;
2. (``normalize=True``) scale the whole window, padding included, to zero mean and unit
   variance: ``(x - mean) / sqrt(var + 1e-7)`` — what Hugging Face's
   ``WhisperFeatureExtractor(do_normalize=True)`` does and what Smart Turn was trained on;
3. power STFT: n_fft 400, hop 160, periodic Hann window, centred with reflect padding
   (``n_frames + 1`` frames);
4. 80 Slaney-scale, Slaney-normalised triangular mel bands over 0-8 kHz;
5. ``log10(max(p, 1e-10))``, drop the last frame, clamp from below at ``max - 8``, and map
   with ``(x + 4) / 4``.

Steps 3-5 are Whisper's own log-mel: on the same window they match
``faster_whisper.feature_extractor.FeatureExtractor()(window, padding=0)`` to float32
rounding (faster-whisper pads 160 zeros at the end by default and computes in
float32/complex64; this module computes in float64). Steps 1-2 are Smart Turn's additions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voxgate.audio.pcm import Float32Array

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80

_MEL_FLOOR = 1e-10
_NORM_EPS = 1e-7
_DYNAMIC_RANGE = 8.0

Float64Array = npt.NDArray[np.float64]

# Slaney mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: Float64Array) -> Float64Array:
    mels = hz / _F_SP
    log_region = hz >= _MIN_LOG_HZ
    mels[log_region] = _MIN_LOG_MEL + np.log(hz[log_region] / _MIN_LOG_HZ) / _LOGSTEP
    return mels


def _mel_to_hz(mels: Float64Array) -> Float64Array:
    hz = mels * _F_SP
    log_region = mels >= _MIN_LOG_MEL
    hz[log_region] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mels[log_region] - _MIN_LOG_MEL))
    return hz


def slaney_mel_filterbank(
    n_mels: int = N_MELS,
    n_fft: int = N_FFT,
    sample_rate: int = SAMPLE_RATE,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> Float64Array:
    """Triangular mel filters, area-normalised (librosa's ``norm="slaney"``, ``htk=False``).

    Returns ``[n_mels, n_fft // 2 + 1]``: multiply a power spectrum ``[bins, frames]`` by it.
    """
    top = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_lo, mel_hi = _hz_to_mel(np.array([fmin, top], dtype=np.float64))
    mel_edges = np.linspace(float(mel_lo), float(mel_hi), n_mels + 2)
    edges = _mel_to_hz(mel_edges)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights: Float64Array = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights


# Built once at import. The 80 x 201 filterbank holds only 391 non-zero weights, each band a
# contiguous run of bins: summing those directly is exact and needs no BLAS. A dense
# ``filters @ power`` is faster alone (~0.5 ms) but multithreaded OpenBLAS turns it into
# 10-25 ms when other threads (ONNX, STT, other calls) compete for the cores.
_MEL_FILTERS = slaney_mel_filterbank()
_BAND, _BINS = np.nonzero(_MEL_FILTERS)  # row-major: grouped by band, in band order
_BAND_WEIGHTS: Float64Array = _MEL_FILTERS[_BAND, _BINS][:, np.newaxis]
_BAND_STARTS = np.searchsorted(_BAND, np.arange(N_MELS))
assert np.array_equal(np.unique(_BAND), np.arange(N_MELS)), "every mel band needs a bin"
_WINDOW: Float64Array = np.hanning(N_FFT + 1)[:-1]  # periodic Hann, as torch.hann_window


def whisper_log_mel(
    samples16k: npt.NDArray[np.floating], n_frames: int = 800, *, normalize: bool = True
) -> Float32Array:
    """Log-mel features ``[80, n_frames]`` (float32) of the last ``n_frames * 10 ms``.

    ``samples16k`` is mono float audio at 16 kHz in [-1, 1]; any length (shorter input is
    left zero-padded, longer input keeps its end). The default 800 frames is the 8 s
    window of Smart Turn: add a batch axis and pass it as ``input_features``.

    Raises ``ValueError`` for a non-1-D array or ``n_frames < 1``, ``TypeError`` for a
    non-floating dtype (convert PCM16 with ``voxgate.audio.pcm.int16_to_float32``).
    """
    audio = np.asarray(samples16k)
    if audio.ndim != 1:
        raise ValueError(f"expected 1-D audio, got shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise TypeError(f"expected floating-point samples, got {audio.dtype}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")

    n_samples = n_frames * HOP_LENGTH
    window = np.zeros(n_samples, dtype=np.float64)
    tail = audio[-n_samples:]
    window[n_samples - tail.size :] = tail
    if normalize:
        window = (window - window.mean()) / np.sqrt(window.var() + _NORM_EPS)

    padded = np.pad(window, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    spectrum = np.fft.rfft(frames * _WINDOW, axis=-1).T  # [201, n_frames + 1]
    power = spectrum.real**2 + spectrum.imag**2
    mel = np.add.reduceat(power[_BINS] * _BAND_WEIGHTS, _BAND_STARTS, axis=0)  # [80, frames]

    log_mel = np.log10(np.maximum(mel, _MEL_FLOOR))[:, :-1]
    log_mel = np.maximum(log_mel, log_mel.max() - _DYNAMIC_RANGE)
    out: Float32Array = ((log_mel + 4.0) / 4.0).astype(np.float32)
    return out
