"""The messaging WebSocket on a real server, driven by the SDK's ``MessagingClient`` (and a
raw socket where the client would hide what is checked): replay by cursor, streaming,
receipts, heartbeats, limits and refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from voxgate.client import ReconnectPolicy
from voxgate.client.messaging import MessagingClient, MessagingError
from voxgate.dialects import messaging as wire
from voxgate.server.messaging_auth import issue_access_token
from voxgate.store import Connector

from .conftest import RunningServer, make_settings, start_server
from .netproxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.models]
HOST = "example.com"


def register(server: RunningServer, agent_id: str = "quick", tenant: str = "default") -> str:
    store = server.state.store
    connector, token = server.call(
        store.create_connector(server.state.tenant_ids[tenant], name="ws", agent_id=agent_id)
    )
    server.call(store.add_connector_host(connector.id, HOST))
    return token


def client(url: str, token: str, **kwargs: Any) -> MessagingClient:
    return MessagingClient(url, connector_token=token, host=HOST, heartbeat_s=3600, **kwargs)


async def until(
    chat: MessagingClient, pred: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        async for event in chat:
            seen.append(event)
            if pred(event):
                return seen
    raise AssertionError(f"the session ended first: {[e['type'] for e in seen]}")


def of_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == kind


def final_agent_message(e: dict[str, Any]) -> bool:
    p = e.get("payload") or {}
    return e["type"] == "POLY_AGENT_MESSAGE" or (
        e["type"] == "POLY_AGENT_MESSAGE_CHUNK" and p.get("is_complete") is True
    )


async def raw_socket(server_url: str, token: str, cursor: int = 0) -> tuple[ClientConnection, str]:
    """A session opened over REST and a bare socket to it."""
    async with httpx.AsyncClient(base_url=server_url) as http:
        access = (
            await http.post(
                "/api/v1/access-token", json={}, headers={"X-Token": token, "X-Host": HOST}
            )
        ).json()["access_token"]
        session_id = (
            await http.post(
                "/api/v1/sessions", json={}, headers={"Authorization": f"Bearer {access}"}
            )
        ).json()["session_id"]
    ws_url = "ws" + server_url[4:]
    query = urlencode({"session_id": session_id, "access_token": access, "cursor": cursor})
    ws = await websockets.connect(f"{ws_url}/ws?{query}", max_size=None)
    return ws, access


async def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        event: dict[str, Any] = json.loads(await ws.recv())
    return event


async def test_a_conversation_with_greeting_and_reply(server: RunningServer) -> None:
    token = register(server, "greeter")
    async with client(server.http_url, token) as chat:
        events = await until(chat, of_type("POLY_AGENT_MESSAGE"))
        assert [e["type"] for e in events if not e["type"].startswith("CLIENT_")] == [
            "SESSION_START",
            "POLY_AGENT_JOINED",
            "POLY_AGENT_MESSAGE",
        ]
        start = events[[e["type"] for e in events].index("SESSION_START")]
        assert start["sequence"] == 1
        assert start["payload"]["capabilities"] == {
            "streaming": False,
            "max_message_size_bytes": 131072,
            "max_reconnect_attempts": 5,
            "heartbeat_interval_seconds": 30,
        }
        assert events[-1]["payload"]["text"] == "Hello , welcome back."
        receipt = await chat.send("who am I?")
        events = await until(chat, of_type("POLY_AGENT_MESSAGE"))
        echo = next(e for e in events if e["type"] == "USER_MESSAGE")
        assert echo["payload"]["text"] == "who am I?" and echo["payload"]["message_id"]
        assert echo["metadata"] == {"custom": {"client_event_id": receipt}}
        assert any(e["type"] == "POLY_AGENT_THINKING" and e["sequence"] is None for e in events)
        assert events[-1]["payload"]["text"] == "You are caller ."
        session_id = chat.session_id
    # Stored: the log and the conversation's turns.
    assert session_id is not None
    record = server.call(
        server.state.store.get_conversation(session_id, server.state.tenant_ids["default"])
    )
    assert record is not None and record.channel == "messaging"
    assert [t.text for t in record.turns] == [
        "Hello , welcome back.",
        "who am I?",
        "You are caller .",
    ]


async def test_streamed_chunks_assemble_into_the_same_text(server: RunningServer) -> None:
    token = register(server, "talker")  # a long greeting, then a short reply
    texts: dict[bool, list[str]] = {}
    for streaming in (False, True):
        async with client(server.http_url, token, streaming=streaming) as chat:
            events = await until(chat, final_agent_message)
            await chat.send("hello")
            events += await until(chat, final_agent_message)
            chunks = [e for e in events if e["type"] == "POLY_AGENT_MESSAGE_CHUNK"]
            if streaming:
                greeting = [
                    c
                    for c in chunks
                    if c["payload"]["message_id"] == chunks[0]["payload"]["message_id"]
                ]
                assert len(greeting) > 30  # word by word
                assert [c["payload"]["chunk_index"] for c in greeting] == list(
                    range(1, len(greeting) + 1)
                )
                assert greeting[-1]["payload"] == {
                    **greeting[-1]["payload"],
                    "text": "",
                    "is_complete": True,
                }
                assert not any(c["payload"]["is_complete"] for c in greeting[:-1])
            else:
                assert not chunks
            agent = [m for m in chat.messages.values() if m.sender == "agent"]
            assert all(m.complete for m in agent)
            texts[streaming] = [m.text for m in agent]
    assert texts[True] == texts[False]
    assert texts[True][0].startswith("Hello and welcome.") and texts[True][1] == "Okay, I stopped."


async def test_socket_killed_mid_stream_every_event_once_in_order(server: RunningServer) -> None:
    token = register(server, "talker")
    seen: list[dict[str, Any]] = []
    async with client(server.http_url, token, streaming=True, on_event=seen.append) as chat:
        await until(chat, of_type("POLY_AGENT_MESSAGE_CHUNK"))
        chat.drop_connection()  # mid-stream: more chunks of the greeting are being logged
        await until(chat, final_agent_message)
        assert chat.handshakes == 2
        log = server.call(server.state.store.list_messaging_events(chat.session_id or ""))
    logged = [(e.id, e.sequence) for e in log]
    received = [(e["id"], e["sequence"]) for e in seen if e.get("sequence") is not None]
    assert received == logged  # each once, in order, none missing
    assert any(e["type"] == "CLIENT_RECONNECTED" for e in seen)


async def test_server_restart_loses_nothing(
    speech_services: Any, embedder: Any, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    first = await asyncio.to_thread(start_server, settings, speech_services, embedder=embedder)
    proxy = await TcpProxy(int(first.http_url.rsplit(":", 1)[1])).start()
    seen: list[dict[str, Any]] = []
    try:
        token = register(first, "talker")
        chat = client(
            f"http://127.0.0.1:{proxy.port}",
            token,
            on_event=seen.append,
            reconnect=ReconnectPolicy(initial_s=0.1, maximum_s=0.5),
        )
        async with chat:
            await until(chat, final_agent_message)
            await chat.send("are you there?")
            await until(chat, final_agent_message)
            await asyncio.to_thread(first.stop)
            await until(chat, of_type("CLIENT_RECONNECTING"))
            second = await asyncio.to_thread(
                start_server, settings, speech_services, embedder=embedder
            )
            try:
                proxy.upstream_port = int(second.http_url.rsplit(":", 1)[1])
                await until(chat, of_type("CLIENT_RECONNECTED"), timeout=30)
                await chat.send("hello again")
                await until(chat, final_agent_message)
                log = second.call(second.state.store.list_messaging_events(chat.session_id or ""))
            finally:
                await asyncio.to_thread(second.stop)
    finally:
        await proxy.stop()
    logged = [(e.id, e.sequence) for e in log]
    received = [(e["id"], e["sequence"]) for e in seen if e.get("sequence") is not None]
    assert received == logged
    assert [e.type for e in log].count("USER_MESSAGE") == 2


async def test_heartbeat_and_typing_are_transient(server: RunningServer) -> None:
    ws, _ = await raw_socket(server.http_url, register(server))
    batch = await recv(ws)
    assert batch["type"] == "EVENT_TYPE_EVENT_BATCH" and batch["sequence"] is None
    await ws.send(wire.encode_client("HEARTBEAT", client_event_id="hb1"))
    echo = await recv(ws)
    assert echo["type"] == "EVENT_TYPE_HEARTBEAT" and echo["sequence"] is None
    assert echo["metadata"] == {"custom": {"client_event_id": "hb1"}}
    await ws.send(wire.encode_client("USER_TYPING", {"state": "TYPING_STATE_STARTED"}))
    await ws.send(wire.encode_client("HEARTBEAT"))
    assert (await recv(ws))["type"] == "EVENT_TYPE_HEARTBEAT"  # typing echoed nothing
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("not json", "malformed JSON"),
        ('{"type": "EVENT_TYPE_POLY_AGENT_MESSAGE", "payload": {}}', "unknown client event"),
        ('{"type": "EVENT_TYPE_USER_MESSAGE", "payload": {"text": ""}}', "non-empty"),
        ('{"type": "EVENT_TYPE_USER_TYPING", "payload": {"state": "x"}}', "TYPING_STATE"),
        (
            json.dumps({"type": "EVENT_TYPE_USER_MESSAGE", "payload": {"text": "a" * 200_000}}),
            "over 131072",
        ),
    ],
)
async def test_bad_events_get_a_system_message_and_the_socket_goes_on(
    server: RunningServer, frame: str, says: str
) -> None:
    ws, _ = await raw_socket(server.http_url, register(server))
    await recv(ws)
    await ws.send(frame)
    error = await recv(ws)
    assert error["type"] == "EVENT_TYPE_SYSTEM_MESSAGE"
    assert error["payload"]["level"] == "SYSTEM_MESSAGE_LEVEL_ERROR"
    assert says in error["payload"]["message"]
    await ws.send(wire.encode_client("USER_MESSAGE", {"text": "still there?"}))
    assert (await recv(ws))["type"] == "EVENT_TYPE_USER_MESSAGE"
    await ws.close()


async def test_handshake_refusals(server: RunningServer) -> None:
    token = register(server)
    ws, access = await raw_socket(server.http_url, token)
    await recv(ws)
    session_id = await _session_of(ws)
    ws_url = "ws" + server.http_url[4:] + "/ws?"

    async def status(**query: Any) -> int:
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(ws_url + urlencode(query))
        return refused.value.response.status_code

    assert await status(session_id=session_id) == 400
    assert await status(session_id=session_id, access_token="nope") == 401
    # An access token past its 24 h.
    secret = server.state.secret
    connector: Connector = (server.call(server.state.store.list_connectors()))[-1]
    old = issue_access_token(secret, connector, HOST, now=datetime.now(UTC) - timedelta(days=2))
    assert await status(session_id=session_id, access_token=old) == 401
    # Another tenant's connector cannot reach this session.
    other = register(server, "acme-bot", tenant="acme")
    other_ws, other_access = await raw_socket(server.http_url, other)
    await other_ws.close()
    assert await status(session_id=session_id, access_token=other_access) == 404
    assert await status(session_id="msg_unknown", access_token=access) == 404
    # Ten connections per session; the 11th is refused.
    extra = [
        await websockets.connect(
            ws_url + urlencode({"session_id": session_id, "access_token": access})
        )
        for _ in range(9)
    ]
    assert await status(session_id=session_id, access_token=access) == 429
    for sock in [ws, *extra]:
        await sock.close()


async def _session_of(ws: ClientConnection) -> str:
    query = ws.request.path.split("?", 1)[1] if ws.request is not None else ""
    from urllib.parse import parse_qs

    return parse_qs(query)["session_id"][0]


async def test_end_session(server: RunningServer) -> None:
    token = register(server)
    async with client(server.http_url, token) as chat:
        await until(chat, of_type("SESSION_START"))
        await chat.end()
        assert chat.ended is not None
        assert chat.ended["payload"] == {"reason": "REASON_USER_END"}
    session = server.call(server.state.store.get_messaging_session(chat.session_id or ""))
    assert session is not None and session.ended_at is not None
    with pytest.raises(MessagingError):  # an ended session cannot be joined again
        async with client(server.http_url, token, session_id=chat.session_id):
            pass


async def test_idle_sessions_are_swept_with_session_end(server: RunningServer) -> None:

    async with client(server.http_url, register(server)) as chat:
        await until(chat, of_type("SESSION_START"))
        later = datetime.now(UTC) + timedelta(minutes=11)
        ended = server.call(server.state.messaging.sweep(600, now=later))
        assert chat.session_id in ended
        events = await until(chat, of_type("SESSION_END"))
        assert events[-1]["payload"] == {"reason": "REASON_USER_ABANDONED"}
