"""The llm brain against a real llama.cpp server (SmolLM2-135M, ``voxgate[llm-local]``), and
against a scripted HTTP peer on 127.0.0.1 for what a healthy server cannot be made to do
(fail once, cut a stream) or where the request itself is under test."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jsonschema
import pytest
import pytest_asyncio

from voxgate.agents.base import (
    AgentContext,
    EndCall,
    HistoryItem,
    ReplyPart,
    ReplyText,
    ToolStatus,
)
from voxgate.agents.llm import LOST_THREAD, LlmBrain
from voxgate.agents.spec import LlmSpec
from voxgate.agents.tools.builtin import builtin_tools
from voxgate.agents.tools.runner import ToolContext, ToolDefinition, ToolRunner
from voxgate.store import NewConversation, Store

CALL_ID = "call_llm_test"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOURS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "day": {
            "type": "string",
            "enum": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
        }
    },
    "required": ["day"],
    "additionalProperties": False,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spec(base_url: str, **changes: Any) -> LlmSpec:
    values: dict[str, Any] = {
        "base_url": base_url,
        "model": "smollm2",
        "temperature": 0.0,
        "max_tokens": 40,
        "timeout_s": 20.0,
        "first_token_timeout_s": 20.0,
    }
    return LlmSpec(**(values | changes))


def _context(*history: HistoryItem) -> AgentContext:
    return AgentContext(call_id=CALL_ID, channel="voice", variables={}, history=history, now=NOW)


async def _collect(parts: AsyncIterator[ReplyPart]) -> list[ReplyPart]:
    return [part async for part in parts]


def _text(parts: Sequence[ReplyPart]) -> str:
    return "".join(p.text for p in parts if isinstance(p, ReplyText))


# -- the real server ----------------------------------------------------------------------


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest_asyncio.fixture
async def store() -> AsyncIterator[Store]:
    opened = await Store.open("sqlite+aiosqlite://")
    try:
        yield opened
    finally:
        await opened.close()


@pytest_asyncio.fixture
async def tool_ctx(store: Store, http: httpx.AsyncClient) -> ToolContext:
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
            started_at=NOW,
        )
    )
    return ToolContext(
        tenant_id=tenant,
        agent_id="bistro",
        conversation_id=CALL_ID,
        variables={},
        store=store,
        http=http,
        knowledge=None,
        now=NOW,
    )


async def test_streams_the_reply_in_pieces(llama_server: str, http: httpx.AsyncClient) -> None:
    brain = LlmBrain(_spec(llama_server), http)
    parts = await _collect(
        brain.respond(
            _context(),
            "Say hello to me in one short sentence.",
            system_prompt="You are {{agent_name}}, a friendly assistant.",
            values={"agent_name": "Bistro"},
        )
    )
    assert all(isinstance(p, ReplyText) and p.text for p in parts)
    assert len(parts) >= 3, parts
    assert _text(parts).strip()
    assert brain.spec.apology not in _text(parts)


async def test_forced_tool_call_runs_the_tool_then_answers(
    llama_server: str, http: httpx.AsyncClient, tool_ctx: ToolContext, store: Store
) -> None:
    calls: list[dict[str, Any]] = []

    async def opening_hours(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args)
        return {"day": args["day"], "open": "12:00", "close": "22:00"}

    runner = ToolRunner(
        {
            "get_opening_hours": ToolDefinition(
                name="get_opening_hours",
                description="Opening hours of the restaurant on a day of the week.",
                parameters=HOURS_SCHEMA,
                run=opening_hours,
            )
        }
    )
    # One tool round, then the answer (tool_choice "none"): SmolLM2 is too small to be
    # trusted with "auto", and llama.cpp cannot stream a tool call it chose by itself.
    spec = _spec(llama_server, tool_choice="get_opening_hours", max_tool_rounds=1)
    parts = await _collect(
        LlmBrain(spec, http).respond(
            _context(),
            "When are you open on Friday?",
            system_prompt="You answer questions about a restaurant.",
            tools=runner,
            tool_ctx=tool_ctx,
        )
    )
    assert len(calls) == 1
    jsonschema.validate(calls[0], HOURS_SCHEMA)
    statuses = [p for p in parts if isinstance(p, ToolStatus)]
    assert statuses == [
        ToolStatus(tool_name="get_opening_hours", status="started"),
        ToolStatus(tool_name="get_opening_hours", status="completed"),
    ]
    answer = parts[parts.index(statuses[-1]) + 1 :]
    assert answer and all(isinstance(p, ReplyText) for p in answer)
    assert _text(answer).strip()
    assert spec.apology not in _text(answer) and LOST_THREAD not in _text(answer)
    record = await store.get_conversation(CALL_ID, tool_ctx.tenant_id)
    assert record is not None
    assert [(c.name, c.status) for c in record.tool_calls] == [("get_opening_hours", "completed")]


async def test_endpoint_down_apologises_and_logs(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGATE_TEST_LLM_KEY", "sk-very-secret")
    caplog.set_level(logging.WARNING, logger="voxgate.agents.llm")
    spec = _spec(
        f"http://127.0.0.1:{_free_port()}/v1", retries=1, api_key_env="VOXGATE_TEST_LLM_KEY"
    )
    parts = await _collect(LlmBrain(spec, http, backoff_s=0.01).respond(_context(), "Hello?"))
    assert parts == [ReplyText(text=spec.apology)]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all(r.name == "voxgate.agents.llm" for r in errors)
    assert "ConnectError" in errors[0].getMessage()
    assert "sk-very-secret" not in caplog.text


async def test_missing_api_key_apologises(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VOXGATE_TEST_LLM_KEY", raising=False)
    spec = _spec("http://127.0.0.1:9/v1", api_key_env="VOXGATE_TEST_LLM_KEY")
    parts = await _collect(LlmBrain(spec, http).respond(_context(), "Hello?"))
    assert parts == [ReplyText(text=spec.apology)]
    assert "VOXGATE_TEST_LLM_KEY" in caplog.text


# -- a scripted peer ----------------------------------------------------------------------
# It stands in for a flaky network peer (an endpoint that fails once, a connection cut
# mid-stream): failures a healthy llama.cpp server cannot be made to produce. It also
# captures the requests, to check what the brain sends.


@dataclass
class Reply:
    status: int = 200
    events: list[dict[str, Any] | str] = field(default_factory=list)
    """SSE ``data:`` payloads, sent one by one; ``[DONE]`` is not added."""
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False
    """Announce a longer body than is sent, then close: a connection lost mid-stream."""
    hold_s: float = 0.0
    """Keep the connection open this long after the events."""


@dataclass
class Request:
    headers: dict[str, str]
    body: dict[str, Any]


class Peer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__(("127.0.0.1", 0), _PeerHandler)
        self.replies = replies
        self.requests: list[Request] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _PeerHandler(BaseHTTPRequestHandler):
    server: Peer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(Request(dict(self.headers.items()), body))
        reply = self.server.replies.pop(0) if self.server.replies else Reply(status=599)
        payload = b"".join(
            b"data: " + (e if isinstance(e, str) else json.dumps(e)).encode() + b"\n\n"
            for e in reply.events
        )
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.events:
            self.send_header("Content-Type", "text/event-stream")
        if reply.cut:
            self.send_header("Content-Length", str(len(payload) + 1000))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        time.sleep(reply.hold_s)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[Callable[..., Peer]]:
    started: list[Peer] = []

    def start(*replies: Reply) -> Peer:
        server = Peer(list(replies))
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _stream(*texts: str) -> Reply:
    return Reply(
        events=[_chunk(role="assistant"), *map(_chunk, texts), _chunk(finish="stop"), "[DONE]"]
    )


async def test_a_server_error_is_retried(
    peer: Callable[..., Peer], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server = peer(Reply(status=500), _stream("Hello", " there!"))
    brain = LlmBrain(_spec(server.base_url), http, backoff_s=0.01)
    parts = await _collect(brain.respond(_context(), "Hi"))
    assert parts == [ReplyText(text="Hello"), ReplyText(text=" there!")]
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body
    assert "HTTP 500" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_retry_after_is_honoured_up_to_a_cap(
    peer: Callable[..., Peer], http: httpx.AsyncClient
) -> None:
    server = peer(Reply(status=429, headers={"Retry-After": "0.3"}), _stream("Ok."))
    brain = LlmBrain(_spec(server.base_url), http, backoff_s=0.01)
    start = time.monotonic()
    assert await _collect(brain.respond(_context(), "Hi")) == [ReplyText(text="Ok.")]
    assert time.monotonic() - start >= 0.3

    server = peer(Reply(status=503, headers={"Retry-After": "120"}), _stream("Too late."))
    parts = await _collect(LlmBrain(_spec(server.base_url), http).respond(_context(), "Hi"))
    assert parts == [ReplyText(text=brain.spec.apology)]
    assert len(server.requests) == 1


async def test_a_client_error_is_not_retried(
    peer: Callable[..., Peer], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server = peer(Reply(status=400, events=[{"error": {"message": "bad model"}}]))
    spec = _spec(server.base_url)
    parts = await _collect(LlmBrain(spec, http, backoff_s=0.01).respond(_context(), "Hi"))
    assert parts == [ReplyText(text=spec.apology)]
    assert len(server.requests) == 1
    assert "HTTP 400" in caplog.text


async def test_a_stream_cut_after_text_is_not_retried(
    peer: Callable[..., Peer], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    cut = Reply(events=[_chunk(role="assistant"), _chunk("We open at")], cut=True)
    server = peer(cut, _stream("never sent"))
    parts = await _collect(
        LlmBrain(_spec(server.base_url), http, backoff_s=0.01).respond(_context(), "Hours?")
    )
    assert parts == [ReplyText(text="We open at"), ReplyText(text=LOST_THREAD)]
    assert len(server.requests) == 1
    assert [r.name for r in caplog.records if r.levelno == logging.ERROR] == ["voxgate.agents.llm"]


async def test_a_malformed_stream_apologises(
    peer: Callable[..., Peer], http: httpx.AsyncClient
) -> None:
    server = peer(Reply(events=["{not json"]))
    spec = _spec(server.base_url)
    parts = await _collect(LlmBrain(spec, http, backoff_s=0.01).respond(_context(), "Hi"))
    assert parts == [ReplyText(text=spec.apology)]
    assert len(server.requests) == 1


async def test_a_late_first_token_is_retried_then_apologised_for(
    peer: Callable[..., Peer], http: httpx.AsyncClient
) -> None:
    # The peer answers the headers, then never sends a token.
    silent = Reply(events=[_chunk(role="assistant")], hold_s=1.0)
    server = peer(silent, silent)
    spec = _spec(server.base_url, first_token_timeout_s=0.2, retries=1)
    start = time.monotonic()
    parts = await _collect(LlmBrain(spec, http, backoff_s=0.01).respond(_context(), "Hi"))
    assert parts == [ReplyText(text=spec.apology)]
    assert len(server.requests) == 2
    assert time.monotonic() - start < 2


async def test_history_is_sent_as_heard(
    peer: Callable[..., Peer], http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGATE_TEST_LLM_KEY", "sk-test")
    server = peer(_stream("Seven it is."))
    history = (
        HistoryItem(role="user", text="Do you have a table tonight?"),
        # Generated "We have tables at seven and at nine thirty.", cut by a barge-in:
        HistoryItem(role="assistant", text="We have tables at seven and"),
        HistoryItem(role="assistant", text=""),  # cut before anything was heard
    )
    spec = _spec(server.base_url, api_key_env="VOXGATE_TEST_LLM_KEY", max_tokens=60)
    await _collect(
        LlmBrain(spec, http).respond(
            _context(*history),
            "Seven, please.",
            system_prompt="You are {{agent_name}}. Today is {{current_day}}.",
            values={"agent_name": "Bistro", "current_day": "Saturday"},
        )
    )
    (request,) = server.requests
    assert request.body["messages"] == [
        {"role": "system", "content": "You are Bistro. Today is Saturday."},
        {"role": "user", "content": "Do you have a table tonight?"},
        {"role": "assistant", "content": "We have tables at seven and"},
        {"role": "user", "content": "Seven, please."},
    ]
    assert request.body["stream"] is True
    assert request.body["max_tokens"] == 60
    assert "tools" not in request.body and "tool_choice" not in request.body
    assert request.headers["Authorization"] == "Bearer sk-test"


async def test_streamed_tool_call_fragments_and_end_call(
    peer: Callable[..., Peer], http: httpx.AsyncClient, tool_ctx: ToolContext
) -> None:
    # OpenAI style: the id and name once, the arguments in pieces, text before the call.
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "end_call"}}
    server = peer(
        Reply(
            events=[
                _chunk(role="assistant"),
                _chunk("Goodbye!"),
                _chunk(tool_calls=[first]),
                _chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"rea'}}]),
                _chunk(tool_calls=[{"index": 0, "function": {"arguments": 'son": "done"}'}}]),
                _chunk(finish="tool_calls"),
                "[DONE]",
            ]
        )
    )
    runner = ToolRunner({"end_call": builtin_tools()["end_call"]})
    spec = _spec(server.base_url, tool_choice="end_call")
    parts = await _collect(
        LlmBrain(spec, http).respond(_context(), "Bye", tools=runner, tool_ctx=tool_ctx)
    )
    assert parts == [
        ReplyText(text="Goodbye!"),
        ToolStatus(tool_name="end_call", status="started"),
        ToolStatus(tool_name="end_call", status="completed"),
        EndCall(),
    ]
    (request,) = server.requests  # the goodbye was said: no second round
    assert request.body["tool_choice"] == {"type": "function", "function": {"name": "end_call"}}
    assert request.body["tools"] == runner.openai_tool_schemas()


async def test_tool_results_go_back_to_the_model(
    peer: Callable[..., Peer], http: httpx.AsyncClient, tool_ctx: ToolContext
) -> None:
    async def opening_hours(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return {"open": "12:00"}

    tool = ToolDefinition(
        name="get_opening_hours", description="Hours.", parameters=HOURS_SCHEMA, run=opening_hours
    )
    call = {
        "index": 0,
        "id": "call_7",
        "function": {"name": "get_opening_hours", "arguments": '{"day": "friday"}'},
    }
    server = peer(
        Reply(events=[_chunk(tool_calls=[call]), _chunk(finish="tool_calls"), "[DONE]"]),
        _stream("From noon."),
    )
    runner = ToolRunner({tool.name: tool})
    parts = await _collect(
        LlmBrain(_spec(server.base_url), http).respond(
            _context(), "Friday hours?", tools=runner, tool_ctx=tool_ctx
        )
    )
    assert _text(parts) == "From noon."
    first, second = (r.body for r in server.requests)
    assert first["tool_choice"] == "auto" and second["tool_choice"] == "auto"
    assert second["messages"][-2:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_7",
                    "type": "function",
                    "function": {"name": "get_opening_hours", "arguments": '{"day": "friday"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_7", "content": '{"open": "12:00"}'},
    ]
