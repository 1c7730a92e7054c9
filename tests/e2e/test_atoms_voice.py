"""The Atoms-compatible endpoint over real sockets, with the real VAD, STT and TTS."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import numpy as np
import pytest

from voxgate.client import AtomsClient
from voxgate.speech.services import SpeechServices

from .conftest import RunningServer, Utterance, silence
from .helpers import assert_spoken_reply, assert_transcript, speak_and_wait_reply

pytestmark = [pytest.mark.e2e, pytest.mark.models]


@pytest.fixture(scope="module")
def got_it_seconds(speech_services: SpeechServices) -> float:
    """Length of the quick agent's spoken reply, to check the audio's rate."""
    audio = speech_services.tts.synthesize("Got it.")
    return len(audio) / speech_services.tts.sample_rate


async def connect(server: RunningServer, agent: str = "quick", **kw: Any) -> AtomsClient:
    return await AtomsClient.connect(server.ws_url, token=server.dev_key, agent_id=agent, **kw)


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
async def test_every_utterance_at_every_rate(
    server: RunningServer, speech: list[Utterance], rate: int, got_it_seconds: float
) -> None:
    async def one(u: Utterance) -> None:
        async with await connect(server, sample_rate=rate) as client:
            assert client.session["sample_rate"] == rate
            assert client.session["channels"] == 1
            assert client.session["call_id"].startswith("call_")
            turn = await speak_and_wait_reply(client, u.samples, u.rate)
            assert_spoken_reply(turn, u.text, rate, got_it_seconds)

    await asyncio.gather(*(one(u) for u in speech))


@pytest.mark.parametrize(
    ("binary", "chunking"),
    [
        (True, {"chunk_ms": 100.0}),
        (False, {"chunk_ms": 100.0}),
        (True, {"chunk_samples": 4096}),
        (False, {"chunk_samples": 4096}),
        (True, {"odd_bytes": 641}),
        (False, {"odd_bytes": 1001}),
    ],
)
async def test_framing_and_chunk_sizes(
    server: RunningServer,
    speech: list[Utterance],
    binary: bool,
    chunking: dict[str, Any],
    got_it_seconds: float,
) -> None:
    u = speech[1]
    async with await connect(server, sample_rate=16000, binary=binary) as client:
        turn = await speak_and_wait_reply(client, u.samples, u.rate, **chunking)
        assert_spoken_reply(turn, u.text, 16000, got_it_seconds)


async def test_token_in_authorization_header(server: RunningServer) -> None:
    async with await connect(server, token_in_header=True, mode="chat") as client:
        await client.send_text("hello there")
        event = await _until(
            client, lambda e: e["type"] == "transcript" and e["role"] == "assistant"
        )
        assert event["text"] == "Got it."


async def _until(client: AtomsClient, pred: Any, timeout: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            event = await client.recv()
            assert event is not None, "socket closed"
            if pred(event):
                return event


async def test_chat_mode_text_only(server: RunningServer) -> None:
    async with await connect(server, mode="chat") as client:
        await client.send_text("what is this?")
        seen = []
        async with asyncio.timeout(20):
            while True:
                event = await client.recv()
                assert event is not None
                seen.append(event)
                if event["type"] == "transcript" and event["role"] == "assistant":
                    break
        assert event["text"] == "Got it."
        assert {"type": "transcript", "role": "user", "text": "what is this?"} in seen
        types = {e["type"] for e in seen}
        assert not types & {"output_audio.delta", "agent_start_talking"}
        # Audio is refused in chat mode with an error, and the session goes on.
        await client.send_audio(b"\x00\x00" * 160)
        err = await _until(client, lambda e: e["type"] == "error")
        assert err["code"] == "invalid_event"
        await client.send_text("goodbye")
        closed = await _until(client, lambda e: e["type"] == "session.closed")
        assert closed["reason"] == "ended"


async def test_barge_in(server: RunningServer, speech: list[Utterance]) -> None:
    """Speech over the agent: interruption, no stale audio, transcript cut to what played."""
    client = await connect(server, agent="talker", sample_rate=24000)
    events: list[tuple[float, dict[str, Any]]] = []
    interrupted = asyncio.Event()
    answered = asyncio.Event()
    audio_bytes = 0

    async def listen() -> None:
        nonlocal audio_bytes
        async for event in client.events():
            events.append((time.monotonic(), event))
            if event["type"] == "output_audio.delta" and not interrupted.is_set():
                audio_bytes += len(base64.b64decode(event["audio"]))
            if event["type"] == "interruption":
                interrupted.set()
            # The reply to the interrupting speech has been spoken.
            if event["type"] == "agent_stop_talking" and _count(events, "agent_start_talking") >= 2:
                answered.set()
                return

    listener = asyncio.create_task(listen())
    quiet = silence(24000, 20)
    async with asyncio.timeout(30):
        while audio_bytes < 24000 * 2 * 1.5:  # let the agent talk for 1.5 s of audio
            await client.stream(quiet)
    u = speech[4]
    await client.stream(np.asarray(_resample(u, 24000)))
    async with asyncio.timeout(30):
        while not answered.is_set():
            await client.stream(quiet)
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    call_id = client.session["call_id"]
    await client.close()

    types = [e["type"] for _, e in events]
    i_int = types.index("interruption")
    i_next = types.index("agent_start_talking", i_int)
    assert "output_audio.delta" not in types[i_int:i_next], "stale audio after interruption"
    cut = next(
        e for _, e in events[i_int:] if e["type"] == "transcript" and e["role"] == "assistant"
    )
    assert types.index("agent_stop_talking", i_int) < i_next
    # The stored assistant turn holds only about what was played.
    first_audio_t = next(t for t, e in events if e["type"] == "output_audio.delta")
    interruption_t = events[i_int][0]
    record = await _conversation(server, call_id)
    greeting = record["transcript"][0]
    assert greeting["role"] == "assistant" and greeting["interrupted"] is True
    assert greeting["heard_text"] == cut["text"]
    assert greeting["heard_text"] and greeting["text"].startswith(greeting["heard_text"])
    total_s = len(greeting["text"]) / 14.5  # piper speaks ~14-16 characters a second
    played_s = interruption_t - first_audio_t
    heard_s = len(greeting["heard_text"]) / 14.5
    assert heard_s < total_s * 0.6
    assert abs(heard_s - played_s) < 1.2, (heard_s, played_s, greeting["heard_text"])
    roles = [t["role"] for t in record["transcript"]]
    assert roles == ["assistant", "user", "assistant"]
    assert_transcript(record["transcript"][1]["text"], u.text)


def _count(events: list[tuple[float, dict[str, Any]]], kind: str) -> int:
    return sum(1 for _, e in events if e["type"] == kind)


def _resample(u: Utterance, rate: int) -> Any:
    from voxgate.audio.resample import resample

    return resample(u.samples, u.rate, rate)


async def _conversation(server: RunningServer, call_id: str, key: str | None = None) -> Any:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for _ in range(50):
            r = await http.get(
                f"/atoms/v1/conversation/{call_id}",
                headers={"Authorization": f"Bearer {key or server.dev_key}"},
            )
            if r.status_code != 200 or r.json()["data"]["status"] == "ended":
                break
            await asyncio.sleep(0.1)
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def test_finished_call_turns_in_order(server: RunningServer, speech: list[Utterance]) -> None:
    async with await connect(server, sample_rate=16000) as client:
        for u in speech[:2]:
            await speak_and_wait_reply(client, u.samples, u.rate)
        await client.send_text("goodbye")
        closed = await _until(client, lambda e: e["type"] == "session.closed")
        assert closed["reason"] == "ended"
        call_id = client.session["call_id"]
    record = await _conversation(server, call_id)
    assert record["status"] == "ended" and record["end_reason"] == "ended"
    turns = record["transcript"]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert [t["seq"] for t in turns] == list(range(1, 7))
    assert_transcript(turns[0]["text"], speech[0].text)
    assert_transcript(turns[2]["text"], speech[1].text)
    assert turns[4]["text"] == "goodbye" and turns[5]["text"] == "Goodbye!"
    spoken = turns[1]["latency"]
    assert spoken["voice_to_voice_ms"] is not None and spoken["voice_to_voice_ms"] > 0
    assert turns[0]["latency"]["stt_ms"] > 0
    started = [t["started_at"] for t in turns]
    assert started == sorted(started)


async def test_ten_concurrent_sessions(server: RunningServer, speech: list[Utterance]) -> None:
    async def one(i: int) -> None:
        u = speech[i % len(speech)]
        async with await connect(server, sample_rate=16000) as client:
            turn = await speak_and_wait_reply(client, u.samples, u.rate, timeout=60)
            assert turn.first("transcript", "assistant")["text"] == "Got it."
            assert len(turn.audio()) > 0

    await asyncio.gather(*(one(i) for i in range(10)))


async def test_turn_timings_are_exported_as_prometheus_histograms(
    server: RunningServer, speech: list[Utterance]
) -> None:
    async with await connect(server, sample_rate=16000) as client:
        u = speech[3]
        await speak_and_wait_reply(client, u.samples, u.rate)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200
    lines = r.text.splitlines()

    def count(stage: str) -> float:
        prefix = f'voxgate_turn_stage_seconds_count{{agent="quick",stage="{stage}"}}'
        return next(float(x.split()[-1]) for x in lines if x.startswith(prefix))

    for stage in ("endpointing", "stt", "tts_first_audio", "voice_to_voice"):
        assert count(stage) >= 1, stage
    assert any(
        x.startswith('voxgate_sessions_total{dialect="atoms",mode="webcall"}') for x in lines
    )
    assert any(x.startswith("voxgate_live_sessions") for x in lines)


async def test_echo_of_the_agent_does_not_barge_in(
    server: RunningServer, speech: list[Utterance]
) -> None:
    """Speakerphone without echo cancellation: the agent's audio comes back at -10 dB,
    about a lead later. No interruption; a real user talking over it still interrupts."""
    client = await connect(server, agent="talker", sample_rate=16000)
    echo = bytearray()
    events: list[dict[str, Any]] = []
    step = 320 * 2  # 20 ms at 16 kHz

    async def listen() -> None:
        async for event in client.events():
            events.append(event)
            if event["type"] == "output_audio.delta":
                echo.extend(base64.b64decode(event["audio"]))

    async def send_echo(seconds: float, extra: np.ndarray | None = None) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(int(seconds * 50)):
            chunk = np.frombuffer(bytes(echo[:step]).ljust(step, b"\0"), dtype="<i2")
            del echo[:step]
            mixed = chunk.astype(np.float32) * 10 ** (-10 / 20)
            if extra is not None and i * 320 < len(extra):
                part = extra[i * 320 : (i + 1) * 320].astype(np.float32)
                mixed[: len(part)] += part
            pcm = np.clip(mixed, -32768, 32767).astype("<i2").tobytes()
            await client.send_audio(pcm)
            await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - loop.time()))

    listener = asyncio.create_task(listen())
    await send_echo(6.0)
    types = [e["type"] for e in events]
    assert "agent_start_talking" in types
    assert "interruption" not in types, "the agent interrupted itself on its own echo"
    u = speech[4]
    await send_echo(4.0, extra=_resample(u, 16000))
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    await client.close()
    assert "interruption" in [e["type"] for e in events], "real speech over the echo"


async def test_live_events_of_a_call_as_server_sent_events(
    server: RunningServer, speech: list[Utterance]
) -> None:
    """A dashboard follows a live call: its events arrive in order, without audio."""
    client = await connect(server, sample_rate=16000)
    call_id = client.session["call_id"]
    seen: list[tuple[str, dict[str, Any]]] = []

    async def dashboard() -> None:
        async with (
            httpx.AsyncClient(base_url=server.http_url, timeout=60) as http,
            http.stream(
                "GET",
                "/atoms/v1/events",
                params={"callId": call_id},
                headers={"Authorization": f"Bearer {server.dev_key}"},
            ) as r,
        ):
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            kind = ""
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    seen.append((kind, json.loads(line.removeprefix("data: "))))

    watcher = asyncio.create_task(dashboard())
    await asyncio.sleep(0.3)
    u = speech[0]
    await speak_and_wait_reply(client, u.samples, u.rate)
    await client.close_session()
    await asyncio.wait_for(watcher, 20)
    await client.close()
    kinds = [k for k, _ in seen]
    assert "output_audio.delta" not in kinds
    order = ["transcript", "agent_start_talking", "agent_stop_talking", "session.closed"]
    positions = [kinds.index(k) for k in order]
    assert positions == sorted(positions), kinds
    user = next(d for k, d in seen if k == "transcript" and d["role"] == "user")
    assert_transcript(user["text"], u.text)
    assert kinds[-1] == "session.closed"


async def test_live_events_are_for_the_keys_tenant_only(server: RunningServer) -> None:
    client = await connect(server, mode="chat")
    acme = server.state.tenant_ids["acme"]
    _info, acme_key = server.call(server.state.store.create_api_key(acme, "acme-events"))
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        params = {"callId": client.session["call_id"]}
        other = await http.get(
            "/atoms/v1/events", params=params, headers={"Authorization": f"Bearer {acme_key}"}
        )
        nobody = await http.get("/atoms/v1/events", params=params)
        ended = await http.get(
            "/atoms/v1/events",
            params={"callId": "call_nope"},
            headers={"Authorization": f"Bearer {server.dev_key}"},
        )
    await client.close()
    assert (other.status_code, nobody.status_code, ended.status_code) == (404, 401, 404)
