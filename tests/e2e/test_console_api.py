"""The live-agent console's endpoints and socket over a real server (no browser): sign-in
by form and by JSON, CSRF and cross-site guards, the cookie the socket needs, and what the
socket lets a console user do (only their tenant's queues, only their own chats).
The chat widget's page is checked here too; both pages run in Chromium elsewhere."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from voxgate.dialects import console as console_wire
from voxgate.server.console import signin
from voxgate.server.throttle import LoginThrottle
from voxgate.store import ConsoleUser, NewConversation, NewToolCall, NewTurn

from .conftest import RunningServer
from .test_messaging_ws import client, final_agent_message, of_type, register, until

pytestmark = [pytest.mark.e2e, pytest.mark.models]

PASSWORD = "correct horse battery"
JSON_HEADERS = {"X-Voxgate-Console": "1"}


def create_user(
    server: RunningServer, queues: list[str], tenant: str = "default", name: str = "Ann"
) -> ConsoleUser:
    return server.call(
        server.state.store.create_console_user(
            server.state.tenant_ids[tenant],
            username=f"{name.lower()}-{uuid.uuid4().hex[:8]}",
            password=PASSWORD,
            display_name=name,
            queues=queues,
        )
    )


def online(server: RunningServer, tenant: str, queue: str) -> int:
    async def count() -> int:
        return server.state.messaging.queues.online(server.state.tenant_ids[tenant], queue)

    return server.call(count())


def wait_signed_out(server: RunningServer, tenant: str = "default", queue: str = "default") -> None:
    """Consoles sign out when their socket closes, a moment after the client closed it:
    tests that need nobody online (another module's) must not see them."""
    deadline = time.monotonic() + 10
    while online(server, tenant, queue) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert online(server, tenant, queue) == 0


def view(server: RunningServer, user: ConsoleUser) -> list[dict[str, Any]]:
    async def snapshot() -> list[dict[str, Any]]:
        queues = tuple(server.state.messaging.queues.view(user))
        shown = json.loads(console_wire.encode(console_wire.Queues(queues=queues)))["queues"]
        return [{"name": q["name"], "waiting": q["waiting"]} for q in shown]

    return server.call(snapshot())


@pytest.fixture
def ann(server: RunningServer) -> Iterator[ConsoleUser]:
    yield create_user(server, ["default"])
    wait_signed_out(server)


@pytest_asyncio.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        yield client


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """The session cookie's value after a JSON sign-in."""
    r = await http.post(
        "/console/login", json={"username": username, "password": password}, headers=JSON_HEADERS
    )
    assert r.status_code == 200, r.text
    return r.cookies[signin.SESSION.name]


async def open_console(server: RunningServer, cookie: str | None) -> ClientConnection:
    headers = {"Cookie": f"{signin.SESSION.name}={cookie}"} if cookie else {}
    return await websockets.connect(f"{server.ws_url}/console/ws", additional_headers=headers)


async def receive(
    ws: ClientConnection, pred: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> dict[str, Any]:
    """The first message from the console socket that ``pred`` accepts."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if pred(message):
                return message


async def collect(ws: ClientConnection, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The first message of each wanted type (an event's type for ``event`` messages),
    in whatever order they come."""
    found: dict[str, dict[str, Any]] = {}

    def done(m: dict[str, Any]) -> bool:
        name = m["event"]["type"] if m["type"] == "event" else m["type"]
        if name in wanted:
            found.setdefault(name, m)
        return found.keys() == wanted

    await receive(ws, done)
    return found


def kind(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == name


def waiting_in(session_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m["type"] == "queues"
        and any(w["session_id"] == session_id for q in m["queues"] for w in q["waiting"])
    )


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] is False and body["error"]["code"] == str(status), body


# --- sign-in --------------------------------------------------------------------------------


async def test_json_login_sets_a_strict_http_only_cookie(
    http: httpx.AsyncClient, ann: ConsoleUser
) -> None:
    r = await http.post(
        "/console/login",
        json={"username": ann.username, "password": PASSWORD},
        headers=JSON_HEADERS,
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["username"] == ann.username and data["queues"] == ["default"]
    assert PASSWORD not in r.text
    cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/console"):
        assert attribute.lower() in cookie.lower(), cookie
    me = await http.get("/console/session")
    assert me.status_code == 200 and me.json()["data"]["id"] == ann.id
    page = await http.get("/console")
    assert page.status_code == 200 and 'id="queues"' in page.text  # the console, not the form
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    out = await http.post("/console/logout")
    assert_error(out, 403)  # no CSRF header
    out = await http.post("/console/logout", headers=JSON_HEADERS)
    assert out.status_code == 204
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert_error(await http.get("/console/session"), 401)


async def test_bad_logins(http: httpx.AsyncClient, ann: ConsoleUser) -> None:
    started = time.monotonic()
    r = await http.post(
        "/console/login",
        json={"username": ann.username, "password": "wrong!!"},
        headers=JSON_HEADERS,
    )
    assert_error(r, 401)
    assert time.monotonic() - started >= signin.FAILED_LOGIN_DELAY_S
    assert signin.SESSION.name not in r.headers.get("set-cookie", "")
    r = await http.post(
        "/console/login",
        json={"username": "nobody-here", "password": PASSWORD},
        headers=JSON_HEADERS,
    )
    assert_error(r, 401)
    # JSON without the CSRF header, from another site, or of the wrong type.
    body = {"username": ann.username, "password": PASSWORD}
    assert_error(await http.post("/console/login", json=body), 403)
    cross = {**JSON_HEADERS, "Sec-Fetch-Site": "cross-site"}
    assert_error(await http.post("/console/login", json=body, headers=cross), 403)
    evil = {**JSON_HEADERS, "Origin": "https://evil.example"}
    assert_error(await http.post("/console/login", json=body, headers=evil), 403)
    r = await http.post("/console/login", content="x", headers={"Content-Type": "text/plain"})
    assert_error(r, 415)
    r = await http.post("/console/login", json=[1], headers=JSON_HEADERS)
    assert_error(r, 400)


async def test_form_login(http: httpx.AsyncClient, ann: ConsoleUser) -> None:
    page = await http.get("/console")
    assert page.status_code == 200 and 'id="login-form"' in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    csrf = found.group(1)
    form = {"csrf": csrf, "username": ann.username, "password": "not it at all"}
    bad = await http.post("/console/login", data=form)
    assert bad.status_code == 401
    assert "Wrong username or password." in bad.text and 'id="login-form"' in bad.text
    assert f'value="{ann.username}"' in bad.text  # kept, the password is not
    # Without the form's token (a cross-site form cannot read it): refused.
    no_token = {"username": ann.username, "password": PASSWORD}
    assert (await http.post("/console/login", data=no_token)).status_code == 403
    ok = await http.post("/console/login", data={**form, "password": PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == "/console"
    assert signin.SESSION.name in ok.cookies
    assert 'id="queues"' in (await http.get("/console")).text


def test_throttle_counts_failures_in_a_window() -> None:
    throttle = LoginThrottle(limit=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        assert throttle.retry_after("1.2.3.4", now=t) == 0
        throttle.failed("1.2.3.4", now=t)
    assert throttle.retry_after("1.2.3.4", now=3.0) == 58
    assert throttle.retry_after("5.6.7.8", now=3.0) == 0
    assert throttle.retry_after("1.2.3.4", now=60.5) == 0  # the first failure is out


# --- the socket -----------------------------------------------------------------------------


async def test_the_socket_needs_the_cookie(
    server: RunningServer, http: httpx.AsyncClient, ann: ConsoleUser
) -> None:
    for cookie in (None, "forged.value", "e30.AAAA"):
        with pytest.raises(InvalidStatus) as refused:
            await open_console(server, cookie)
        assert refused.value.response.status_code == 401
    # A signed value of another purpose (the browser client's) is no console session.
    other = server.state.signers.web_session
    with pytest.raises(InvalidStatus) as refused:
        await open_console(server, other.sign({"user": ann.id, "tenant": ann.tenant_id}, 60))
    assert refused.value.response.status_code == 401
    cookie = await login(http, ann.username)
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(
            f"{server.ws_url}/console/ws",
            additional_headers={"Cookie": f"{signin.SESSION.name}={cookie}"},
            origin=websockets.Origin("https://evil.example"),
        )
    assert refused.value.response.status_code == 403
    ws = await open_console(server, cookie)
    async with ws:
        hello = await receive(ws, kind("hello"))
        assert hello["user"] == {
            "id": ann.id,
            "username": ann.username,
            "display_name": "Ann",
            "queues": ["default"],
        }
        queues = await receive(ws, kind("queues"))
        assert [q["name"] for q in queues["queues"]] == ["default"]
        await ws.send(json.dumps({"type": "ping"}))
        await receive(ws, kind("pong"))
        await ws.send("not json")
        assert (await receive(ws, kind("error")))["code"] == "bad_request"
        await ws.send(json.dumps({"type": "fly", "ref": "r1"}))
        error = await receive(ws, kind("error"))
        assert error["code"] == "bad_request" and error["ref"] == "r1"


async def test_a_console_takes_only_its_own_chats(
    server: RunningServer, http: httpx.AsyncClient, ann: ConsoleUser
) -> None:
    svc = server.state.messaging
    bob = create_user(server, ["billing"], name="Bob")  # same tenant, another queue
    zed = create_user(server, ["default"], tenant="acme", name="Zed")  # another tenant
    server.loop.call_soon_threadsafe(svc.queues.sign_in, zed)
    ann_ws = await open_console(server, await login(http, ann.username))
    bob_ws = await open_console(server, await login(http, bob.username))
    try:
        await receive(ann_ws, kind("queues"))
        async with client(server.http_url, register(server, "greeter"), platform="ios") as chat:
            await until(chat, final_agent_message)
            await chat.send("can I talk to a real person please")
            await until(chat, of_type("HANDOFF_QUEUE_STATUS"))
            sid = chat.session_id or ""
            snapshot = await receive(ann_ws, waiting_in(sid))
            row = next(
                w for q in snapshot["queues"] for w in q["waiting"] if w["session_id"] == sid
            )
            assert row["position"] == 1 and row["platform"] == "ios"
            assert "real person" in row["reason"]
            # Neither another queue's human nor another tenant's may take it, or talk in it.
            await bob_ws.send(json.dumps({"type": "accept", "session_id": sid}))
            assert (await receive(bob_ws, kind("error")))["code"] == "not_waiting"
            assert server.call(svc.queues.accept(zed, sid)) is None
            await bob_ws.send(json.dumps({"type": "message", "session_id": sid, "text": "hi"}))
            assert (await receive(bob_ws, kind("error")))["code"] == "not_your_chat"
            await ann_ws.send(json.dumps({"type": "message", "session_id": sid, "text": "hi"}))
            assert (await receive(ann_ws, kind("error")))["code"] == "not_your_chat"  # not yet

            await ann_ws.send(json.dumps({"type": "accept", "session_id": sid}))
            opened = await receive(ann_ws, kind("chat"))
            assert opened["session_id"] == sid and opened["platform"] == "ios"
            assert opened["ended"] is False and opened["queue"] == "default"
            types = [e["type"] for e in opened["events"]]
            assert types[0] == "EVENT_TYPE_SESSION_START"
            assert types[-1] == "EVENT_TYPE_LIVE_AGENT_JOINED"
            assert [t["role"] for t in opened["transcript"]][:2] == ["assistant", "user"]
            assert opened["transcript"][1]["text"] == "can I talk to a real person please"
            await until(chat, of_type("LIVE_AGENT_JOINED"))
            # Taken: gone from the queue; Bob still cannot talk in it.
            assert not waiting_in(sid)({"type": "queues", "queues": view(server, ann)})
            await bob_ws.send(json.dumps({"type": "end", "session_id": sid}))
            assert (await receive(bob_ws, kind("error")))["code"] == "not_your_chat"

            # Both ways: typing and messages.
            await chat.typing(True)
            typing = await receive(ann_ws, kind("event"))
            assert typing["event"]["type"] == "EVENT_TYPE_USER_TYPING"
            assert typing["event"]["payload"]["state"] == "TYPING_STATE_STARTED"
            await ann_ws.send(json.dumps({"type": "typing", "session_id": sid, "state": "started"}))
            live = (await until(chat, of_type("LIVE_AGENT_TYPING")))[-1]["payload"]
            assert live == {"state": "TYPING_STATE_STARTED", "agent_id": ann.id}
            too_many = [str(n) for n in range(console_wire.MAX_SUGGESTIONS + 1)]
            bad = {"type": "message", "session_id": sid, "text": "x", "suggestions": too_many}
            await ann_ws.send(json.dumps(bad))
            assert (await receive(ann_ws, kind("error")))["code"] == "bad_request"
            message = {
                "type": "message",
                "session_id": sid,
                "text": "Hi, I'm Ann.",
                "suggestions": ["Yes", " ", "No"],
                "ref": "m1",
            }
            await ann_ws.send(json.dumps(message))
            assert (await receive(ann_ws, kind("ok")))["ref"] == "m1"
            payload = (await until(chat, of_type("LIVE_AGENT_MESSAGE")))[-1]["payload"]
            assert payload["text"] == "Hi, I'm Ann." and payload["agent_id"] == ann.id
            assert payload["response_suggestions"] == [
                {"message_text": "Yes"},
                {"message_text": "No"},
            ]
            await chat.send("thanks")
            echo = await receive(
                ann_ws,
                lambda m: m["type"] == "event" and m["event"]["type"] == "EVENT_TYPE_USER_MESSAGE",
            )
            assert echo["event"]["payload"]["text"] == "thanks"

            await ann_ws.send(json.dumps({"type": "end", "session_id": sid}))
            seen = await collect(ann_ws, {"ok", "EVENT_TYPE_SESSION_END"})
            assert seen["EVENT_TYPE_SESSION_END"]["session_id"] == sid
            assert seen["ok"] == {"type": "ok", "request": "end", "session_id": sid}
            events = await until(chat, of_type("SESSION_END"))
            assert [e["type"] for e in events][-2:] == ["LIVE_AGENT_LEFT", "SESSION_END"]
    finally:
        await ann_ws.close()
        await bob_ws.close()
        server.loop.call_soon_threadsafe(svc.queues.sign_out, zed)
    wait_signed_out(server, "default", "billing")


async def test_a_reopened_console_follows_its_chats(
    server: RunningServer, http: httpx.AsyncClient, ann: ConsoleUser
) -> None:
    cookie = await login(http, ann.username)
    ws = await open_console(server, cookie)
    async with client(server.http_url, register(server, "greeter")) as chat:
        await until(chat, final_agent_message)
        await chat.send("real person please")
        await until(chat, of_type("HANDOFF_QUEUE_STATUS"))
        sid = chat.session_id or ""
        await receive(ws, waiting_in(sid))
        await ws.send(json.dumps({"type": "accept", "session_id": sid}))
        await receive(ws, kind("chat"))
        await ws.close()  # a reload
        ws = await open_console(server, cookie)
        reopened = await receive(ws, kind("chat"))
        assert reopened["session_id"] == sid and reopened["ended"] is False
        await chat.send("still there?")
        echo = await receive(
            ws, lambda m: m["type"] == "event" and m["event"]["type"] == "EVENT_TYPE_USER_MESSAGE"
        )
        assert echo["event"]["payload"]["text"] == "still there?"
        # Already accepted: a second accept is refused.
        await ws.send(json.dumps({"type": "accept", "session_id": sid}))
        assert (await receive(ws, kind("error")))["code"] == "not_waiting"
        await ws.send(json.dumps({"type": "end", "session_id": sid}))
        await until(chat, of_type("SESSION_END"))
    await ws.close()


# --- calls the agent handed over --------------------------------------------------------------


def handed_over_call(server: RunningServer, queue: str, caller_said: str) -> str:
    """A finished voice call that the agent handed over to ``queue``, as the engine
    records one."""
    store = server.state.store
    call_id = "call_" + uuid.uuid4().hex
    now = datetime.now(UTC)

    async def record() -> None:
        await store.create_conversation(
            NewConversation(
                id=call_id,
                tenant_id=server.state.tenant_ids["default"],
                agent_id="greeter",
                channel="voice",
                dialect="atoms",
                mode="webcall",
                sample_rate=24000,
                variables={},
                started_at=now,
            )
        )
        for role, text in (
            ("assistant", "Hello, welcome back."),
            ("user", caller_said),
            ("assistant", "Of course, I'm transferring you to a colleague now."),
        ):
            turn = NewTurn(
                role=role,
                text=text,
                heard_text=None,
                interrupted=False,
                started_at=now,
                ended_at=now,
            )
            await store.add_turn(call_id, turn)
        await store.add_tool_call(
            call_id,
            NewToolCall(
                name="transfer_to_human",
                arguments={"queue": queue, "reason": caller_said},
                result={"queue": queue},
                status="completed",
                error=None,
                started_at=now,
                duration_ms=1.0,
            ),
        )
        await store.end_conversation(call_id, "handoff", now)

    server.call(record())
    return call_id


async def test_transcripts_of_calls_handed_to_my_queues(
    server: RunningServer, http: httpx.AsyncClient, ann: ConsoleUser
) -> None:
    mine = handed_over_call(server, "default", "I need a real person")
    other = handed_over_call(server, "billing", "my invoice is wrong")
    ws = await open_console(server, await login(http, ann.username))
    async with ws:
        calls = (await receive(ws, kind("calls")))["calls"]
        ids = [c["conversation_id"] for c in calls]
        assert mine in ids and other not in ids
        listed = next(c for c in calls if c["conversation_id"] == mine)
        assert listed["queue"] == "default" and listed["reason"] == "I need a real person"
        assert listed["channel"] == "voice" and listed["turn_count"] == 3
        await ws.send(json.dumps({"type": "transcript", "conversation_id": mine}))
        transcript = await receive(ws, kind("transcript"))
        assert [t["text"] for t in transcript["turns"]][1] == "I need a real person"
        for refused in (other, "call_nope"):
            await ws.send(json.dumps({"type": "transcript", "conversation_id": refused}))
            assert (await receive(ws, kind("error")))["code"] == "not_found"


# --- the chat widget's page -----------------------------------------------------------------


async def test_chat_page(http: httpx.AsyncClient) -> None:
    page = await http.get("/chat")
    assert page.status_code == 200 and 'id="composer"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self' ws://" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    script = await http.get("/chat/static/chat.js")
    assert script.status_code == 200 and "REQUEST_POLY_AGENT_JOIN" in script.text
    schema = (await http.get("/openapi.json")).json()
    assert not [p for p in schema["paths"] if p.startswith(("/console", "/chat"))]
