"""The tool runtime: the runner, the built-in tools, and webhook tools over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time as wall_clock
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError

from voxgate.agents.tools.builtin import builtin_tools
from voxgate.agents.tools.runner import (
    Status,
    ToolContext,
    ToolDefinition,
    ToolOutcome,
    ToolRunner,
)
from voxgate.agents.tools.webhook import (
    MAX_RESPONSE_BYTES,
    MAX_TEXT_BYTES,
    WebhookToolSpec,
    webhook_tool,
)
from voxgate.errors import ToolError
from voxgate.store import NewConversation, Store

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=PARIS)
CALL_ID = "call_tools_test"


# -- fixtures -----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def _context(store: Store, http: httpx.AsyncClient, **changes: Any) -> ToolContext:
    tenant = await store.ensure_tenant("acme")
    await store.create_conversation(
        NewConversation(
            id=CALL_ID,
            tenant_id=tenant,
            agent_id="bistro",
            channel="voice",
            dialect="atoms",
            mode="webcall",
            sample_rate=16000,
            variables={},
            started_at=NOW.astimezone(UTC),
        )
    )
    ctx = ToolContext(
        tenant_id=tenant,
        agent_id="bistro",
        conversation_id=CALL_ID,
        variables={"customer": "Ada"},
        store=store,
        http=http,
        knowledge=None,
        now=NOW,
    )
    return replace(ctx, **changes)


@pytest_asyncio.fixture
async def ctx(store: Store, http: httpx.AsyncClient) -> ToolContext:
    """A context on the ``store`` fixture (SQLite and PostgreSQL)."""
    return await _context(store, http)


@pytest_asyncio.fixture
async def memory_ctx(http: httpx.AsyncClient) -> AsyncIterator[ToolContext]:
    """A context on in-memory SQLite, for tests about HTTP rather than storage."""
    store = await Store.open("sqlite+aiosqlite://")
    try:
        yield await _context(store, http)
    finally:
        await store.close()


def _runner(*extra: ToolDefinition) -> ToolRunner:
    tools = builtin_tools()
    tools.update({tool.name: tool for tool in extra})
    return ToolRunner(tools)


@dataclass
class StatusLog:
    seen: list[tuple[str, Status]] = field(default_factory=list)

    def __call__(self, name: str, status: Status) -> None:
        self.seen.append((name, status))


# -- the runner ---------------------------------------------------------------------------


async def test_booking_lifecycle(ctx: ToolContext) -> None:
    runner = _runner()
    made = await runner.call(
        ctx,
        "create_booking",
        {"name": "Ada Lovelace", "party_size": 4, "date": "2025-03-08", "time": "19:30"},
    )
    assert made.ok, made.error
    reference = made.result["reference"]
    assert made.result == {
        "reference": reference,
        "name": "Ada Lovelace",
        "party_size": 4,
        "date": "2025-03-08",
        "time": "19:30",
    }
    other = await runner.call(
        ctx,
        "create_booking",
        {"name": "Grace", "party_size": 2, "date": "2025-03-09", "time": "12:00", "notes": "pram"},
    )
    assert other.ok, other.error

    by_name = await runner.call(ctx, "list_bookings", {"name": "ada lovelace"})
    assert by_name.ok
    assert [b["reference"] for b in by_name.result["bookings"]] == [reference]
    by_date = await runner.call(ctx, "list_bookings", {"date": "2025-03-09"})
    assert [b["name"] for b in by_date.result["bookings"]] == ["Grace"]
    assert by_date.result["bookings"][0]["notes"] == "pram"
    everything = await runner.call(ctx, "list_bookings", {})
    assert len(everything.result["bookings"]) == 2

    cancelled = await runner.call(ctx, "cancel_booking", {"reference": reference.lower()})
    assert cancelled.ok, cancelled.error
    assert cancelled.result["reference"] == reference
    assert cancelled.result["status"] == "cancelled"
    after = await runner.call(ctx, "list_bookings", {"name": "Ada Lovelace"})
    assert after.result == {"bookings": []}

    unknown = await runner.call(ctx, "cancel_booking", {"reference": "BK-ZZZZZ"})
    assert not unknown.ok
    assert unknown.error is not None and "BK-ZZZZZ" in unknown.error

    [booking] = await ctx.store.list_bookings(
        ctx.tenant_id, "bistro", name="Ada Lovelace", include_cancelled=True
    )
    assert booking.conversation_id == CALL_ID
    assert booking.date == date(2025, 3, 8) and booking.time == time(19, 30)


async def test_calls_are_recorded(ctx: ToolContext) -> None:
    runner = _runner()
    await runner.call(
        ctx,
        "create_booking",
        {"name": "Ada", "party_size": 2, "date": "2025-03-02", "time": "20:00"},
    )
    await runner.call(ctx, "create_booking", {"name": "Ada", "party_size": 0})
    await runner.call(ctx, "no_such_tool", {"x": 1})

    calls = await ctx.store.list_tool_calls(CALL_ID)
    assert [(c.seq, c.name, c.status) for c in calls] == [
        (1, "create_booking", "completed"),
        (2, "create_booking", "failed"),
        (3, "no_such_tool", "failed"),
    ]
    done, invalid, unknown = calls
    assert done.arguments == {"name": "Ada", "party_size": 2, "date": "2025-03-02", "time": "20:00"}
    assert done.result is not None and done.result["name"] == "Ada"
    assert done.error is None
    assert invalid.result is None and invalid.error is not None
    assert unknown.arguments == {"x": 1}
    for call in calls:
        assert call.duration_ms >= 0
        assert call.started_at.tzinfo is not None
        assert abs((call.started_at - datetime.now(UTC)).total_seconds()) < 60

    conv = await ctx.store.get_conversation(CALL_ID, ctx.tenant_id)
    assert conv is not None and conv.tool_calls == tuple(calls)


@pytest.mark.parametrize(
    ("day", "at"),
    [("2025-02-28", "19:00"), ("2025-03-01", "11:30"), ("2024-12-31", "23:59")],
)
async def test_past_dates_are_rejected(memory_ctx: ToolContext, day: str, at: str) -> None:
    outcome = await _runner().call(
        memory_ctx, "create_booking", {"name": "Ada", "party_size": 2, "date": day, "time": at}
    )
    assert not outcome.ok
    assert outcome.error is not None and "in the past" in outcome.error
    assert "2025-03-01 12:00" in outcome.error
    assert await memory_ctx.store.list_bookings(memory_ctx.tenant_id, "bistro") == []


async def test_later_today_is_accepted(memory_ctx: ToolContext) -> None:
    outcome = await _runner().call(
        memory_ctx,
        "create_booking",
        {"name": "Ada", "party_size": 2, "date": "2025-03-01", "time": "12:30"},
    )
    assert outcome.ok, outcome.error


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"name": "Ada", "party_size": 25, "date": "2025-03-08", "time": "19:30"}, "party_size"),
        ({"name": "Ada", "party_size": "4", "date": "2025-03-08", "time": "19:30"}, "party_size"),
        ({"name": "Ada", "date": "2025-03-08", "time": "19:30"}, "'party_size' is a required"),
        ({"name": "Ada", "party_size": 2, "date": "8 March", "time": "19:30"}, "date"),
        ({"name": "Ada", "party_size": 2, "date": "2025-03-08", "time": "7pm"}, "time"),
        (
            {"name": "Ada", "party_size": 2, "date": "2025-03-08", "time": "19:30", "vip": True},
            "vip",
        ),
    ],
)
async def test_invalid_arguments_fail_without_raising(
    memory_ctx: ToolContext, arguments: dict[str, Any], expected: str
) -> None:
    log = StatusLog()
    outcome = await _runner().call(memory_ctx, "create_booking", arguments, log)
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith("invalid arguments for create_booking")
    assert expected in outcome.error
    assert log.seen == [("create_booking", "started"), ("create_booking", "failed")]


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [("2025-02-30", "19:30", "not a valid date"), ("2025-03-08", "25:00", "not a valid time")],
)
async def test_impossible_dates_and_times(
    memory_ctx: ToolContext, day: str, at: str, expected: str
) -> None:
    outcome = await _runner().call(
        memory_ctx, "create_booking", {"name": "Ada", "party_size": 2, "date": day, "time": at}
    )
    assert not outcome.ok
    assert outcome.error is not None and expected in outcome.error


async def test_unknown_tool(memory_ctx: ToolContext) -> None:
    log = StatusLog()
    outcome = await _runner().call(memory_ctx, "order_pizza", {}, log)
    assert not outcome.ok
    assert outcome.error is not None and "unknown tool 'order_pizza'" in outcome.error
    assert "create_booking" in outcome.error
    assert outcome.effect is None
    assert log.seen == [("order_pizza", "started"), ("order_pizza", "failed")]


async def test_status_callback_order(memory_ctx: ToolContext) -> None:
    seen: list[str] = []

    async def probe(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        seen.append("running")
        return {"ok": True}

    tool = ToolDefinition(
        name="probe", description="Test.", parameters={"type": "object"}, run=probe
    )
    outcome = await _runner(tool).call(
        memory_ctx, "probe", {}, lambda name, status: seen.append(f"{name}:{status}")
    )
    assert outcome.ok
    assert seen == ["probe:started", "running", "probe:completed"]


async def test_failing_status_callback_is_ignored(
    memory_ctx: ToolContext, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(name: str, status: Status) -> None:
        raise RuntimeError("ui gone")

    outcome = await _runner().call(memory_ctx, "end_call", {}, broken)
    assert outcome.ok
    assert "tool status callback failed" in caplog.text


async def test_tool_exception_becomes_a_failure(
    memory_ctx: ToolContext, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("secret internals")

    async def refuses(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        raise ToolError("the kitchen is closed")

    async def not_json(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return {"when": date(2025, 3, 1)}

    schema = {"type": "object"}
    runner = _runner(
        ToolDefinition(name="broken", description="x", parameters=schema, run=broken),
        ToolDefinition(name="refuses", description="x", parameters=schema, run=refuses),
        ToolDefinition(name="not_json", description="x", parameters=schema, run=not_json),
    )
    log = StatusLog()
    with caplog.at_level(logging.INFO, logger="voxgate.agents.tools.runner"):
        crashed = await runner.call(memory_ctx, "broken", {}, log)
        refused = await runner.call(memory_ctx, "refuses", {})
        bad_result = await runner.call(memory_ctx, "not_json", {})
    assert not crashed.ok
    assert crashed.error == "tool broken failed with an internal error (KeyError)"
    assert "secret internals" in caplog.text  # in the log with its traceback, not the outcome
    assert log.seen == [("broken", "started"), ("broken", "failed")]
    assert not refused.ok and refused.error == "the kitchen is closed"
    assert not bad_result.ok and bad_result.error is not None
    assert [c.status for c in await memory_ctx.store.list_tool_calls(CALL_ID)] == ["failed"] * 3


async def test_cancellation_propagates(memory_ctx: ToolContext) -> None:
    entered = asyncio.Event()

    async def hangs(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        await asyncio.Event().wait()
        return {}

    runner = _runner(
        ToolDefinition(name="hangs", description="x", parameters={"type": "object"}, run=hangs)
    )
    log = StatusLog()
    task = asyncio.create_task(runner.call(memory_ctx, "hangs", {}, log))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log.seen == [("hangs", "started"), ("hangs", "failed")]
    assert await memory_ctx.store.list_tool_calls(CALL_ID) == []


async def test_recording_failure_is_logged_not_raised(
    memory_ctx: ToolContext, caplog: pytest.LogCaptureFixture
) -> None:
    orphan = replace(memory_ctx, conversation_id="call_unknown")
    outcome = await _runner().call(orphan, "end_call", {"reason": "done"})
    assert outcome.ok
    assert "could not record tool call end_call of call_unknown" in caplog.text


async def test_effects(memory_ctx: ToolContext) -> None:
    runner = _runner()
    ended = await runner.call(memory_ctx, "end_call", {"reason": "user said bye"})
    assert ended.ok and ended.effect == "end_call"
    handed = await runner.call(memory_ctx, "transfer_to_human", {"reason": "angry"})
    assert handed.ok and handed.effect == "handoff"
    assert handed.result == {"queue": "default"}
    billing = await runner.call(memory_ctx, "transfer_to_human", {"queue": "billing"})
    assert billing.result == {"queue": "billing"}
    queued = await ToolRunner(builtin_tools(handoff_queue="front-desk")).call(
        memory_ctx, "transfer_to_human", {}
    )
    assert queued.result == {"queue": "front-desk"}
    failed_end = await runner.call(memory_ctx, "end_call", {"reason": 3})
    assert not failed_end.ok and failed_end.effect is None


def test_outcome_content_for_model() -> None:
    ok = ToolOutcome(name="x", ok=True, result={"a": "é"}, duration_ms=1.0)
    assert json.loads(ok.content_for_model()) == {"a": "é"}
    failed = ToolOutcome(name="x", ok=False, error="nope", duration_ms=1.0)
    assert json.loads(failed.content_for_model()) == {"error": "nope"}


def test_openai_tool_schemas() -> None:
    schemas = _runner().openai_tool_schemas()
    names = [s["function"]["name"] for s in schemas]
    assert names == [
        "end_call",
        "transfer_to_human",
        "search_knowledge",
        "create_booking",
        "list_bookings",
        "cancel_booking",
    ]
    for schema in schemas:
        assert schema["type"] == "function"
        assert set(schema["function"]) == {"name", "description", "parameters"}
        assert len(schema["function"]["description"]) > 40
        assert schema["function"]["parameters"]["type"] == "object"
        json.dumps(schema)
    booking = next(s for s in schemas if s["function"]["name"] == "create_booking")
    assert booking["function"]["parameters"]["required"] == ["name", "party_size", "date", "time"]


def test_definitions_are_checked() -> None:
    async def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="tool name"):
        ToolDefinition(name="has space", description="x", parameters={"type": "object"}, run=run)
    with pytest.raises(ValueError, match="object"):
        ToolDefinition(name="x", description="x", parameters={"type": "string"}, run=run)
    with pytest.raises(ValueError, match="invalid parameters schema"):
        ToolDefinition(
            name="x", description="x", parameters={"type": "object", "required": 3}, run=run
        )
    tool = ToolDefinition(name="x", description="x", parameters={"type": "object"}, run=run)
    with pytest.raises(ValueError, match="registered under"):
        ToolRunner({"y": tool})


def test_context_needs_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        ToolContext(
            tenant_id="t",
            agent_id="a",
            conversation_id="c",
            variables={},
            store=None,  # type: ignore[arg-type]
            http=None,  # type: ignore[arg-type]
            knowledge=None,
            now=datetime(2025, 3, 1, 12, 0),
        )


# -- search_knowledge ---------------------------------------------------------------------

# Test double: the real knowledge base (voxgate.agents.knowledge) is being built in
# parallel; this fake only has the shape `search_knowledge` relies on.


@dataclass(frozen=True)
class FakePassage:
    text: str
    source: str | None


@dataclass(frozen=True)
class FakeHit:
    passage: FakePassage
    score: float


@dataclass
class FakeKnowledge:
    queries: list[tuple[str, int]] = field(default_factory=list)

    async def asearch(self, query: str, k: int) -> list[Any]:
        self.queries.append((query, k))
        return [
            FakeHit(FakePassage("We open at 6 pm, Tuesday to Sunday.", "hours.md"), 0.91234567),
            FakeHit(FakePassage("Closed on Mondays.", None), 0.5),
        ]


async def test_search_knowledge(memory_ctx: ToolContext) -> None:
    knowledge = FakeKnowledge()
    ctx = replace(memory_ctx, knowledge=knowledge)
    outcome = await _runner().call(ctx, "search_knowledge", {"query": "opening hours"})
    assert outcome.ok, outcome.error
    assert outcome.result == {
        "passages": [
            {"text": "We open at 6 pm, Tuesday to Sunday.", "source": "hours.md", "score": 0.9123},
            {"text": "Closed on Mondays.", "source": None, "score": 0.5},
        ]
    }
    assert knowledge.queries == [("opening hours", 4)]


async def test_search_knowledge_without_knowledge(memory_ctx: ToolContext) -> None:
    outcome = await _runner().call(memory_ctx, "search_knowledge", {"query": "hours"})
    assert not outcome.ok
    assert outcome.error == "this agent has no knowledge base to search"
    empty = await _runner().call(memory_ctx, "search_knowledge", {"query": ""})
    assert not empty.ok and empty.error is not None and "query" in empty.error


# -- webhook tools ------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append(
            Received(
                method=self.command,
                path=parts.path,
                query=parse_qsl(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
        )
        path = parts.path
        if path == "/fail":
            self._send(500, b"database is down", "text/plain")
        elif path == "/slow":
            wall_clock.sleep(2)
            self._send(200, b"{}", "application/json")
        elif path == "/text":
            self._send(200, "Table for two: OK ✓".encode(), "text/plain; charset=utf-8")
        elif path == "/big-text":
            self._send(200, b"x" * (10 * 1024), "text/plain")
        elif path == "/huge-json":
            payload = json.dumps({"items": ["y" * 1000] * 300}).encode()
            self._send(200, payload, "application/json")
        elif path == "/broken-json":
            self._send(200, b"{not json", "application/json")
        elif path == "/list":
            self._send(200, b"[1, 2, 3]", "application/json")
        elif path == "/empty":
            self._send(204, b"", None)
        else:
            echo = {
                "method": self.command,
                "path": path,
                "query": parse_qsl(parts.query),
                "json": json.loads(body) if body else None,
            }
            self._send(200, json.dumps(echo).encode(), "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _send(self, status: int, body: bytes, content_type: str | None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client of /slow hangs up early; nothing to report


@pytest.fixture
def server() -> Iterator[_Server]:
    """A real HTTP server on 127.0.0.1 and a random port, in a thread."""
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _base(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def _spec(server: _Server, path: str, **fields: Any) -> WebhookToolSpec:
    values: dict[str, Any] = {
        "name": "lookup",
        "description": "Look something up.",
        "url": _base(server) + path,
    }
    values.update(fields)
    return WebhookToolSpec.model_validate(values)


async def _call_webhook(
    ctx: ToolContext, spec: WebhookToolSpec, arguments: dict[str, Any]
) -> ToolOutcome:
    return await ToolRunner({spec.name: webhook_tool(spec)}).call(ctx, spec.name, arguments)


MENU_SCHEMA = {
    "type": "object",
    "properties": {
        "dish": {"type": "string"},
        "vegan": {"type": "boolean"},
        "sizes": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["dish"],
}


async def test_webhook_get_sends_query_args(memory_ctx: ToolContext, server: _Server) -> None:
    spec = _spec(server, "/menu", method="get", parameters=MENU_SCHEMA)
    outcome = await _call_webhook(
        memory_ctx, spec, {"dish": "crème brûlée & co", "vegan": True, "sizes": ["s", "l"]}
    )
    assert outcome.ok, outcome.error
    [request] = server.received
    assert request.method == "GET" and request.path == "/menu"
    assert request.query == [
        ("dish", "crème brûlée & co"),
        ("vegan", "true"),
        ("sizes", "s"),
        ("sizes", "l"),
    ]
    assert request.body == b""
    assert outcome.result["method"] == "GET"


async def test_webhook_post_sends_json_and_fills_url(
    memory_ctx: ToolContext, server: _Server
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "note": {"type": "string"},
            "items": {"type": "array"},
        },
        "required": ["order_id"],
    }
    spec = _spec(server, "/orders/{{order_id}}/notes?src=voice", parameters=schema)
    args = {"order_id": "A/7 b", "note": "no nuts", "items": [{"n": 1}]}
    outcome = await _call_webhook(memory_ctx, spec, args)
    assert outcome.ok, outcome.error
    [request] = server.received
    assert request.method == "POST"
    assert request.path == "/orders/A%2F7%20b/notes"
    assert request.query == [("src", "voice")]
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"note": "no nuts", "items": [{"n": 1}]}
    assert outcome.result["json"] == {"note": "no nuts", "items": [{"n": 1}]}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_webhook_other_methods_send_json(
    memory_ctx: ToolContext, server: _Server, method: str
) -> None:
    spec = _spec(server, "/things", method=method, parameters=MENU_SCHEMA)
    outcome = await _call_webhook(memory_ctx, spec, {"dish": "soup"})
    assert outcome.ok, outcome.error
    [request] = server.received
    assert request.method == method
    assert json.loads(request.body) == {"dish": "soup"}


async def test_webhook_env_header_reaches_server(
    memory_ctx: ToolContext,
    server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("BISTRO_API_KEY", "s3cr3t-value")
    spec = _spec(
        server,
        "/menu",
        headers={"Authorization": "Bearer {{ env.BISTRO_API_KEY }}", "X-Agent": "bistro"},
    )
    with caplog.at_level(logging.DEBUG):
        outcome = await _call_webhook(memory_ctx, spec, {})
    assert outcome.ok, outcome.error
    [request] = server.received
    assert request.headers["authorization"] == "Bearer s3cr3t-value"
    assert request.headers["x-agent"] == "bistro"
    assert "s3cr3t-value" not in caplog.text


async def test_webhook_missing_env_var_fails(
    memory_ctx: ToolContext, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BISTRO_MISSING_KEY", raising=False)
    monkeypatch.setenv("BISTRO_EMPTY_KEY", "")
    for variable in ("BISTRO_MISSING_KEY", "BISTRO_EMPTY_KEY"):
        spec = _spec(server, "/menu", headers={"X-Key": "{{env.%s}}" % variable})  # noqa: UP031
        outcome = await _call_webhook(memory_ctx, spec, {})
        assert not outcome.ok
        assert outcome.error is not None
        assert f"environment variable {variable}" in outcome.error
        assert "X-Key" in outcome.error
    assert server.received == []


async def test_webhook_http_error_fails(memory_ctx: ToolContext, server: _Server) -> None:
    outcome = await _call_webhook(memory_ctx, _spec(server, "/fail"), {})
    assert not outcome.ok
    assert outcome.error is not None
    assert "HTTP 500" in outcome.error and "database is down" in outcome.error


async def test_webhook_timeout_fails(memory_ctx: ToolContext, server: _Server) -> None:
    started = wall_clock.perf_counter()
    outcome = await _call_webhook(memory_ctx, _spec(server, "/slow", timeout_s=0.5), {})
    elapsed = wall_clock.perf_counter() - started
    assert not outcome.ok
    assert outcome.error is not None and "timed out after 0.5 s" in outcome.error
    assert elapsed < 1.5
    [call] = await memory_ctx.store.list_tool_calls(CALL_ID)
    assert call.status == "failed" and call.duration_ms >= 500


async def test_webhook_connection_error_fails(memory_ctx: ToolContext) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = WebhookToolSpec(name="down", description="x", url=f"http://127.0.0.1:{port}/x")
    outcome = await _call_webhook(memory_ctx, spec, {})
    assert not outcome.ok
    assert outcome.error is not None and "ConnectError" in outcome.error


async def test_webhook_text_body(memory_ctx: ToolContext, server: _Server) -> None:
    outcome = await _call_webhook(memory_ctx, _spec(server, "/text"), {})
    assert outcome.ok, outcome.error
    assert outcome.result == {"text": "Table for two: OK ✓"}

    big = await _call_webhook(memory_ctx, _spec(server, "/big-text"), {})
    assert big.ok
    assert big.result == {"text": "x" * MAX_TEXT_BYTES, "truncated": True}


async def test_webhook_other_bodies(memory_ctx: ToolContext, server: _Server) -> None:
    listed = await _call_webhook(memory_ctx, _spec(server, "/list"), {})
    assert listed.ok and listed.result == {"result": [1, 2, 3]}
    empty = await _call_webhook(memory_ctx, _spec(server, "/empty"), {})
    assert empty.ok and empty.result == {"status_code": 204}
    broken = await _call_webhook(memory_ctx, _spec(server, "/broken-json"), {})
    assert not broken.ok and broken.error is not None and "invalid JSON" in broken.error
    huge = await _call_webhook(memory_ctx, _spec(server, "/huge-json"), {})
    assert not huge.ok
    assert huge.error is not None and f"{MAX_RESPONSE_BYTES // 1024} KiB" in huge.error


async def test_webhook_arguments_are_validated(memory_ctx: ToolContext, server: _Server) -> None:
    spec = _spec(server, "/menu", parameters=MENU_SCHEMA)
    outcome = await _call_webhook(memory_ctx, spec, {"vegan": "yes"})
    assert not outcome.ok
    assert server.received == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"url": "ftp://example.com/x"}, "http"),
        ({"url": "https://{{host}}/x"}, "path and query"),
        ({"url": "https://example.com/{{env.SECRET}}"}, "must name an argument"),
        ({"url": "https://example.com/{{order}}"}, "parameters.required"),
        ({"headers": {"X-Id": "{{order}}"}}, "env.NAME"),
        ({"method": "TRACE"}, "method"),
        ({"timeout_s": 31}, "timeout_s"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"name": "has space"}, "name"),
        ({"parameters": {"type": "array"}}, "object"),
        ({"retries": 3}, "retries"),
    ],
)
def test_webhook_spec_is_validated(fields: dict[str, Any], expected: str) -> None:
    values: dict[str, Any] = {
        "name": "lookup",
        "description": "Look something up.",
        "url": "https://example.com/x",
    }
    values.update(fields)
    with pytest.raises(ValidationError, match=expected):
        WebhookToolSpec.model_validate(values)


def test_webhook_spec_defaults() -> None:
    spec = WebhookToolSpec(name="lookup", description="x", url="https://example.com/x")
    assert spec.method == "POST"
    assert spec.timeout_s == 5
    assert spec.headers == {}
    tool = webhook_tool(spec)
    assert tool.name == "lookup" and tool.effect is None
    assert tool.parameters == {"type": "object", "properties": {}}
