"""Bad input on the Atoms endpoint: each gets its documented answer, and a valid session on
the same server carries on unaffected."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voxgate.client import AtomsClient, AtomsConnectError
from voxgate.store.models import CallTokenRow
from voxgate.store.repository import hash_secret

from .conftest import RunningServer, Utterance
from .helpers import speak_and_wait_reply

pytestmark = [pytest.mark.e2e, pytest.mark.models]


@pytest_asyncio.fixture
async def bystander(server: RunningServer, speech: list[Utterance]) -> AsyncIterator[None]:
    """A valid voice session that must get its reply while the test misbehaves."""
    client = await AtomsClient.connect(
        server.ws_url, token=server.dev_key, agent_id="quick", sample_rate=16000
    )
    u = speech[2]
    task = asyncio.create_task(speak_and_wait_reply(client, u.samples, u.rate, timeout=60))
    yield
    turn = await task
    assert turn.first("transcript", "assistant")["text"] == "Got it."
    assert len(turn.audio()) > 0
    await client.close()


async def raw_session(server: RunningServer, **query: str) -> Any:
    q = {"token": server.dev_key, "agent_id": "quick", "mode": "chat", **query}
    url = f"{server.ws_url}/atoms/v1/agent/connect?" + "&".join(f"{k}={v}" for k, v in q.items())
    ws = await websockets.connect(url, max_size=None)
    created = json.loads(await ws.recv())
    assert created["type"] == "session.created"
    return ws


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == kind:
                return event


@pytest.mark.usefixtures("bystander")
@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        ("{not json", "malformed JSON"),
        (b"\xff\xfe garbage", "malformed JSON"),
        ('["a list"]', "JSON object"),
        ('{"type": "dance"}', "unknown event type"),
        ('{"no_type": 1}', "type"),
        ('{"type": "input_audio_buffer.append"}', "missing field 'audio'"),
        ('{"type": "input_audio_buffer.append", "audio": 12}', "must be a string"),
        ('{"type": "input_audio_buffer.append", "audio": "%%%not base64"}', "base64"),
        ('{"type": "input_text.send", "text": "   "}', "must not be empty"),
    ],
)
async def test_malformed_frames_get_invalid_event(
    server: RunningServer, frame: str | bytes, fragment: str
) -> None:
    ws = await raw_session(server)
    await ws.send(frame)
    error = await next_of(ws, "error")
    assert error["code"] == "invalid_event"
    assert fragment in error["message"]
    # The session goes on.
    await ws.send(json.dumps({"type": "input_text.send", "text": "still there?"}))
    reply = await next_of(ws, "transcript")
    while reply["role"] != "assistant":
        reply = await next_of(ws, "transcript")
    assert reply["text"] == "Got it."
    await ws.close()


@pytest.mark.usefixtures("bystander")
async def test_ignored_events_are_accepted(server: RunningServer) -> None:
    ws = await raw_session(server)
    for kind in ("input_audio_buffer.commit", "session.update"):
        await ws.send(json.dumps({"type": kind}))
    await ws.send(json.dumps({"type": "session.close"}))
    closed = await next_of(ws, "session.closed")
    assert closed["reason"] == "client_requested"
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    assert ws.close_code == 1000


@pytest.mark.usefixtures("bystander")
async def test_frame_over_one_mib_closes_1009(server: RunningServer) -> None:
    ws = await raw_session(server, mode="webcall", sample_rate="16000")
    big = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (1 << 20)})
    await ws.send(big)
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    assert ws.close_code == 1009


async def _refused(server: RunningServer, **kw: Any) -> AtomsConnectError:
    with pytest.raises(AtomsConnectError) as info:
        await AtomsClient.connect(server.ws_url, **kw)
    return info.value


@pytest.mark.usefixtures("bystander")
async def test_handshake_refusals(server: RunningServer) -> None:
    key = server.dev_key
    assert (await _refused(server, token="vg_wrong", agent_id="quick")).code == 4401
    assert (await _refused(server, token="", agent_id="quick")).code == 4401
    assert (await _refused(server, token=key, agent_id="acme-bot")).code == 4403
    assert (await _refused(server, token=key, agent_id="no-such-agent")).code == 4403
    assert (await _refused(server, token=key, agent_id="quick", sample_rate=44100)).code == 4000
    assert (await _refused(server, token=key, agent_id="quick", mode="video")).code == 4000
    assert (await _refused(server, token=key)).code == 4000  # agent_id missing
    # The refusal carries the documented error event before the close.
    url = f"{server.ws_url}/atoms/v1/agent/connect?token=bad&agent_id=quick"
    async with websockets.connect(url) as ws:
        event = json.loads(await ws.recv())
        assert event == {"type": "error", "code": "401", "message": "invalid or revoked API key"}


async def test_key_of_another_tenant_and_agent_restrictions(server: RunningServer) -> None:
    acme = server.state.tenant_ids["acme"]
    _info, acme_key = server.call(server.state.store.create_api_key(acme, "acme"))
    default = server.state.tenant_ids["default"]
    _info, narrow_key = server.call(
        server.state.store.create_api_key(default, "narrow", agents=["talker"])
    )
    assert (await _refused(server, token=acme_key, agent_id="quick")).code == 4403
    assert (await _refused(server, token=narrow_key, agent_id="quick")).code == 4403
    client = await AtomsClient.connect(
        server.ws_url, token=acme_key, agent_id="acme-bot", mode="chat"
    )
    await client.close()
    # Conversations are visible to their own tenant only.
    call_id = client.session["call_id"]
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for _ in range(50):
            mine = await http.get(
                f"/atoms/v1/conversation/{call_id}",
                headers={"Authorization": f"Bearer {acme_key}"},
            )
            if mine.json()["data"]["status"] == "ended":
                break
            await asyncio.sleep(0.1)
        theirs = await http.get(
            f"/atoms/v1/conversation/{call_id}",
            headers={"Authorization": f"Bearer {server.dev_key}"},
        )
    assert mine.status_code == 200 and mine.json()["data"]["agent_id"] == "acme-bot"
    assert theirs.status_code == 404


async def _register(server: RunningServer, body: dict[str, Any], key: str | None = None) -> Any:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        return await http.post(
            "/atoms/v1/conversation/register-call",
            json=body,
            headers={"Authorization": f"Bearer {key or server.dev_key}"},
        )


async def test_register_call_token_single_use(server: RunningServer) -> None:
    r = await _register(
        server, {"agent_id": "quick", "mode": "chat", "variables": {"name": "Ada", "call_id": "x"}}
    )
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert r.json()["status"] is True
    assert data["access_token"].startswith("wct_")
    assert data["expires_in"] == 30 and data["sample_rate"] == 24000
    token = data["access_token"]
    # The token carries agent and mode: no agent_id in the URL.
    client = await AtomsClient.connect(server.ws_url, token=token, mode="webcall")
    await client.send_text("hello")
    async with asyncio.timeout(20):
        while (e := await client.recv()) is not None:
            assert e["type"] != "output_audio.delta", "the token's chat mode was not used"
            if e["type"] == "transcript" and e["role"] == "assistant":
                break
    await client.close()
    assert (await _refused(server, token=token)).code == 4401  # reused


async def test_register_call_expired_token(server: RunningServer) -> None:
    r = await _register(server, {"agent_id": "quick"})
    token = r.json()["data"]["access_token"]

    async def expire() -> None:
        async with server.state.store.engine.begin() as conn:
            await conn.execute(
                update(CallTokenRow)
                .where(CallTokenRow.secret_hash == hash_secret(token))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )

    server.call(expire())
    assert (await _refused(server, token=token)).code == 4401


async def test_register_call_errors(server: RunningServer) -> None:
    assert (await _register(server, {"agent_id": "quick"}, key="vg_bad")).status_code == 401
    assert (await _register(server, {"agent_id": "nope"})).status_code == 404
    assert (await _register(server, {"agent_id": "acme-bot"})).status_code == 404
    bad = await _register(server, {"agent_id": "quick", "mode": "video"})
    assert bad.status_code == 400 and bad.json()["status"] is False
    nested = await _register(server, {"agent_id": "quick", "variables": {"a": {"b": 1}}})
    assert nested.status_code == 400
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        unauth = await http.get("/atoms/v1/conversation/call_x")
        huge = await http.post(
            "/atoms/v1/conversation/register-call",
            content=b"{" + b" " * (2 << 20) + b"}",
            headers={"Authorization": f"Bearer {server.dev_key}"},
        )
    assert unauth.status_code == 401
    assert huge.status_code == 413


async def test_health_and_readiness(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).json() == {"status": "ready"}


async def test_draining_refuses_new_sessions_with_503(server: RunningServer) -> None:
    server.state.draining = True
    try:
        with pytest.raises(InvalidStatus) as info:
            await websockets.connect(
                f"{server.ws_url}/atoms/v1/agent/connect?token={server.dev_key}&agent_id=quick"
            )
        assert info.value.response.status_code == 503
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/readyz")).status_code == 503
            assert (await http.get("/healthz")).status_code == 200
    finally:
        server.state.draining = False


async def test_metrics_need_the_token_when_one_is_set(server: RunningServer) -> None:
    from pydantic import SecretStr

    settings = server.state.settings
    original = settings.metrics_token
    object.__setattr__(settings, "metrics_token", SecretStr("s3cret-metrics"))
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/metrics")).status_code == 401
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = await http.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
            assert ok.status_code == 200 and "voxgate_live_sessions" in ok.text
    finally:
        object.__setattr__(settings, "metrics_token", original)
