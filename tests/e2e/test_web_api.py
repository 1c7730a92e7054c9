"""The browser client's endpoints over a real socket: login with a session cookie that
never holds the key, CSRF guards, agents, single-use call tokens, revocation, the page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets

from .conftest import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.models]

WEB = {"X-Voxgate-Web": "1"}


@pytest_asyncio.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        yield client


async def login(http: httpx.AsyncClient, key: str) -> httpx.Response:
    return await http.post("/web/session", json={"api_key": key}, headers=WEB)


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] is False and body["error"]["code"] == str(status), body


async def test_login_sets_a_cookie_without_the_key(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    r = await login(http, server.dev_key)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["key_name"] == "dev" and data["tenant"] == "default"
    assert server.dev_key not in r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("voxgate_web=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/web", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), cookie
    assert server.dev_key not in cookie
    value = http.cookies["voxgate_web"]
    assert server.dev_key[:8] not in value
    session = await http.get("/web/session")
    assert session.status_code == 200 and session.json()["data"]["key_name"] == "dev"
    agents = await http.get("/web/agents")
    assert agents.status_code == 200
    ids = [a["id"] for a in agents.json()["data"]]
    assert ids == ["greeter", "quick", "talker"]  # not acme-bot: another tenant's


async def test_wrong_key_and_missing_cookie_are_401(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    assert_error(await login(http, "vg_wrong"), 401)
    assert "voxgate_web" not in http.cookies
    assert_error(await http.get("/web/session"), 401)
    assert_error(await http.get("/web/agents"), 401)
    assert_error(await http.post("/web/call", json={"agent_id": "quick"}, headers=WEB), 401)
    # A forged or tampered cookie is refused the same way.
    await login(http, server.dev_key)
    value = http.cookies["voxgate_web"]
    body, _, mac = value.partition(".")
    http.cookies.clear()
    http.cookies.set("voxgate_web", body + "." + mac[::-1], path="/web")
    assert_error(await http.get("/web/agents"), 401)
    http.cookies.set("voxgate_web", "garbage", path="/web")
    assert_error(await http.get("/web/agents"), 401)
    # An API key in the Authorization header is no substitute for the cookie.
    auth = {"Authorization": f"Bearer {server.dev_key}"}
    http.cookies.clear()
    assert_error(await http.get("/web/agents", headers=auth), 401)


async def test_state_changing_requests_need_the_csrf_header(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    no_header = await http.post("/web/session", json={"api_key": server.dev_key})
    assert_error(no_header, 403)
    assert "voxgate_web" not in http.cookies
    await login(http, server.dev_key)
    assert_error(await http.post("/web/call", json={"agent_id": "quick"}), 403)
    cross_site = {**WEB, "Sec-Fetch-Site": "cross-site"}
    assert_error(await http.post("/web/call", json={"agent_id": "quick"}, headers=cross_site), 403)
    assert_error(await http.delete("/web/session"), 403)
    same = {**WEB, "Sec-Fetch-Site": "same-origin"}
    assert (
        await http.post("/web/call", json={"agent_id": "quick"}, headers=same)
    ).status_code == 201


async def _session_created(server: RunningServer, token: str) -> dict[str, Any]:
    url = f"{server.ws_url}/atoms/v1/agent/connect?token={token}&sample_rate=48000"
    async with websockets.connect(url) as ws:
        event: dict[str, Any] = json.loads(await ws.recv())
        if event["type"] == "session.created":
            await ws.send(json.dumps({"type": "session.close"}))
            assert json.loads(await ws.recv())["type"] == "session.closed"
        else:
            await ws.wait_closed()
            event["close_code"] = ws.close_code
        return event


async def test_call_token_works_once(http: httpx.AsyncClient, server: RunningServer) -> None:
    await login(http, server.dev_key)
    r = await http.post("/web/call", json={"agent_id": "quick"}, headers=WEB)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["access_token"].startswith("wct_") and data["expires_in"] == 30
    created = await _session_created(server, data["access_token"])
    assert created["type"] == "session.created" and created["sample_rate"] == 48000
    reused = await _session_created(server, data["access_token"])
    assert reused["type"] == "error" and reused["code"] == "401"
    assert reused["close_code"] == 4401


async def test_call_errors(http: httpx.AsyncClient, server: RunningServer) -> None:
    await login(http, server.dev_key)
    for agent in ("acme-bot", "no-such-agent"):
        assert_error(await http.post("/web/call", json={"agent_id": agent}, headers=WEB), 404)
    assert_error(await http.post("/web/call", json={}, headers=WEB), 400)
    assert_error(await http.post("/web/call", json={"agent_id": ""}, headers=WEB), 400)
    assert_error(await http.post("/web/session", json={"api_key": ""}, headers=WEB), 400)


async def test_no_call_tokens_while_draining(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    await login(http, server.dev_key)
    server.state.draining = True
    try:
        r = await http.post("/web/call", json={"agent_id": "quick"}, headers=WEB)
    finally:
        server.state.draining = False
    assert_error(r, 503)


async def test_revoked_key_ends_its_sessions(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    store = server.state.store
    tenant = server.state.tenant_ids["default"]
    key, secret = server.call(store.create_api_key(tenant, "web-revoke", agents=["quick"]))
    assert (await login(http, secret)).status_code == 200
    agents = await http.get("/web/agents")
    assert [a["id"] for a in agents.json()["data"]] == ["quick"]  # the key's own limits
    assert_error(await http.post("/web/call", json={"agent_id": "talker"}, headers=WEB), 404)
    assert server.call(store.revoke_api_key(key.id))
    assert_error(await http.get("/web/agents"), 401)
    assert_error(await http.post("/web/call", json={"agent_id": "quick"}, headers=WEB), 401)
    assert_error(await login(http, secret), 401)


async def test_logout_clears_the_cookie(http: httpx.AsyncClient, server: RunningServer) -> None:
    await login(http, server.dev_key)
    r = await http.delete("/web/session", headers=WEB)
    assert r.status_code == 204
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert "voxgate_web" not in http.cookies
    assert_error(await http.get("/web/agents"), 401)


async def test_page_and_static_files(http: httpx.AsyncClient, server: RunningServer) -> None:
    page = await http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert f"ws://{server.http_url.removeprefix('http://')} " in csp
    assert "vg_" not in page.text.replace("vg_…", "")  # no key in the page
    for name in ("app.js", "capture-worklet.js", "playback-worklet.js", "style.css"):
        r = await http.get(f"/web/static/{name}")
        assert r.status_code == 200, name
        assert name.split(".")[-1] in r.headers["content-type"].replace("javascript", "js")
    assert_error(await http.get("/web/static/nope.js"), 404)
    assert (await http.get("/web/static/../../config.py")).status_code == 404


async def test_web_endpoints_in_openapi(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    paths = schema["paths"]
    assert "/" not in paths
    assert paths["/web/agents"]["get"]["security"] == [{"WebSession": []}]
    assert paths["/web/call"]["post"]["security"] == [{"WebSession": []}]
    assert "security" not in paths["/web/session"]["post"]
    assert schema["components"]["securitySchemes"]["WebSession"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "voxgate_web",
        "description": (
            "The browser client's session cookie, set by `POST /web/session`. Requests that "
            "change something also need the `X-Voxgate-Web` header."
        ),
    }
