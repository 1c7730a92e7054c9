"""The back-office conversations API (``/v1/conversations``) on a real server."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from voxgate.client import AtomsClient
from voxgate.store import NewConversation

from .conftest import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.models]

T0 = datetime(2024, 6, 1, 9, 0, 0, 500000, tzinfo=UTC)


@pytest_asyncio.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {server.dev_key}"}
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as client:
        yield client


@pytest.fixture(scope="module")
def acme_key(server: RunningServer) -> str:
    _key, secret = server.call(
        server.state.store.create_api_key(server.state.tenant_ids["acme"], "acme-back-office")
    )
    return secret


def _insert(
    server: RunningServer,
    agent_id: str,
    started_at: datetime,
    *,
    channel: str = "voice",
    tenant: str = "default",
) -> str:
    call_id = "call_" + secrets.token_hex(12)
    server.call(
        server.state.store.create_conversation(
            NewConversation(
                id=call_id,
                tenant_id=server.state.tenant_ids[tenant],
                agent_id=agent_id,
                channel=channel,
                dialect="atoms",
                mode="webcall" if channel == "voice" else "chat",
                sample_rate=24000 if channel == "voice" else None,
                variables={},
                started_at=started_at,
            )
        )
    )
    return call_id


def _agent() -> str:
    """An agent id of this test's own: other tests' conversations never match it."""
    return "e2e_" + secrets.token_hex(6)


async def _chat(server: RunningServer, text: str) -> str:
    """A chat session with the ``quick`` agent, closed after its reply; its call id."""
    client = await AtomsClient.connect(
        server.ws_url, token=server.dev_key, agent_id="quick", mode="chat"
    )
    try:
        await client.send_text(text)
        async with asyncio.timeout(20):
            while (event := await client.recv()) is not None:
                if event["type"] == "transcript" and event["role"] == "assistant":
                    break
            await client.close_session()
            while (event := await client.recv()) is not None:
                if event["type"] == "session.closed":
                    break
    finally:
        await client.close()
    call_id: str = client.session["call_id"]
    return call_id


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] is False
    assert body["error"]["code"] == str(status)
    assert isinstance(body["error"]["message"], str)
    return body


async def _ended(http: httpx.AsyncClient, call_id: str) -> dict[str, Any]:
    for _ in range(100):
        r = await http.get(f"/v1/conversations/{call_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] == "ended":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{call_id} did not end")


async def test_chat_conversation_listed_and_shown(
    server: RunningServer, http: httpx.AsyncClient
) -> None:
    call_id = await _chat(server, "hello there")
    conv = await _ended(http, call_id)
    assert conv["object"] == "conversation"
    assert conv["id"] == conv["call_id"] == call_id
    assert conv["agent_id"] == "quick" and conv["channel"] == "chat"
    assert conv["dialect"] == "atoms" and conv["mode"] == "chat"
    assert [(t["role"], t["text"]) for t in conv["transcript"]] == [
        ("user", "hello there"),
        ("assistant", "Got it."),
    ]
    assert [t["seq"] for t in conv["transcript"]] == [1, 2]
    assert set(conv["transcript"][1]["latency"]) == {
        "endpointing_ms",
        "stt_ms",
        "agent_first_text_ms",
        "tts_first_audio_ms",
        "first_byte_ms",
        "voice_to_voice_ms",
    }
    assert conv["tool_calls"] == []
    datetime.fromisoformat(conv["started_at"])
    # The Atoms endpoint shows the same conversation.
    atoms = (await http.get(f"/atoms/v1/conversation/{call_id}")).json()["data"]
    assert {k: v for k, v in conv.items() if k not in ("object", "id", "dialect")} == atoms

    listed = await http.get("/v1/conversations", params={"agent_id": "quick", "channel": "chat"})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["object"] == "list"
    (item,) = [c for c in body["data"] if c["id"] == call_id]
    assert item == {
        "id": call_id,
        "agent_id": "quick",
        "status": "ended",
        "channel": "chat",
        "dialect": "atoms",
        "mode": "chat",
        "started_at": conv["started_at"],
        "ended_at": conv["ended_at"],
        "end_reason": conv["end_reason"],
        "turn_count": 2,
    }
    assert all(c["agent_id"] == "quick" and c["channel"] == "chat" for c in body["data"])
    voice = await http.get("/v1/conversations", params={"agent_id": "quick", "channel": "voice"})
    assert call_id not in {c["id"] for c in voice.json()["data"]}


async def test_filters_and_pagination(server: RunningServer, http: httpx.AsyncClient) -> None:
    agent = _agent()
    # Nine conversations, three per start time, over three hours; channels alternate.
    made: list[tuple[datetime, str, str]] = []
    for i in range(9):
        started = T0 + timedelta(hours=i // 3)
        channel = "voice" if i % 2 == 0 else "chat"
        made.append((started, _insert(server, agent, started, channel=channel), channel))
    newest_first = [call_id for _s, call_id, _c in sorted(made, reverse=True)]

    async def all_pages(**params: Any) -> list[str]:
        seen: list[str] = []
        cursor = None
        for _ in range(20):
            query = {"agent_id": agent, **params} | ({"cursor": cursor} if cursor else {})
            r = await http.get("/v1/conversations", params=query)
            assert r.status_code == 200, r.text
            page = r.json()
            seen.extend(c["id"] for c in page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                return seen
            assert len(page["data"]) == params.get("limit", 50)
        raise AssertionError("too many pages")

    for limit in (1, 2, 3, 4, 9, 10, 200):
        assert await all_pages(limit=limit) == newest_first, limit
    assert await all_pages() == newest_first
    voice = [c for _s, c, ch in sorted(made, reverse=True) if ch == "voice"]
    assert await all_pages(limit=2, channel="voice") == voice
    window = {
        "started_after": (T0 + timedelta(hours=1)).isoformat(),
        "started_before": (T0 + timedelta(hours=2)).isoformat(),
    }
    assert await all_pages(limit=2, **window) == newest_first[3:6]
    # Any offset; "Z" too.
    later = (T0 + timedelta(hours=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert await all_pages(started_after=later) == newest_first[:3]
    assert await all_pages(started_after="2024-06-01T13:00:00.5+02:00") == newest_first[:3]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "many"},
        {"channel": "video"},
        {"started_after": "yesterday"},
        {"started_after": "2024-06-01T09:00:00"},  # no offset
        {"started_before": "9999-12-31T23:59:59-23:59"},  # past the end of time in UTC
        {"cursor": "not-a-cursor"},
        {"agent_id": "bad id"},
    ],
)
async def test_invalid_list_parameters(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    _assert_error(await http.get("/v1/conversations", params=params), 400)


async def test_delete(server: RunningServer, http: httpx.AsyncClient) -> None:
    agent = _agent()
    gone = _insert(server, agent, T0)
    kept = _insert(server, agent, T0 + timedelta(seconds=1))

    deleted = await http.delete(f"/v1/conversations/{gone}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    _assert_error(await http.get(f"/v1/conversations/{gone}"), 404)
    _assert_error(await http.get(f"/atoms/v1/conversation/{gone}"), 404)
    _assert_error(await http.delete(f"/v1/conversations/{gone}"), 404)
    listed = await http.get("/v1/conversations", params={"agent_id": agent})
    assert [c["id"] for c in listed.json()["data"]] == [kept]


async def test_unknown_and_malformed_ids(http: httpx.AsyncClient) -> None:
    _assert_error(await http.get("/v1/conversations/call_missing"), 404)
    _assert_error(await http.delete("/v1/conversations/call_missing"), 404)
    _assert_error(await http.get("/v1/conversations/" + "x" * 65), 400)
    _assert_error(await http.get("/v1/conversations/a%00b"), 400)


async def test_other_tenants_conversations_are_invisible(
    server: RunningServer, http: httpx.AsyncClient, acme_key: str
) -> None:
    agent = _agent()
    ours = _insert(server, agent, T0)
    theirs = _insert(server, agent, T0, tenant="acme")
    acme = {"Authorization": f"Bearer {acme_key}"}

    _assert_error(await http.get(f"/v1/conversations/{ours}", headers=acme), 404)
    _assert_error(await http.delete(f"/v1/conversations/{ours}", headers=acme), 404)
    _assert_error(await http.get(f"/v1/conversations/{theirs}"), 404)
    _assert_error(await http.delete(f"/v1/conversations/{theirs}"), 404)
    as_acme = await http.get("/v1/conversations", params={"agent_id": agent}, headers=acme)
    assert [c["id"] for c in as_acme.json()["data"]] == [theirs]
    as_default = await http.get("/v1/conversations", params={"agent_id": agent})
    assert [c["id"] for c in as_default.json()["data"]] == [ours]
    assert (await http.get(f"/v1/conversations/{ours}")).status_code == 200
    assert (await http.delete(f"/v1/conversations/{theirs}", headers=acme)).status_code == 204


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer vg_wrong"}, {"Authorization": "Basic dXNlcjpwdw=="}],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/conversations"),
        ("GET", "/v1/conversations/call_x"),
        ("DELETE", "/v1/conversations/call_x"),
    ],
)
async def test_api_key_required(
    server: RunningServer, method: str, path: str, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.request(method, path, headers=headers)
    _assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_openapi_describes_every_rest_endpoint(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "vg_…",
        "description": "An API key as `Authorization: Bearer <key>` (`voxgate keys create`).",
    }
    operations = {
        (method.upper(), path): op
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }
    authenticated = {
        ("GET", "/v1/conversations"),
        ("GET", "/v1/conversations/{conversation_id}"),
        ("DELETE", "/v1/conversations/{conversation_id}"),
        ("POST", "/atoms/v1/conversation/register-call"),
        ("GET", "/atoms/v1/conversation/{call_id}"),
    }
    assert authenticated <= set(operations)
    for key in authenticated:
        assert operations[key]["security"] == [{"ApiKey": []}], key
        assert "401" in operations[key]["responses"], key
    for key, op in operations.items():
        responses = op["responses"]
        assert "422" not in responses, key  # invalid requests are answered 400
        if op.get("parameters") or op.get("requestBody"):
            error = responses["400"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorResponse"}, key
        assert any(code.startswith("2") for code in responses), key
    assert set(operations["GET", "/readyz"]["responses"]) == {"200", "503"}
    assert "text/plain" in operations["GET", "/metrics"]["responses"]["200"]["content"]
    assert operations["GET", "/metrics"]["security"] == [{"MetricsToken": []}, {}]
    assert "204" in operations["DELETE", "/v1/conversations/{conversation_id}"]["responses"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


async def test_every_error_has_the_same_shape(http: httpx.AsyncClient) -> None:
    # Raised by FastAPI and routing rather than our code: the same body all the same.
    unparsable = await http.post(
        "/atoms/v1/conversation/register-call",
        content=b"\xff\xfe",
        headers={"Content-Type": "application/json"},
    )
    _assert_error(unparsable, 400)
    _assert_error(await http.get("/v1/no-such-route"), 404)
    wrong_method = await http.put("/v1/conversations")
    _assert_error(wrong_method, 405)
    assert wrong_method.headers["allow"] == "GET"
