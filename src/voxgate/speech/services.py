"""The process-wide speech services and the bounded thread pool they run in."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from voxgate.audio.pcm import Float32Array, Int16Array
from voxgate.speech.base import Speech
from voxgate.speech.stt import WhisperSTT
from voxgate.speech.tts import PiperTTS
from voxgate.speech.turn_model import SmartTurn
from voxgate.speech.vad import VadPool

log = logging.getLogger(__name__)


class SpeechServices:
    """VAD pool, STT and TTS, loaded once. Build with :meth:`load` (blocking; run it in a
    thread), share across conversations (hand them :attr:`speech`), and :meth:`close` at
    shutdown. It is the :class:`~voxgate.speech.base.Transcriber`, ``Synthesizer`` and
    ``TurnModel`` of every call, running the models in one bounded thread pool."""

    def __init__(
        self,
        *,
        vad: VadPool,
        stt: WhisperSTT,
        tts: PiperTTS,
        threads: int,
        turn_model: SmartTurn | None = None,
        tts_cache_entries: int = 256,
    ) -> None:
        self.vad = vad
        self.stt = stt
        self.tts = tts
        self.turn_model = turn_model
        self._tts_cache: OrderedDict[str, Int16Array] = OrderedDict()
        self._tts_cache_entries = tts_cache_entries
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="voxgate-infer")
        self.speech = Speech(
            vad=vad, stt=self, tts=self, turn_model=self if turn_model is not None else None
        )
        """What a conversation needs of these models."""

    @property
    def sample_rate(self) -> int:
        """Rate of the audio :meth:`synthesize` returns."""
        return self.tts.sample_rate

    @classmethod
    def load(
        cls,
        threads: int = 2,
        progress: Callable[[str], None] | None = None,
        *,
        tts_cache_entries: int = 256,
    ) -> SpeechServices:
        say = progress or (lambda _msg: None)
        t0 = time.perf_counter()
        say("loading VAD (silero)")
        vad = VadPool()
        vad.warm(2)
        say("loading STT (whisper tiny.en)")
        stt = WhisperSTT(cpu_threads=threads)
        say("loading TTS (piper)")
        tts = PiperTTS()
        say("loading end-of-turn model (smart turn)")
        turn_model = SmartTurn()
        say("warming models")
        stt.warm()
        tts.warm()
        turn_model.warm()
        log.info("speech models ready in %.1f s", time.perf_counter() - t0)
        return cls(
            vad=vad,
            stt=stt,
            tts=tts,
            threads=threads,
            turn_model=turn_model,
            tts_cache_entries=tts_cache_entries,
        )

    async def transcribe(self, audio16k: Float32Array) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.stt.transcribe, audio16k)

    async def turn_complete(self, audio16k: Float32Array) -> float:
        """Probability that the user has finished their turn (needs ``turn_model``)."""
        assert self.turn_model is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.turn_model.predict, audio16k)

    async def synthesize(self, text: str) -> Int16Array:
        """Speech for ``text`` at ``self.tts.sample_rate``. Recently spoken sentences come
        from a small cache (prompts, greetings and confirmations repeat a lot)."""
        cached = self._tts_cache.get(text)
        if cached is not None:
            self._tts_cache.move_to_end(text)
            return cached
        loop = asyncio.get_running_loop()
        audio = await loop.run_in_executor(self._pool, self.tts.synthesize, text)
        if self._tts_cache_entries > 0 and len(text) <= 300:
            self._tts_cache[text] = audio
            while len(self._tts_cache) > self._tts_cache_entries:
                self._tts_cache.popitem(last=False)
        return audio

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
