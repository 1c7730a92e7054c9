"""The Datagrid-compatible endpoint `/ws/voice`, over real sockets with the real models."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from voxgate.audio.resample import resample

from .conftest import RunningServer, Utterance
from .helpers import assert_transcript
from .test_atoms_voice import _conversation

pytestmark = [pytest.mark.e2e, pytest.mark.models]
CHUNK = 4096  # samples, as the iOS guide's tap delivers them


async def open_voice(server: RunningServer, token: str | None = None) -> ClientConnection:
    url = f"{server.ws_url}/ws/voice?token={token or server.dev_key}"
    return await websockets.connect(url, max_size=None)


async def send(ws: ClientConnection, kind: str, **payload: Any) -> None:
    await ws.send(json.dumps({"type": kind, "payload": payload} if payload else {"type": kind}))


async def until(ws: ClientConnection, kind: str, timeout: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message


async def reply(ws: ClientConnection) -> str:
    """The agent's next final transcript."""
    while True:
        message = await until(ws, "transcript")
        if message["payload"]["role"] == "assistant" and message["payload"]["final"]:
            return str(message["payload"]["text"])


async def start(ws: ClientConnection, **payload: Any) -> dict[str, Any]:
    await send(ws, "start", **payload)
    started = await until(ws, "started")
    await until(ws, "ready")
    return dict(started["payload"])


async def say(ws: ClientConnection, u: Utterance) -> list[dict[str, Any]]:
    """Stream an utterance at 16 kHz in 4096-sample chunks at real time, then silence,
    until the agent's final transcript; return what arrived meanwhile."""
    pcm = resample(u.samples, u.rate, 16000)
    pcm = np.concatenate([pcm, np.zeros(16000 * 2, dtype=np.int16)])
    seen: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def listen() -> None:
        while not done.is_set():
            message = json.loads(await ws.recv())
            seen.append(message)
            if message["type"] == "transcript" and message["payload"]["role"] == "assistant":
                if message["payload"]["final"]:
                    done.set()

    listener = asyncio.create_task(listen())
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pos = 0
    async with asyncio.timeout(40):
        while not done.is_set():
            chunk = pcm[pos : pos + CHUNK] if pos < len(pcm) else np.zeros(CHUNK, np.int16)
            pos += CHUNK
            data = base64.b64encode(chunk.astype("<i2").tobytes()).decode()
            await send(ws, "audio", data=data)
            await asyncio.sleep(max(0.0, t0 + pos / 16000 - loop.time()))
    await listener
    return seen


async def test_the_ios_guide_client_holds_a_two_turn_conversation(
    server: RunningServer, speech: list[Utterance]
) -> None:
    ws = await open_voice(server)
    ids = await start(ws, agent_id="quick")
    assert ids["session_id"].startswith("sess_") and ids["conversation_id"].startswith("call_")
    for u in speech[:2]:
        seen = await say(ws, u)
        user = next(m for m in seen if m["type"] == "transcript" and m["payload"]["role"] == "user")
        assert_transcript(user["payload"]["text"], u.text)
        audio = b"".join(
            base64.b64decode(m["payload"]["data"]) for m in seen if m["type"] == "audio"
        )
        assert len(audio) / 2 / 24000 > 0.3  # 24 kHz out
    await send(ws, "stop")
    ended = await until(ws, "ended")
    turns = ended["payload"]["transcript"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert_transcript(turns[0]["text"], speech[0].text)
    assert_transcript(turns[2]["text"], speech[1].text)
    assert turns[1]["text"] == turns[3]["text"] == "Got it."
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    assert ws.close_code == 1000


async def test_resume_continues_with_the_earlier_turns(server: RunningServer) -> None:
    ws = await open_voice(server)
    first = await start(ws, agent_id="quick")
    await send(ws, "text", text="remember the blue door")
    assert await reply(ws) == "Got it."
    await send(ws, "stop")
    await until(ws, "ended")
    await ws.close()
    ws = await open_voice(server)
    again = await start(ws, conversation_id=first["conversation_id"])
    assert again["conversation_id"] == first["conversation_id"]
    await send(ws, "text", text="and the green one")
    assert await reply(ws) == "Got it."
    await send(ws, "stop")
    ended = await until(ws, "ended")
    texts = [t["text"] for t in ended["payload"]["transcript"]]
    assert texts == ["remember the blue door", "Got it.", "and the green one", "Got it."]
    record = await _conversation(server, first["conversation_id"])
    assert [t["text"] for t in record["transcript"]] == texts
    await ws.close()


async def test_client_interrupt_stops_the_reply_at_once(server: RunningServer) -> None:
    ws = await open_voice(server)
    await start(ws, agent_id="talker")
    audio = 0
    async with asyncio.timeout(20):
        while audio < 24000 * 2:  # a second of the greeting
            message = json.loads(await ws.recv())
            if message["type"] == "audio":
                audio += len(base64.b64decode(message["payload"]["data"]))
    await send(ws, "interrupt")
    after: list[str] = []
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await ws.recv())
            if after or message["type"] == "interrupted":
                after.append(message["type"])
            if message["type"] == "transcript" and message["payload"]["final"]:
                break
    assert after[0] == "interrupted" and "audio" not in after
    await ws.close()


async def test_a_dropped_socket_keeps_the_interrupted_turn(server: RunningServer) -> None:
    ws = await open_voice(server)
    ids = await start(ws, agent_id="talker")
    await until(ws, "audio")
    await asyncio.sleep(1.0)
    ws.transport.abort()  # no close handshake: the network dropped
    await ws.wait_closed()
    record = await _conversation(server, ids["conversation_id"])
    (greeting,) = record["transcript"]
    assert greeting["interrupted"] is True and greeting["heard_text"]
    assert record["end_reason"] == "websocket_closed"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "audio", "payload": {"data": "AAAA"}}', "no_session"),
        ('{"type": "text", "payload": {"text": "hi"}}', "no_session"),
        ("{not json", "invalid_event"),
        ('{"type": "dance"}', "invalid_event"),
        ('{"type": "start", "payload": {"agent_id": "acme-bot"}}', "403"),
        ('{"type": "start", "payload": {"conversation_id": "call_nope"}}', "404"),
        ('{"type": "start", "payload": {}}', "invalid_event"),
    ],
)
async def test_bad_input_before_start(server: RunningServer, frame: str, code: str) -> None:
    ws = await open_voice(server)
    await ws.send(frame)
    error = await until(ws, "error")
    assert error["payload"]["code"] == code
    await start(ws, agent_id="quick")  # the socket is still good
    await ws.close()


async def test_bad_input_after_start_gets_error_and_goes_on(server: RunningServer) -> None:
    ws = await open_voice(server)
    await start(ws, agent_id="quick")
    for frame in (
        "{not json",
        '{"type": "dance"}',
        '{"type": "audio", "payload": {"data": "%%%"}}',
        '{"type": "start", "payload": {"agent_id": "quick"}}',
    ):
        await ws.send(frame)
        error = await until(ws, "error")
        assert error["payload"]["message"]
    await send(ws, "text", text="still there?")
    assert await reply(ws) == "Got it."
    await ws.close()


async def test_bad_token_is_refused_with_4401(server: RunningServer) -> None:
    ws = await open_voice(server, token="vg_wrong")
    error = await until(ws, "error")
    assert error["payload"]["code"] == "401"
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    assert ws.close_code == 4401
    await ws.close()


# -- POST /v1/voice ------------------------------------------------------------------------


async def voice_session(server: RunningServer, body: dict[str, Any], key: str | None = None) -> Any:
    import httpx

    async with httpx.AsyncClient(base_url=server.http_url) as http:
        return await http.post(
            "/v1/voice", json=body, headers={"Authorization": f"Bearer {key or server.dev_key}"}
        )


async def open_url(url: str) -> ClientConnection:
    return await websockets.connect(url, max_size=None)


async def test_v1_voice_url_works_once(server: RunningServer) -> None:
    r = await voice_session(server, {"agent_id": "quick"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "voice.session" and body["agent_id"] == "quick"
    assert body["start_message"] == {"type": "start", "payload": {"agent_id": "quick"}}
    assert "token=vst_" in body["url"] and server.dev_key not in body["url"]
    ws = await open_url(body["url"])
    await ws.send(json.dumps(body["start_message"]))
    await until(ws, "started")
    await until(ws, "ready")
    await send(ws, "text", text="hello")
    assert await reply(ws) == "Got it."
    await ws.close()
    again = await open_url(body["url"])  # single use
    error = await until(again, "error")
    assert error["payload"]["code"] == "401"
    with pytest.raises(ConnectionClosed):
        await again.recv()
    assert again.close_code == 4401
    await again.close()


async def test_v1_voice_token_expires(server: RunningServer) -> None:
    from datetime import UTC, datetime, timedelta
    from urllib.parse import parse_qs, urlparse

    from sqlalchemy import update

    from voxgate.store.models import CallTokenRow
    from voxgate.store.repository import hash_secret

    body = (await voice_session(server, {"agent_id": "quick"})).json()
    token = parse_qs(urlparse(body["url"]).query)["token"][0]

    async def expire() -> None:
        async with server.state.store.engine.begin() as conn:
            await conn.execute(
                update(CallTokenRow)
                .where(CallTokenRow.secret_hash == hash_secret(token))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )

    server.call(expire())
    ws = await open_url(body["url"])
    assert (await until(ws, "error"))["payload"]["code"] == "401"
    await ws.close()


async def test_v1_voice_ephemeral_keeps_nothing(server: RunningServer) -> None:
    body = (await voice_session(server, {"agent_id": "quick", "ephemeral": True})).json()
    ws = await open_url(body["url"])
    await ws.send(json.dumps(body["start_message"]))
    started = await until(ws, "started")
    await send(ws, "text", text="forget me")
    assert await reply(ws) == "Got it."
    await send(ws, "stop")
    ended = await until(ws, "ended")
    assert [t["text"] for t in ended["payload"]["transcript"]] == ["forget me", "Got it."]
    conversation_id = started["payload"]["conversation_id"]
    record = server.call(
        server.state.store.get_conversation(conversation_id, server.state.tenant_ids["default"])
    )
    assert record is None
    await ws.close()


async def test_v1_voice_initial_message_context_user_and_silence_timeout(
    server: RunningServer,
) -> None:
    body = (
        await voice_session(
            server,
            {
                "agent_id": "greeter",
                "initial_message": "I just want to check in",
                "initial_context": "The caller is a returning customer.",
                "user": {"first_name": "Ada", "email": "ada@example.com"},
                "voice_config": {"silence_timeout": 1.5},
            },
        )
    ).json()
    ws = await open_url(body["url"])
    await ws.send(json.dumps(body["start_message"]))
    await until(ws, "started")
    # No greeting: the agent answers the initial message (greeter's fallback uses variables).
    first = await until(ws, "transcript")
    assert first["payload"] == {"role": "user", "text": "I just want to check in", "final": True}
    assert await reply(ws) == "You are caller ."
    ended = await until(ws, "ended", timeout=15)
    assert ended["payload"]["reason"] == "timeout"
    await ws.close()


async def test_v1_voice_errors(server: RunningServer) -> None:
    assert (await voice_session(server, {"agent_id": "quick"}, key="vg_bad")).status_code == 401
    assert (await voice_session(server, {"agent_id": "nope"})).status_code == 404
    assert (await voice_session(server, {"agent_id": "acme-bot"})).status_code == 404
    assert (await voice_session(server, {})).status_code == 400
    assert (await voice_session(server, {"conversation_id": "call_nope"})).status_code == 404
    long = {"agent_id": "quick", "initial_message": "x" * 2001}
    assert (await voice_session(server, long)).status_code == 400
    bad = {"agent_id": "quick", "voice_config": {"silence_timeout": -1}}
    assert (await voice_session(server, bad)).status_code == 400


async def test_a_socket_without_start_is_closed_in_time(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voxgate.server import datagrid as endpoint

    monkeypatch.setattr(endpoint, "START_TIMEOUT_S", 0.5)
    ws = await open_voice(server)
    error = await until(ws, "error", timeout=5)
    assert error["payload"]["code"] == "no_session"
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    assert ws.close_code == 4000
    await ws.close()
