"""The real `voxgate serve` process: SIGTERM drains live sessions and keeps their turns;
and the whole server on PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from voxgate.client import AtomsClient
from voxgate.speech.services import SpeechServices
from voxgate.store import Store

from .conftest import AGENTS_DIR, DEV_KEY, Utterance, make_settings, silence, start_server
from .helpers import assert_transcript, speak_and_wait_reply

pytestmark = [pytest.mark.e2e, pytest.mark.models]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = _free_port()
    env = {
        **os.environ,
        "VOXGATE_PORT": str(port),
        "VOXGATE_DATA_DIR": str(tmp_path),
        "VOXGATE_AGENTS_DIR": str(AGENTS_DIR),
        "VOXGATE_DEV_API_KEY": DEV_KEY,
        "NO_COLOR": "1",
    }
    env.pop("VOXGATE_DATABASE_URL", None)
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voxgate", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            yield proc, port, tmp_path
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


async def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> list[str]:
    """Poll /readyz until 200; return the statuses seen on the way."""
    seen: list[str] = []
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            assert proc.poll() is None, "server exited during start"
            try:
                ready = await http.get(f"http://127.0.0.1:{port}/readyz")
                seen.append(ready.json()["status"])
                if ready.status_code == 200:
                    return seen
                assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server never became ready")


async def test_sigterm_drains_and_saves(
    serve_process: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    proc, port, data_dir = serve_process
    statuses = await _wait_ready(port, proc)
    # Health answers while the models load; readiness waits for them.
    assert statuses[0] == "loading" and statuses[-1] == "ready", statuses
    client = await AtomsClient.connect(
        f"ws://127.0.0.1:{port}", token=DEV_KEY, agent_id="talker", sample_rate=16000
    )
    got_audio = 0
    async with asyncio.timeout(20):
        while got_audio < 16000 * 2:  # one second of the greeting
            await client.stream(silence(16000, 20))
            while True:
                try:
                    event = await client.recv(timeout=0.001)
                except TimeoutError:
                    break
                assert event is not None
                if event["type"] == "output_audio.delta":
                    got_audio += len(base64.b64decode(event["audio"]))
    proc.send_signal(signal.SIGTERM)
    seen = []
    async with asyncio.timeout(15):
        while (event := await client.recv()) is not None:
            seen.append(event["type"])
    assert seen[-1] == "session.closed", seen
    assert client.ws.close_code == 1012  # service restart: clients may reconnect elsewhere
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    log = (data_dir / "serve.log").read_text()
    assert "token=***" in log  # the connection was logged…
    assert DEV_KEY not in log  # …without the key that was in its query string
    call_id = client.session["call_id"]
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'voxgate.db'}")
    try:
        record = await store.get_conversation(
            call_id, (await store.tenant_id_by_name("default")) or ""
        )
    finally:
        await store.close()
    assert record is not None
    assert record.end_reason == "server_shutdown" and record.ended_at is not None
    (greeting,) = record.turns
    assert greeting.interrupted and greeting.heard_text
    assert greeting.text.startswith(greeting.heard_text)


async def test_server_on_postgres(
    postgres_database: URL | str,
    speech_services: SpeechServices,
    speech: list[Utterance],
    tmp_path: Path,
) -> None:
    if isinstance(postgres_database, str):
        if os.environ.get("CI") == "true":
            pytest.fail(postgres_database, pytrace=False)
        pytest.skip(postgres_database)
    url = postgres_database.render_as_string(hide_password=False)
    server = await asyncio.to_thread(
        start_server, make_settings(tmp_path, database_url=url), speech_services
    )
    try:
        client = await AtomsClient.connect(
            server.ws_url, token=DEV_KEY, agent_id="quick", sample_rate=24000
        )
        u = speech[0]
        turn = await speak_and_wait_reply(client, u.samples, u.rate)
        assert_transcript(turn.first("transcript", "user")["text"], u.text)
        await client.close_session()
        await client.close()
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            for _ in range(50):
                r = await http.get(
                    f"/atoms/v1/conversation/{client.session['call_id']}",
                    headers={"Authorization": f"Bearer {DEV_KEY}"},
                )
                if r.json()["data"]["status"] == "ended":
                    break
                await asyncio.sleep(0.1)
        data = r.json()["data"]
        assert data["end_reason"] == "client_requested"
        assert [t["role"] for t in data["transcript"]] == ["user", "assistant"]
    finally:
        await asyncio.to_thread(server.stop)
