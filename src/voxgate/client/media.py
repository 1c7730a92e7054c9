"""Where call audio comes from and goes to: WAV files, numpy arrays, async iterators, and
(with the ``client-audio`` extra) the microphone and speaker through ``sounddevice``.

Sinks are driven by a clock: :class:`PacedSink` pulls from the jitter buffer in real
time (so an interruption flushes what has not been "played" yet, as on a device);
:class:`Speaker` lets the sound card's callback pull. Headless use needs no device.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import wave
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from voxgate.audio.pcm import Int16Array
from voxgate.audio.wav import read_wav
from voxgate.client.playback import JitterBuffer, to_int16
from voxgate.errors import ClientError

BLOCK_MS = 20.0


class AudioDeviceError(ClientError, RuntimeError):
    """No usable audio device, or the ``client-audio`` extra / PortAudio is missing."""


# --- sources ----------------------------------------------------------------------------


class AudioSource(Protocol):
    """Audio to send: ``rate`` and an async iterator of mono chunks (int16 or float)."""

    rate: int

    def chunks(self) -> AsyncIterator[np.ndarray]: ...


class ArraySource:
    """A numpy signal sent in ``chunk_ms`` chunks, paced at real time unless told not to;
    ``then_silence_s`` of silence follow (so the server hears the turn end)."""

    def __init__(
        self,
        samples: np.ndarray,
        rate: int,
        *,
        chunk_ms: float = BLOCK_MS,
        realtime: bool = True,
        then_silence_s: float = 0.0,
    ) -> None:
        self.samples = to_int16(samples)
        self.rate = rate
        self.chunk_ms = chunk_ms
        self.realtime = realtime
        self.then_silence_s = then_silence_s

    async def chunks(self) -> AsyncIterator[np.ndarray]:
        step = max(1, int(self.rate * self.chunk_ms / 1000))
        signal = np.concatenate(
            [self.samples, np.zeros(int(self.rate * self.then_silence_s), np.int16)]
        )
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i, pos in enumerate(range(0, signal.size, step)):
            yield signal[pos : pos + step]
            if self.realtime:
                delay = t0 + (i + 1) * step / self.rate - loop.time()
                await asyncio.sleep(max(0.0, delay))


class WavSource(ArraySource):
    """A mono PCM16 WAV file, sent like :class:`ArraySource`."""

    def __init__(
        self,
        path: str | Path,
        *,
        chunk_ms: float = BLOCK_MS,
        realtime: bool = True,
        then_silence_s: float = 0.0,
    ) -> None:
        samples, rate = read_wav(path)
        super().__init__(
            samples, rate, chunk_ms=chunk_ms, realtime=realtime, then_silence_s=then_silence_s
        )


class IteratorSource:
    """Chunks from any async iterable (a network stream, a generator) at ``rate``."""

    def __init__(self, chunks: AsyncIterable[np.ndarray | bytes], rate: int) -> None:
        self._chunks = chunks
        self.rate = rate

    async def chunks(self) -> AsyncIterator[np.ndarray]:
        async for chunk in self._chunks:
            yield np.frombuffer(chunk, "<i2") if isinstance(chunk, bytes) else chunk


# --- sinks ------------------------------------------------------------------------------


class AudioSink(Protocol):
    """Plays from a :class:`JitterBuffer` once started."""

    async def start(self, buffer: JitterBuffer) -> None: ...

    async def stop(self) -> None: ...


class PacedSink:
    """Pulls ``BLOCK_MS`` blocks from the buffer at real time and hands them to
    :meth:`write` (override it). Only agent audio is written unless ``timeline``, which
    writes the silence between turns too."""

    def __init__(self, *, timeline: bool = False) -> None:
        self.timeline = timeline
        self._task: asyncio.Task[None] | None = None
        self.rate = 0

    async def start(self, buffer: JitterBuffer) -> None:
        self.rate = buffer.rate
        self.open(buffer.rate)
        self._task = asyncio.create_task(self._pull(buffer))

    async def _pull(self, buffer: JitterBuffer) -> None:
        n = max(1, int(buffer.rate * BLOCK_MS / 1000))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        blocks = 0
        while True:
            samples, real = buffer.read(n)
            if self.timeline:
                self.write(samples)
            elif real:
                self.write(samples[:real])
            blocks += 1
            await asyncio.sleep(max(0.0, t0 + blocks * n / buffer.rate - loop.time()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.close()

    def open(self, rate: int) -> None:
        """Called once with the playback rate, before the first :meth:`write`."""

    def write(self, samples: Int16Array) -> None:
        """Called with each block played."""

    def close(self) -> None:
        """Called once at the end."""


class NullSink(PacedSink):
    """Plays into nothing (but in real time: barge-in and half-duplex behave as on a
    device)."""


class ArraySink(PacedSink):
    """Keeps what was played; :attr:`samples` is all of it so far."""

    def __init__(self, *, timeline: bool = False) -> None:
        super().__init__(timeline=timeline)
        self._blocks: list[Int16Array] = []

    def write(self, samples: Int16Array) -> None:
        self._blocks.append(samples.copy())

    @property
    def samples(self) -> Int16Array:
        return np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.int16)


class WavSink(PacedSink):
    """Writes what was played to a mono PCM16 WAV file as it plays."""

    def __init__(self, path: str | Path, *, timeline: bool = False) -> None:
        super().__init__(timeline=timeline)
        self.path = Path(path)
        self._wav: wave.Wave_write | None = None

    def open(self, rate: int) -> None:
        self._wav = wave.open(str(self.path), "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)

    def write(self, samples: Int16Array) -> None:
        assert self._wav is not None
        self._wav.writeframes(samples.astype("<i2").tobytes())

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


# --- sound card (optional: pip install 'voxgate[client-audio]') ---------------------------


def _sounddevice() -> ModuleType:
    try:
        return importlib.import_module("sounddevice")  # optional: imported on use
    except ImportError as exc:
        if "PortAudio" in str(exc):
            raise AudioDeviceError(
                "PortAudio is not installed (Debian/Ubuntu: apt install libportaudio2; "
                "macOS: brew install portaudio)"
            ) from None
        raise AudioDeviceError(
            "microphone and speaker need the client-audio extra: "
            "pip install 'voxgate[client-audio]'"
        ) from None
    except OSError as exc:  # sounddevice raises this when libportaudio is missing
        raise AudioDeviceError(
            f"PortAudio could not be loaded ({exc}): Debian/Ubuntu: apt install "
            "libportaudio2; macOS: brew install portaudio"
        ) from None


def _check_device(sd: ModuleType, kind: str, device: int | str | None) -> None:
    try:
        sd.query_devices(device, kind=kind)
    except (ValueError, sd.PortAudioError) as exc:
        raise AudioDeviceError(f"no audio {kind} device: {exc}") from None


class Microphone:
    """Captures from the default (or a named) input device in ``block_ms`` chunks."""

    def __init__(
        self, *, rate: int = 16000, device: int | str | None = None, block_ms: float = BLOCK_MS
    ) -> None:
        self._sd = _sounddevice()
        _check_device(self._sd, "input", device)
        self.rate = rate
        self.device = device
        self.block = max(1, int(rate * block_ms / 1000))

    async def chunks(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=100)

        def put(block: np.ndarray) -> None:
            with contextlib.suppress(asyncio.QueueFull):  # the app fell behind: drop
                queue.put_nowait(block)

        def callback(data: Any, frames: int, time: Any, status: Any) -> None:
            loop.call_soon_threadsafe(put, np.frombuffer(bytes(data), "<i2").copy())

        try:
            stream = self._sd.RawInputStream(
                samplerate=self.rate,
                channels=1,
                dtype="int16",
                blocksize=self.block,
                device=self.device,
                callback=callback,
            )
        except self._sd.PortAudioError as exc:
            raise AudioDeviceError(f"cannot open the microphone: {exc}") from None
        with stream:
            while True:
                yield await queue.get()


class Speaker:
    """Plays through the default (or a named) output device; the device's callback pulls
    from the jitter buffer, so a flush is heard at once."""

    def __init__(self, *, device: int | str | None = None) -> None:
        self._sd = _sounddevice()
        _check_device(self._sd, "output", device)
        self.device = device
        self._stream: Any = None
        self.on_block: Callable[[Int16Array], None] | None = None

    async def start(self, buffer: JitterBuffer) -> None:
        def callback(out: Any, frames: int, time: Any, status: Any) -> None:
            samples, _ = buffer.read(frames)
            out[:] = samples.astype("<i2").tobytes()
            if self.on_block is not None:
                self.on_block(samples)

        try:
            self._stream = self._sd.RawOutputStream(
                samplerate=buffer.rate,
                channels=1,
                dtype="int16",
                blocksize=int(buffer.rate * BLOCK_MS / 1000),
                device=self.device,
                callback=callback,
            )
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise AudioDeviceError(f"cannot open the speaker: {exc}") from None

    async def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
