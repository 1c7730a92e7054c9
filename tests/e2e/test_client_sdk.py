"""The client SDK (`voxgate.client.VoiceClient`) against a real running server: a WAV
conversation in both dialects, flush on interruption, pause/resume across the silence
timeout, no retry after 4401, and reconnects after a network drop and a server restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest

from voxgate.audio.pcm import Int16Array
from voxgate.audio.resample import resample
from voxgate.client import (
    ArraySink,
    ArraySource,
    Connected,
    Failed,
    PacedSink,
    PlaybackFlushed,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    VoiceClient,
    VoiceConnectError,
)
from voxgate.client.voice import CallEvent, Dialect
from voxgate.events import AgentAudio, Interruption, SessionEnded, Transcript

from .conftest import AGENTS_DIR, DEV_KEY, RunningServer, Utterance
from .helpers import assert_transcript
from .netproxy import TcpProxy
from .test_server_process import _free_port, _wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.models]
FAST_RETRY = ReconnectPolicy(initial_s=0.05, maximum_s=0.2)


async def until(
    call: VoiceClient, pred: Callable[[CallEvent], bool], timeout: float = 30
) -> list[CallEvent]:
    """Events from the call up to and including the first for which ``pred`` holds."""
    seen: list[CallEvent] = []
    async with asyncio.timeout(timeout):
        async for event in call:
            seen.append(event)
            if pred(event):
                return seen
    raise AssertionError(f"the call ended first: {seen}")


async def poll(done: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not done():  # noqa: ASYNC110 (state kept by the client's own tasks)
            await asyncio.sleep(0.05)


def is_final(role: str) -> Callable[[CallEvent], bool]:
    return lambda e: isinstance(e, Transcript) and e.role == role


class TimedSink(PacedSink):
    """Records when each block of agent audio was played (loop time, samples)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[tuple[float, Int16Array]] = []

    def write(self, samples: Int16Array) -> None:
        self.blocks.append((asyncio.get_running_loop().time(), samples.copy()))

    def played_between(self, start: float, end: float) -> int:
        return sum(s.size for t, s in self.blocks if start < t < end)

    @property
    def total(self) -> int:
        return sum(s.size for _, s in self.blocks)


@pytest.mark.parametrize("dialect", ["atoms", "datagrid"])
async def test_a_wav_conversation_at_the_device_rate(
    server: RunningServer, speech: list[Utterance], dialect: Dialect
) -> None:
    utterance = speech[1]
    device = resample(utterance.samples, utterance.rate, 48000)  # a 48 kHz microphone
    sink = ArraySink()
    async with VoiceClient(
        server.ws_url, token=server.dev_key, agent_id="quick", dialect=dialect, sink=sink
    ) as call:
        assert call.input_rate == 16000
        sender = asyncio.create_task(call.stream(ArraySource(device, 48000, then_silence_s=3)))
        events = await until(call, is_final("assistant"))
        user = next(e for e in events if isinstance(e, Transcript) and e.role == "user")
        assert_transcript(user.text, utterance.text)
        assert events[-1] == Transcript(role="assistant", text="Got it.")
        await asyncio.sleep(0.6)  # let the jitter buffer play the reply out
        sender.cancel()
        assert isinstance(events[0], Connected) and events[0].output_rate == call.output_rate
    # "Got it." is ~0.6 s of speech: all of it reached the sink, at the output rate.
    seconds = sink.samples.size / call.output_rate
    assert 0.3 < seconds < 2.0, seconds
    assert call.played_ms == pytest.approx(seconds * 1000)
    assert np.abs(sink.samples).max() > 1000
    assert call.ended is not None and call.ended.reason == "client_requested"


@pytest.mark.parametrize("dialect", ["atoms", "datagrid"])
async def test_no_retry_after_4401(server: RunningServer, dialect: Dialect) -> None:
    proxy = await TcpProxy(int(server.http_url.rsplit(":", 1)[1])).start()
    failures: list[Failed] = []
    try:
        call = VoiceClient(
            proxy.url,
            token="vg_not_a_key",
            agent_id="quick",
            dialect=dialect,
            reconnect=FAST_RETRY,
            on_event=lambda e: failures.append(e) if isinstance(e, Failed) else None,
        )
        with pytest.raises(VoiceConnectError) as refused:
            await call.start()
        assert refused.value.code == 4401
        await asyncio.sleep(0.5)  # a retry would have come within 0.2 s
        assert proxy.connections == 1 and call.handshakes == 1
        assert [f.code for f in failures] == [4401]
    finally:
        await proxy.stop()


async def test_flush_on_interruption_leaves_no_stale_audio(
    server: RunningServer, speech: list[Utterance]
) -> None:
    sink = TimedSink()
    loop = asyncio.get_running_loop()
    marks: dict[str, float] = {}

    def on_audio(event: AgentAudio) -> None:
        if "interrupted" in marks and "reply_audio" not in marks:
            marks["reply_audio"] = loop.time()

    async with VoiceClient(
        server.ws_url, token=server.dev_key, agent_id="talker", sink=sink, sample_rate=24000
    ) as call:
        call.on(AgentAudio, on_audio)
        call.on(Interruption, lambda _: marks.setdefault("interrupted", loop.time()))
        silence = np.zeros(24000 * 60, np.int16)
        talker = asyncio.create_task(call.stream(ArraySource(silence, 24000)))
        await poll(lambda: call.played_ms >= 1500)  # the greeting is being heard
        talker.cancel()
        utterance = speech[3]
        talker = asyncio.create_task(
            call.stream(ArraySource(utterance.samples, utterance.rate, then_silence_s=5))
        )
        events = await until(call, lambda e: isinstance(e, PlaybackFlushed))
        assert any(isinstance(e, Interruption) for e in events)
        flushed = events[-1]
        assert isinstance(flushed, PlaybackFlushed) and flushed.dropped_ms > 50  # was queued
        await until(call, lambda e: isinstance(e, Transcript) and e.text == "Okay, I stopped.")
        await asyncio.sleep(0.3)
        talker.cancel()
    assert "reply_audio" in marks
    # Nothing of the greeting was played after the interruption, until the reply came.
    assert sink.played_between(marks["interrupted"], marks["reply_audio"]) == 0
    assert sink.played_between(marks["reply_audio"], loop.time()) > 0


async def test_pause_longer_than_the_silence_timeout_then_resume(
    server: RunningServer, speech: list[Utterance]
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        created = await http.post(
            "/v1/voice",
            json={"agent_id": "talker", "voice_config": {"silence_timeout": 1.5}},
            headers={"Authorization": f"Bearer {server.dev_key}"},
        )
    assert created.status_code == 200, created.text
    token = parse_qs(urlsplit(created.json()["url"]).query)["token"][0]
    sink = TimedSink()
    loop = asyncio.get_running_loop()
    marks: dict[str, float] = {}

    def on_audio(event: AgentAudio) -> None:
        if "resumed" in marks and "reply_audio" not in marks:
            marks["reply_audio"] = loop.time()

    async with VoiceClient(server.ws_url, token=token, dialect="datagrid", sink=sink) as call:
        call.on(AgentAudio, on_audio)
        await poll(lambda: call.played_ms >= 800)
        await call.pause()  # a phone call comes in
        marks["paused"] = loop.time()
        mic = asyncio.create_task(call.stream(ArraySource(np.zeros(16000 * 10, np.int16), 16000)))
        await asyncio.sleep(4.0)  # well past the 1.5 s silence timeout
        assert call.connected and call.ended is None
        mic.cancel()
        await call.resume()
        marks["resumed"] = loop.time()
        utterance = speech[3]
        mic = asyncio.create_task(
            call.stream(ArraySource(utterance.samples, utterance.rate, then_silence_s=5))
        )
        events = await until(call, lambda e: isinstance(e, Transcript) and e.text.startswith("Ok"))
        user = [e for e in events if isinstance(e, Transcript) and e.role == "user"]
        assert user and not any(isinstance(e, SessionEnded) for e in events)
        assert_transcript(user[-1].text, utterance.text)
        await asyncio.sleep(0.5)
        mic.cancel()
    # No agent audio from before the pause was played after it: only the reply.
    assert sink.played_between(marks["paused"], marks["reply_audio"]) == 0
    assert sink.played_between(marks["reply_audio"], loop.time()) > 0


async def test_network_drop_reconnects_and_continues_the_conversation(
    server: RunningServer,
) -> None:
    proxy = await TcpProxy(int(server.http_url.rsplit(":", 1)[1])).start()
    try:
        async with VoiceClient(
            proxy.url,
            token=server.dev_key,
            agent_id="quick",
            dialect="datagrid",
            reconnect=FAST_RETRY,
        ) as call:
            first_id = call.call_id
            await call.send_text("hello there")
            await until(call, is_final("assistant"))
            proxy.cut()
            events = await until(call, lambda e: isinstance(e, Reconnected))
            assert any(isinstance(e, Reconnecting) for e in events)
            assert call.call_id == first_id
            await call.send_text("are you still there")
            await until(call, is_final("assistant"))
        assert proxy.connections == 2
    finally:
        await proxy.stop()
    record = server.call(
        server.state.store.get_conversation(first_id or "", server.state.tenant_ids["default"])
    )
    assert record is not None
    assert [t.text for t in record.turns if t.role == "user"] == [
        "hello there",
        "are you still there",
    ]


@pytest.fixture
def serve_env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {
        **os.environ,
        "VOXGATE_PORT": str(_free_port()),
        "VOXGATE_DATA_DIR": str(tmp_path),
        "VOXGATE_AGENTS_DIR": str(AGENTS_DIR),
        "VOXGATE_DEV_API_KEY": DEV_KEY,
        "NO_COLOR": "1",
    }
    env.pop("VOXGATE_DATABASE_URL", None)
    procs: list[subprocess.Popen[bytes]] = []
    yield {"env": env, "procs": procs, "log": tmp_path / "serve.log"}
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _serve(serve_env: dict[str, Any]) -> subprocess.Popen[bytes]:
    with serve_env["log"].open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voxgate", "serve"],
            env=serve_env["env"],
            stdout=log,
            stderr=log,
        )
    serve_env["procs"].append(proc)
    return proc


async def test_server_killed_and_restarted(serve_env: dict[str, Any]) -> None:
    port = int(serve_env["env"]["VOXGATE_PORT"])
    proc = _serve(serve_env)
    await _wait_ready(port, proc)
    events: list[CallEvent] = []
    policy = ReconnectPolicy(initial_s=0.2, maximum_s=1.6)
    async with VoiceClient(
        f"http://127.0.0.1:{port}",
        token=DEV_KEY,
        agent_id="quick",
        dialect="datagrid",
        reconnect=policy,
        on_event=events.append,
    ) as call:
        conversation = call.call_id
        await call.send_text("hello there")
        await until(call, is_final("assistant"))
        proc.send_signal(signal.SIGKILL)  # a crash: no close frame, no drain
        proc.wait(timeout=10)
        await poll(lambda: sum(isinstance(e, Reconnecting) for e in events) >= 4)
        proc = _serve(serve_env)
        await until(call, lambda e: isinstance(e, Reconnected), timeout=120)
        assert call.call_id == conversation
        await call.send_text("are you still there")
        await until(call, is_final("assistant"))
    waits = [e.delay_s for e in events if isinstance(e, Reconnecting)]
    # Backed off: each wait within its exponential ceiling, capped at 1.6 s.
    for attempt, delay in enumerate(waits):
        ceiling = min(1.6, 0.2 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert waits[3] > waits[0]
    async with httpx.AsyncClient() as http:
        got = await http.get(
            f"http://127.0.0.1:{port}/v1/conversations/{conversation}",
            headers={"Authorization": f"Bearer {DEV_KEY}"},
        )
    assert got.status_code == 200, got.text
    users = [t["text"] for t in got.json()["transcript"] if t["role"] == "user"]
    assert users == ["hello there", "are you still there"]
