"""Client-side helpers shared by the e2e tests."""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxgate.audio.pcm import Int16Array, rms_dbfs
from voxgate.audio.resample import resample
from voxgate.client import AtomsClient


def normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def word_errors(got: str, expected: str) -> int:
    """Word-level edit distance after normalizing case and punctuation."""
    a, b = normalize(got).split(), normalize(expected).split()
    row = list(range(len(b) + 1))
    for i, wa in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, wb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (wa != wb))
    return row[-1]


def assert_transcript(got: str, expected: str) -> None:
    """Whisper tiny.en now and then adds a filler word ("And ...") at an utterance's edge:
    allow one word error in 7-8 words; anything more is a pipeline fault."""
    assert word_errors(got, expected) <= 1, (got, expected)


@dataclass
class Turn:
    """What a client saw from the moment it started speaking one utterance."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def first(self, kind: str, role: str | None = None) -> dict[str, Any]:
        for e in self.events:
            if e["type"] == kind and (role is None or e.get("role") == role):
                return e
        raise AssertionError(f"no {kind} ({role}) in {self.types()}")

    def index(self, kind: str, role: str | None = None) -> int:
        return self.events.index(self.first(kind, role))

    def audio(self) -> Int16Array:
        pcm = b"".join(
            base64.b64decode(e["audio"]) for e in self.events if e["type"] == "output_audio.delta"
        )
        return np.frombuffer(pcm, dtype="<i2")


async def speak_and_wait_reply(
    client: AtomsClient,
    samples: Int16Array,
    rate: int,
    *,
    chunk_ms: float = 20.0,
    chunk_samples: int | None = None,
    odd_bytes: int | None = None,
    timeout: float = 40.0,
) -> Turn:
    """Stream an utterance at real time, then silence, until the agent stops talking."""
    sr = client.sample_rate
    pcm = resample(samples, rate, sr)
    turn = Turn()
    done = asyncio.Event()

    async def listen() -> None:
        async for event in client.events():
            turn.events.append(event)
            if event["type"] in ("agent_stop_talking", "session.closed"):
                done.set()
                return

    async def send() -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        data = pcm.astype("<i2").tobytes()
        if odd_bytes is not None:
            step = odd_bytes
        elif chunk_samples is not None:
            step = chunk_samples * 2
        else:
            step = int(sr * chunk_ms / 1000) * 2
        sent = 0
        for pos in range(0, len(data), step):
            await client.send_audio(data[pos : pos + step])
            sent += len(data[pos : pos + step])
            delay = t0 + sent / 2 / sr - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        quiet = np.zeros(int(sr * 0.02), dtype=np.int16).tobytes()
        while not done.is_set():
            await client.send_audio(quiet)
            await asyncio.sleep(0.02)

    listener = asyncio.create_task(listen())
    sender = asyncio.create_task(send())
    try:
        async with asyncio.timeout(timeout):
            await done.wait()
    finally:
        sender.cancel()
        listener.cancel()
        await asyncio.gather(sender, listener, return_exceptions=True)
    return turn


def assert_spoken_reply(
    turn: Turn, expected_text: str, sample_rate: int, tts_seconds: float
) -> None:
    """The documented order of a voice turn, with real speech at the session's rate."""
    user = turn.first("transcript", "user")
    assert_transcript(user["text"], expected_text)
    i_user = turn.index("transcript", "user")
    i_start = turn.index("agent_start_talking")
    i_audio = turn.index("output_audio.delta")
    i_final = turn.index("transcript", "assistant")
    i_stop = turn.index("agent_stop_talking")
    assert i_user < i_start < i_audio < i_final < i_stop, turn.types()
    audio = turn.audio()
    assert rms_dbfs(audio) > -35, "agent audio is silent"
    seconds = len(audio) / sample_rate
    # Audio at the wrong rate would be off by the ratio of rates (at least 1.5x).
    assert abs(seconds - tts_seconds) < 0.15 * tts_seconds + 0.05, (seconds, tts_seconds)
    assert not any(e["type"] == "output_audio.delta" for e in turn.events[i_stop + 1 :]), (
        "audio after agent_stop_talking"
    )
