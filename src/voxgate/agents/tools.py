"""Tools an agent can call: built-ins, webhook tools, and the runner that calls them.

A :class:`ToolDefinition` is a name, a description and a JSON Schema of the arguments (what
an LLM reads, as OpenAI function calling expects) plus an async ``run``. A brain calls
tools through one :class:`ToolRunner` per agent: it validates the arguments, reports
status, never raises for a failing tool (the failure becomes a :class:`ToolOutcome` to
show the model) and records every call in the store.

Tools signal an expected failure (bad date, unknown reference) by raising
:class:`ToolError`; its message is shown to the model. Any other exception is logged with
its traceback and reported to the model as an internal failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from time import perf_counter
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from voxgate.errors import ToolError
from voxgate.store import Booking as StoredBooking
from voxgate.store import NewBooking, NewToolCall, Store

log = logging.getLogger(__name__)

Effect = Literal["end_call", "handoff"]
Status = Literal["started", "completed", "failed"]
OnStatus = Callable[[str, Status], None]
ToolFunction = Callable[["ToolContext", dict[str, Any]], Awaitable[dict[str, Any]]]

TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_RESPONSE_BYTES = 256 * 1024
"""Webhook response bodies are read up to this size."""
MAX_TEXT_BYTES = 4 * 1024
"""A non-JSON webhook response is given to the model truncated to this size."""
KNOWLEDGE_RESULTS = 4
MAX_LISTED_BOOKINGS = 20
MAX_PARTY_SIZE = 20


class KnowledgeSearch(Protocol):
    """What ``search_knowledge`` needs of a knowledge base.

    ``asearch`` returns hits best first; each has ``.passage.text``, ``.passage.source``
    and ``.score``.
    """

    async def asearch(self, query: str, k: int) -> list[Any]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolContext:
    """Everything a tool may use, for one conversation. ``now`` is aware local time."""

    tenant_id: str
    agent_id: str
    conversation_id: str
    variables: Mapping[str, str | int | float | bool]
    store: Store
    http: httpx.AsyncClient
    knowledge: KnowledgeSearch | None
    now: datetime
    """The agent's local time (aware), e.g. ``datetime.now(ZoneInfo(spec.timezone))``."""

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError(f"ToolContext.now must be aware, got {self.now!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolDefinition:
    """One tool. ``parameters`` is the JSON Schema (an object schema) of the arguments.

    ``effect`` tells the brain what a successful call does to the conversation:
    ``"end_call"``, ``"handoff"`` or nothing. Raises ``ValueError`` for a bad name or
    schema.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    run: ToolFunction
    effect: Effect | None = None

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must match {TOOL_NAME.pattern}")
        _check_parameters_schema(self.parameters)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolOutcome:
    """The result of one call. ``effect`` is the tool's effect, only when ``ok``."""

    name: str
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_ms: float
    effect: Effect | None = None

    def content_for_model(self) -> str:
        """The JSON text to send back to the model as the tool message's content."""
        if self.ok:
            return json.dumps(self.result, ensure_ascii=False)
        return json.dumps({"error": self.error}, ensure_ascii=False)


def _check_parameters_schema(schema: Mapping[str, Any]) -> None:
    if schema.get("type") != "object":
        raise ValueError('a tool\'s parameters schema must have "type": "object"')
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid parameters schema: {exc.message}") from None


def _object_schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


# -- the runner ---------------------------------------------------------------------------


class ToolRunner:
    """Calls an agent's tools. One per agent; safe to share between conversations.

    Raises ``ValueError`` when a mapping key differs from its tool's name.
    """

    def __init__(self, tools: Mapping[str, ToolDefinition]) -> None:
        for key, tool in tools.items():
            if key != tool.name:
                raise ValueError(f"tool {tool.name!r} is registered under {key!r}")
        self._tools = dict(tools)
        self._validators = {
            name: Draft202012Validator(tool.parameters) for name, tool in self._tools.items()
        }

    @property
    def tools(self) -> Mapping[str, ToolDefinition]:
        return self._tools

    def openai_tool_schemas(self) -> list[dict[str, Any]]:
        """The ``tools`` array of a Chat Completions request."""
        return [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in self._tools.values()
        ]

    async def call(
        self,
        ctx: ToolContext,
        name: str,
        arguments: dict[str, Any],
        on_status: OnStatus | None = None,
    ) -> ToolOutcome:
        """Run tool ``name``; never raises for a failing tool, bad arguments or storage.

        ``on_status`` gets ``"started"`` first, then exactly one of ``"completed"`` and
        ``"failed"`` (exceptions it raises are logged and ignored). The call is recorded
        with ``ctx.store.add_tool_call``. When the calling task is cancelled (barge-in),
        ``on_status`` gets ``"failed"``, nothing is recorded, and ``CancelledError``
        propagates.
        """
        started_at = datetime.now(UTC)
        start = perf_counter()
        _notify(on_status, name, "started")
        tool = self._tools.get(name)
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            if tool is None:
                error = f"unknown tool {name!r}; available: {', '.join(self._tools) or 'none'}"
            elif (problem := self._validate(name, arguments)) is not None:
                error = problem
            else:
                result, error = await _run(tool, ctx, arguments)
        except BaseException:
            _notify(on_status, name, "failed")
            raise
        duration_ms = (perf_counter() - start) * 1000
        ok = error is None
        _notify(on_status, name, "completed" if ok else "failed")
        await _record(ctx, name, arguments, result, error, started_at, duration_ms)
        return ToolOutcome(
            name=name,
            ok=ok,
            result=result if result is not None else {},
            error=error,
            duration_ms=duration_ms,
            effect=tool.effect if ok and tool is not None else None,
        )

    def _validate(self, name: str, arguments: object) -> str | None:
        problem = best_match(self._validators[name].iter_errors(arguments))
        if problem is None:
            return None
        where = "/".join(str(part) for part in problem.absolute_path)
        return f"invalid arguments for {name}: {where + ': ' if where else ''}{problem.message}"


async def _run(
    tool: ToolDefinition, ctx: ToolContext, arguments: dict[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """The tool's result, or the error message for the model."""
    try:
        result = await tool.run(ctx, dict(arguments))
    except ToolError as exc:
        log.info("tool %s refused: %s", tool.name, exc)
        return None, str(exc)
    except Exception as exc:
        log.exception("tool %s raised", tool.name)
        return None, f"tool {tool.name} failed with an internal error ({type(exc).__name__})"
    if not isinstance(result, dict):
        log.error("tool %s returned %s, not a dict", tool.name, type(result).__name__)
        return None, f"tool {tool.name} failed with an internal error (bad result)"
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        log.exception("tool %s returned a result that is not JSON", tool.name)
        return None, f"tool {tool.name} failed with an internal error (bad result)"
    return result, None


def _notify(on_status: OnStatus | None, name: str, status: Status) -> None:
    if on_status is None:
        return
    try:
        on_status(name, status)
    except Exception:
        log.exception("tool status callback failed (%s %s)", name, status)


async def _record(
    ctx: ToolContext,
    name: str,
    arguments: dict[str, Any],
    result: dict[str, Any] | None,
    error: str | None,
    started_at: datetime,
    duration_ms: float,
) -> None:
    try:
        await ctx.store.add_tool_call(
            ctx.conversation_id,
            NewToolCall(
                name=name,
                arguments=arguments,
                result=result,
                status="completed" if error is None else "failed",
                error=error,
                started_at=started_at,
                duration_ms=duration_ms,
            ),
        )
    except Exception:
        log.exception("could not record tool call %s of %s", name, ctx.conversation_id)


# -- built-in tools -----------------------------------------------------------------------


def builtin_tools(*, handoff_queue: str = "default") -> dict[str, ToolDefinition]:
    """Fresh definitions of the built-in tools, by name.

    ``handoff_queue``: where ``transfer_to_human`` sends the caller when the model names
    no queue.
    """

    async def transfer_to_human(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return {"queue": args.get("queue") or handoff_queue}

    tools = [
        ToolDefinition(
            name="end_call",
            description=(
                "End the conversation and hang up. Call it only when the conversation is "
                "over: the user said goodbye, asked to hang up, or has nothing more to ask. "
                "Say your goodbye in the same reply, before calling this; nothing can be said "
                "after it."
            ),
            parameters=_object_schema(
                {"reason": {"type": "string", "description": "Why the call ends, for the log."}}
            ),
            run=_end_call,
            effect="end_call",
        ),
        ToolDefinition(
            name="transfer_to_human",
            description=(
                "Hand the conversation over to a human colleague. Use it when the user asks "
                "for a person, when they are upset, or when you cannot help with the request. "
                "Tell the user you are transferring them in the same reply."
            ),
            parameters=_object_schema(
                {
                    "queue": {
                        "type": "string",
                        "description": "Team to transfer to; leave out for the default team.",
                    },
                    "reason": {
                        "type": "string",
                        "description": "One sentence for the human: what the user needs.",
                    },
                }
            ),
            run=transfer_to_human,
            effect="handoff",
        ),
        ToolDefinition(
            name="search_knowledge",
            description=(
                "Search this business's knowledge base (opening hours, prices, policies, "
                "menus, FAQs). Call it before answering any factual question about the "
                "business, and answer only from the passages returned; if nothing relevant "
                "comes back, say you don't know."
            ),
            parameters=_object_schema(
                {
                    "query": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The question, rephrased as a short search query.",
                    }
                },
                ("query",),
            ),
            run=_search_knowledge,
        ),
        ToolDefinition(
            name="create_booking",
            description=(
                "Book a table. Collect the name, number of people, date and time first, and "
                "confirm them with the user before calling. Convert relative dates "
                "('tomorrow', 'next Friday') to YYYY-MM-DD and times to 24-hour HH:MM in the "
                "business's local time. Dates and times in the past are rejected. Read the "
                "returned reference to the user letter by letter."
            ),
            parameters=_object_schema(
                {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "description": "Name the booking is under.",
                    },
                    "party_size": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PARTY_SIZE,
                        "description": "Number of people.",
                    },
                    "date": {
                        "type": "string",
                        "pattern": r"^\d{4}-\d{2}-\d{2}$",
                        "description": "Day of the booking, YYYY-MM-DD.",
                    },
                    "time": {
                        "type": "string",
                        "pattern": r"^\d{2}:\d{2}$",
                        "description": "Time of the booking, 24-hour HH:MM.",
                    },
                    "notes": {
                        "type": "string",
                        "maxLength": 1000,
                        "description": "Special requests (allergies, high chair, occasion).",
                    },
                },
                ("name", "party_size", "date", "time"),
            ),
            run=_create_booking,
        ),
        ToolDefinition(
            name="list_bookings",
            description=(
                "Find existing (not cancelled) bookings, by the name they are under and/or by "
                "date. Use it to look up the caller's own booking, asking for their name "
                "first; do not read out other people's bookings."
            ),
            parameters=_object_schema(
                {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Name the booking is under (whole name, any case).",
                    },
                    "date": {
                        "type": "string",
                        "pattern": r"^\d{4}-\d{2}-\d{2}$",
                        "description": "Only bookings on this day, YYYY-MM-DD.",
                    },
                }
            ),
            run=_list_bookings,
        ),
        ToolDefinition(
            name="cancel_booking",
            description=(
                "Cancel a booking by its reference (like BK-7K3QX). Confirm with the user "
                "that they want to cancel before calling. If they do not know the "
                "reference, find it with list_bookings by their name."
            ),
            parameters=_object_schema(
                {
                    "reference": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The booking reference, e.g. BK-7K3QX.",
                    }
                },
                ("reference",),
            ),
            run=_cancel_booking,
        ),
    ]
    return {tool.name: tool for tool in tools}


async def _end_call(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return {"ending": True}


async def _search_knowledge(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    if ctx.knowledge is None:
        raise ToolError("this agent has no knowledge base to search")
    hits = await ctx.knowledge.asearch(args["query"], KNOWLEDGE_RESULTS)
    return {
        "passages": [
            {
                "text": str(hit.passage.text),
                "source": None if hit.passage.source is None else str(hit.passage.source),
                "score": round(float(hit.score), 4),
            }
            for hit in hits
        ]
    }


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{text!r} is not a valid date (use YYYY-MM-DD)") from None


def _parse_time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{text!r} is not a valid time (use 24-hour HH:MM)") from None


def _booking_view(booking: StoredBooking) -> dict[str, Any]:
    return {
        "reference": booking.reference,
        "name": booking.name,
        "party_size": booking.party_size,
        "date": booking.date.isoformat(),
        "time": booking.time.strftime("%H:%M"),
    }


async def _create_booking(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    day = _parse_date(args["date"])
    at = _parse_time(args["time"])
    if datetime.combine(day, at, tzinfo=ctx.now.tzinfo) < ctx.now:
        raise ToolError(
            f"{day.isoformat()} {at.strftime('%H:%M')} is in the past (it is now "
            f"{ctx.now.strftime('%Y-%m-%d %H:%M')}); ask the user for a later date or time"
        )
    notes = args.get("notes")
    booking = await ctx.store.create_booking(
        NewBooking(
            tenant_id=ctx.tenant_id,
            agent_id=ctx.agent_id,
            conversation_id=ctx.conversation_id,
            name=args["name"],
            party_size=args["party_size"],
            date=day,
            time=at,
            notes=notes or None,
        )
    )
    return _booking_view(booking)


async def _list_bookings(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    on_date = _parse_date(args["date"]) if "date" in args else None
    found = await ctx.store.list_bookings(
        ctx.tenant_id, ctx.agent_id, name=args.get("name"), on_date=on_date
    )
    shown = [{**_booking_view(b), "notes": b.notes} for b in found[:MAX_LISTED_BOOKINGS]]
    result: dict[str, Any] = {"bookings": shown}
    if len(found) > len(shown):
        result["more"] = len(found) - len(shown)
    return result


async def _cancel_booking(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    booking = await ctx.store.cancel_booking(ctx.tenant_id, args["reference"])
    if booking is None:
        raise ToolError(f"no booking with reference {args['reference']!r}")
    return {**_booking_view(booking), "status": booking.status}


# -- webhook tools ------------------------------------------------------------------------

_ARG_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ENV_PLACEHOLDER = re.compile(r"\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")


class WebhookToolSpec(BaseModel):
    """A tool that calls an HTTP endpoint, as written in an agent file.

    ``url`` may contain ``{{arg}}`` placeholders (path and query only, never the host),
    each naming a required argument; those arguments are URL-encoded into the URL and
    not sent again. The others go as query parameters (GET) or as a JSON body. Header
    values may contain ``{{env.NAME}}``, read from the environment at call time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=TOOL_NAME.pattern)
    description: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    timeout_s: float = Field(default=5.0, gt=0, le=30)

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(_ANY_PLACEHOLDER.sub("x", value))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be an http:// or https:// URL, got {value!r}")
        if "{{" in urlsplit(value).netloc:
            raise ValueError("url placeholders may only be used in the path and query")
        for placeholder in _ANY_PLACEHOLDER.findall(value):
            if not _ARG_PLACEHOLDER.fullmatch(placeholder):
                raise ValueError(f"url placeholder {placeholder} must name an argument")
        return value

    @field_validator("headers")
    @classmethod
    def _env_only_in_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for header, value in headers.items():
            for placeholder in _ANY_PLACEHOLDER.findall(value):
                if not _ENV_PLACEHOLDER.fullmatch(placeholder):
                    raise ValueError(
                        f"header {header!r}: only {{{{env.NAME}}}} placeholders are allowed"
                    )
        return headers

    @field_validator("parameters")
    @classmethod
    def _schema(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        _check_parameters_schema(parameters)
        return parameters

    @model_validator(mode="after")
    def _url_arguments_required(self) -> WebhookToolSpec:
        required = set(self.parameters.get("required", []))
        for arg in _ARG_PLACEHOLDER.findall(self.url):
            if arg not in required:
                raise ValueError(
                    f"url placeholder {{{{{arg}}}}} needs {arg!r} in parameters.required"
                )
        return self


def webhook_tool(spec: WebhookToolSpec) -> ToolDefinition:
    """The tool that calls ``spec``'s endpoint with ``ctx.http``.

    A 2xx JSON object is the result (other JSON values come as ``{"result": value}``, an
    empty body as ``{"status_code": n}``); any other body comes as ``{"text": ...}``, cut
    to 4 KiB. Non-2xx answers, timeouts, connection errors, oversized JSON and missing
    environment variables fail the call. Header values are never logged.
    """

    async def run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        headers = {name: _fill_env(spec, name, value) for name, value in spec.headers.items()}
        used = set(_ARG_PLACEHOLDER.findall(spec.url))
        url = _ARG_PLACEHOLDER.sub(lambda m: quote(_url_text(args[m.group(1)]), safe=""), spec.url)
        rest = {k: v for k, v in args.items() if k not in used}
        request: dict[str, Any] = {"headers": headers, "timeout": spec.timeout_s}
        if spec.method == "GET":
            request["params"] = _query_params(rest)
        else:
            request["json"] = rest
        shown = f"{spec.method} {url.split('?', 1)[0]}"
        log.debug("webhook tool %s: %s", spec.name, shown)
        try:
            # The total budget, connection and body included: httpx's timeouts are per phase.
            async with (
                asyncio.timeout(spec.timeout_s),
                ctx.http.stream(spec.method, url, **request) as response,
            ):
                body, complete = await _read_capped(response)
        except (TimeoutError, httpx.TimeoutException):
            raise ToolError(f"{shown} timed out after {spec.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise ToolError(f"{shown} failed: {type(exc).__name__}: {exc}") from None
        if not response.is_success:
            snippet = body[:200].decode("utf-8", errors="replace").strip()
            raise ToolError(
                f"{shown} answered HTTP {response.status_code}"
                + (f": {snippet}" if snippet else "")
            )
        return _webhook_result(response, body, complete, shown)

    return ToolDefinition(
        name=spec.name,
        description=spec.description,
        parameters=spec.parameters,
        run=run,
    )


def _fill_env(spec: WebhookToolSpec, header: str, value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        variable = match.group(1)
        found = os.environ.get(variable)
        if not found:
            raise ToolError(
                f"tool {spec.name} is misconfigured: environment variable {variable} "
                f"(used in header {header!r}) is not set"
            )
        return found

    return _ENV_PLACEHOLDER.sub(replace, value)


def _url_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _query_params(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for key, value in args.items():
        if value is None:
            continue
        if isinstance(value, list):
            params.extend((key, _url_text(item)) for item in value)
        else:
            params.append((key, _url_text(value)))
    return params


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    """Up to :data:`MAX_RESPONSE_BYTES` of the body, and whether that is all of it."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            return bytes(body[:MAX_RESPONSE_BYTES]), False
    return bytes(body), True


def _webhook_result(
    response: httpx.Response, body: bytes, complete: bool, shown: str
) -> dict[str, Any]:
    if not body.strip():
        return {"status_code": response.status_code}
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    declared_json = content_type == "application/json" or content_type.endswith("+json")
    if declared_json or body.lstrip()[:1] in (b"{", b"["):
        if not complete:
            raise ToolError(f"{shown} answered more than {MAX_RESPONSE_BYTES // 1024} KiB")
        try:
            value = json.loads(body)
        except ValueError:
            if declared_json:
                raise ToolError(f"{shown} answered invalid JSON") from None
        else:
            return value if isinstance(value, dict) else {"result": value}
    try:
        text = body[:MAX_TEXT_BYTES].decode(response.charset_encoding or "utf-8", "ignore")
    except LookupError:
        text = body[:MAX_TEXT_BYTES].decode("utf-8", "ignore")
    result: dict[str, Any] = {"text": text}
    if len(body) > MAX_TEXT_BYTES or not complete:
        result["truncated"] = True
    return result
