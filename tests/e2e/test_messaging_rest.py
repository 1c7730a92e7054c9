"""The messaging API's REST endpoints on a real server: ``POST /api/v1/access-token`` and
``POST /api/v1/sessions``, and ``session_for`` (the WebSocket's check)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from voxgate.errors import AuthError
from voxgate.server.messaging_auth import (
    SESSION_IDLE_TIMEOUT_S,
    SessionEndedError,
    SessionExpiredError,
    SessionNotFoundError,
    issue_access_token,
    session_for,
    verify_access_token,
)
from voxgate.store import Connector

from .conftest import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.models]

TOKEN_URL = "/api/v1/access-token"
SESSIONS_URL = "/api/v1/sessions"


@dataclass
class Registered:
    connector: Connector
    token: str


def _connector(
    server: RunningServer,
    *hosts: str,
    agent_id: str = "quick",
    tenant: str = "default",
    bundle: tuple[str, ...] = (),
) -> Registered:
    store = server.state.store
    connector, token = server.call(
        store.create_connector(server.state.tenant_ids[tenant], name="e2e", agent_id=agent_id)
    )
    for host in hosts:
        server.call(store.add_connector_host(connector.id, host))
    for host in bundle:
        server.call(store.add_connector_host(connector.id, host, kind="bundle"))
    return Registered(connector, token)


@pytest_asyncio.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        yield client


@pytest.fixture(scope="module")
def site(server: RunningServer) -> Registered:
    return _connector(server, "example.com", bundle=("com.example.app",))


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] is False
    assert body["error"]["code"] == str(status)
    message: str = body["error"]["message"]
    return message


async def _access_token(http: httpx.AsyncClient, token: str, host: str) -> str:
    response = await http.post(TOKEN_URL, headers={"X-Token": token, "X-Host": host}, json={})
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


# -- POST /api/v1/access-token --------------------------------------------------------------


async def test_access_token(
    http: httpx.AsyncClient, server: RunningServer, site: Registered
) -> None:
    response = await http.post(
        TOKEN_URL, headers={"X-Token": site.token, "X-Host": "example.com"}, json={}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 86400
    assert body["token_type"] == "Bearer"
    grant = verify_access_token(server.state.secret, body["access_token"])
    assert grant.connector_id == site.connector.id
    assert grant.tenant_id == server.state.tenant_ids["default"]
    assert grant.host == "example.com"
    remaining = grant.expires_at - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < remaining <= timedelta(hours=24)


async def test_access_token_without_body(http: httpx.AsyncClient, site: Registered) -> None:
    response = await http.post(TOKEN_URL, headers={"X-Token": site.token, "X-Host": "Example.COM"})
    assert response.status_code == 200, response.text
    extra = await http.post(
        TOKEN_URL, headers={"X-Token": site.token, "X-Host": "example.com"}, json={"x": 1}
    )
    assert extra.status_code == 200, extra.text


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("chat.example.com", 200),
        ("a.b.example.com", 200),
        ("com.example.app", 200),
        ("badexample.com", 401),
        ("example.com.evil.net", 401),
        ("example.org", 401),
        ("beta.com.example.app", 401),
        ("com.example.app2", 401),
        ("https://example.com", 401),
        ("example.com:443", 401),
    ],
)
async def test_access_token_hosts(
    http: httpx.AsyncClient, site: Registered, host: str, status: int
) -> None:
    response = await http.post(TOKEN_URL, headers={"X-Token": site.token, "X-Host": host}, json={})
    assert response.status_code == status, response.text
    if status == 401:
        assert "unregistered host" in _error(response, 401)


@pytest.mark.parametrize(
    "headers",
    [{"X-Host": "example.com"}, {"X-Token": "vmc_x"}, {}, {"X-Token": "", "X-Host": "a.b"}],
)
async def test_access_token_missing_header(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post(TOKEN_URL, headers=headers, json={})
    _error(response, 400)


async def test_access_token_empty_host(http: httpx.AsyncClient, site: Registered) -> None:
    response = await http.post(TOKEN_URL, headers={"X-Token": site.token, "X-Host": ""})
    assert "X-Host" in _error(response, 400)


async def test_access_token_bad_body(http: httpx.AsyncClient, site: Registered) -> None:
    headers = {"X-Token": site.token, "X-Host": "example.com", "Content-Type": "application/json"}
    for content in (b"[]", b"not json", b'"x"'):
        _error(await http.post(TOKEN_URL, headers=headers, content=content), 400)


async def test_access_token_wrong_token(http: httpx.AsyncClient, site: Registered) -> None:
    for token in (site.token + "x", "vmc_unknown", "vg_test_dev_key_0123456789abcdef"):
        response = await http.post(
            TOKEN_URL, headers={"X-Token": token, "X-Host": "example.com"}, json={}
        )
        assert token not in _error(response, 401)


async def test_access_token_revoked_connector(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    reg = _connector(server, "example.com")
    await _access_token(http, reg.token, "example.com")
    assert server.call(server.state.store.revoke_connector(reg.connector.id))
    response = await http.post(
        TOKEN_URL, headers={"X-Token": reg.token, "X-Host": "example.com"}, json={}
    )
    _error(response, 401)


# -- POST /api/v1/sessions ------------------------------------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_create_session(
    http: httpx.AsyncClient, server: RunningServer, site: Registered
) -> None:
    access = await _access_token(http, site.token, "chat.example.com")
    response = await http.post(SESSIONS_URL, headers=_bearer(access), json={})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"session_id"}
    session_id = response.json()["session_id"]
    assert session_id.startswith("msg_")
    session = server.call(server.state.store.get_messaging_session(session_id))
    assert session is not None
    assert session.connector_id == site.connector.id
    assert session.agent_id == "quick"
    assert (session.platform, session.streaming, session.device_type) == ("web", False, None)
    assert session.state == "agent"
    conv = server.call(
        server.state.store.get_conversation(session_id, server.state.tenant_ids["default"])
    )
    assert conv is not None
    assert (conv.channel, conv.mode) == ("messaging", "chat")
    assert conv.variables == {"platform": "web"}


async def test_create_session_options(
    http: httpx.AsyncClient, server: RunningServer, site: Registered
) -> None:
    access = await _access_token(http, site.token, "com.example.app")
    body = {"platform": "ios", "streaming_enabled": True, "device_type": "iPhone15,2"}
    response = await http.post(SESSIONS_URL, headers=_bearer(access), json=body)
    assert response.status_code == 200, response.text
    session = server.call(server.state.store.get_messaging_session(response.json()["session_id"]))
    assert session is not None
    assert (session.platform, session.streaming, session.device_type) == (
        "ios",
        True,
        "iPhone15,2",
    )
    no_body = await http.post(SESSIONS_URL, headers=_bearer(access))
    assert no_body.status_code == 200, no_body.text


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "windows"},
        {"platform": None},
        {"streaming_enabled": "maybe"},
        {"device_type": "x" * 101},
        {"device_type": 5},
        {"device_type": "a\x00b"},
        [],
    ],
)
async def test_create_session_bad_body(
    http: httpx.AsyncClient, site: Registered, body: Any
) -> None:
    access = await _access_token(http, site.token, "example.com")
    _error(await http.post(SESSIONS_URL, headers=_bearer(access), json=body), 400)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer vg_test_dev_key_0123456789abcdef"},
        {"Authorization": "Bearer a.b.c"},
    ],
)
async def test_create_session_bad_credentials(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post(SESSIONS_URL, headers=headers, json={})
    _error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_create_session_expired_token(
    http: httpx.AsyncClient, server: RunningServer, site: Registered
) -> None:
    secret = server.state.secret
    past = datetime.now(UTC) - timedelta(days=1, seconds=1)
    expired = issue_access_token(secret, site.connector, "example.com", now=past)
    response = await http.post(SESSIONS_URL, headers=_bearer(expired), json={})
    assert "expired" in _error(response, 401)
    still = issue_access_token(secret, site.connector, "example.com", now=past, ttl_s=86400 + 60)
    assert (await http.post(SESSIONS_URL, headers=_bearer(still), json={})).status_code == 200


async def test_create_session_forged_token(http: httpx.AsyncClient, site: Registered) -> None:
    forged = issue_access_token(b"f" * 48, site.connector, "example.com")
    response = await http.post(SESSIONS_URL, headers=_bearer(forged), json={})
    assert "signature" in _error(response, 401)


async def test_create_session_revoked_since(http: httpx.AsyncClient, server: RunningServer) -> None:
    reg = _connector(server, "example.com")
    access = await _access_token(http, reg.token, "example.com")
    assert (await http.post(SESSIONS_URL, headers=_bearer(access), json={})).status_code == 200
    server.call(server.state.store.revoke_connector(reg.connector.id))
    response = await http.post(SESSIONS_URL, headers=_bearer(access), json={})
    assert "revoked" in _error(response, 401)


async def test_create_session_host_removed_since(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    reg = _connector(server, "example.com", "example.org")
    access = await _access_token(http, reg.token, "www.example.com")
    server.call(server.state.store.remove_connector_host(reg.connector.id, "example.com"))
    response = await http.post(SESSIONS_URL, headers=_bearer(access), json={})
    assert "no longer registered" in _error(response, 401)


async def test_create_session_agent_not_served(
    http: httpx.AsyncClient, server: RunningServer
) -> None:
    for agent_id, tenant in (("no-such-agent", "default"), ("quick", "acme")):
        reg = _connector(server, "example.com", agent_id=agent_id, tenant=tenant)
        access = await _access_token(http, reg.token, "example.com")
        response = await http.post(SESSIONS_URL, headers=_bearer(access), json={})
        assert agent_id in _error(response, 403)


async def test_other_tenant_connector(http: httpx.AsyncClient, server: RunningServer) -> None:
    reg = _connector(server, "acme.example", agent_id="acme-bot", tenant="acme")
    access = await _access_token(http, reg.token, "acme.example")
    response = await http.post(SESSIONS_URL, headers=_bearer(access), json={})
    assert response.status_code == 200, response.text
    session = server.call(server.state.store.get_messaging_session(response.json()["session_id"]))
    assert session is not None
    assert session.tenant_id == server.state.tenant_ids["acme"]


# -- session_for (the WebSocket's check) ----------------------------------------------------


async def _session(http: httpx.AsyncClient, reg: Registered) -> tuple[str, str]:
    access = await _access_token(http, reg.token, "example.com")
    response = await http.post(SESSIONS_URL, headers=_bearer(access), json={})
    assert response.status_code == 200, response.text
    return response.json()["session_id"], access


async def test_session_for(http: httpx.AsyncClient, server: RunningServer) -> None:
    reg = _connector(server, "example.com")
    session_id, access = await _session(http, reg)
    state = server.state
    found = server.call(session_for(state, session_id, access))
    assert found.id == session_id

    with pytest.raises(AuthError):
        server.call(session_for(state, session_id, "garbage"))
    with pytest.raises(AuthError):
        server.call(session_for(state, session_id, None))
    with pytest.raises(SessionNotFoundError):
        server.call(session_for(state, "msg_" + "0" * 32, access))
    with pytest.raises(SessionNotFoundError):
        server.call(session_for(state, "msg_\x00", access))

    # Another connector's token (same tenant, or another tenant): as if it did not exist.
    other = _connector(server, "example.com")
    other_access = await _access_token(http, other.token, "example.com")
    with pytest.raises(SessionNotFoundError):
        server.call(session_for(state, session_id, other_access))
    acme = _connector(server, "example.com", agent_id="acme-bot", tenant="acme")
    acme_access = await _access_token(http, acme.token, "example.com")
    with pytest.raises(SessionNotFoundError):
        server.call(session_for(state, session_id, acme_access))

    # Idle for longer than the timeout: expired.
    later = datetime.now(UTC) + timedelta(seconds=SESSION_IDLE_TIMEOUT_S + 1)
    with pytest.raises(SessionExpiredError):
        server.call(session_for(state, session_id, access, now=later))
    server.call(state.store.touch_messaging_session(session_id, later - timedelta(seconds=5)))
    assert server.call(session_for(state, session_id, access, now=later)).id == session_id

    server.call(state.store.end_messaging_session(session_id, "user_end", datetime.now(UTC)))
    with pytest.raises(SessionEndedError) as ended:
        server.call(session_for(state, session_id, access))
    assert ended.value.http_status == 404

    server.call(state.store.revoke_connector(reg.connector.id))
    with pytest.raises(AuthError, match="revoked"):
        server.call(session_for(state, session_id, access))


# -- OpenAPI ----------------------------------------------------------------------------------


async def test_openapi_documents_messaging(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ConnectorToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Token",
        "description": schemes["ConnectorToken"]["description"],
    }
    assert schemes["MessagingAccessToken"]["scheme"] == "bearer"
    token_op = schema["paths"][TOKEN_URL]["post"]
    assert token_op["security"] == [{"ConnectorToken": []}]
    assert {"200", "400", "401"} <= set(token_op["responses"])
    assert any(p["name"] == "X-Host" and p["required"] for p in token_op["parameters"])
    sessions_op = schema["paths"][SESSIONS_URL]["post"]
    assert sessions_op["security"] == [{"MessagingAccessToken": []}]
    assert {"200", "400", "401", "403"} <= set(sessions_op["responses"])
