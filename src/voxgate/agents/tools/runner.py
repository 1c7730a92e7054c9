"""Tool definitions, the context a tool runs in, and the runner that calls them.

A :class:`ToolDefinition` is a name, a description and a JSON Schema of the arguments (what
an LLM reads, as OpenAI function calling expects) plus an async ``run``. A brain calls
tools through one :class:`ToolRunner` per agent: it validates the arguments, reports
status, never raises for a failing tool (the failure becomes a :class:`ToolOutcome` to
show the model) and records every call in the store.

Tools signal an expected failure (bad date, unknown reference) by raising
:class:`~voxgate.errors.ToolError`; its message is shown to the model. Any other exception
is logged with its traceback and reported to the model as an internal failure.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import perf_counter
from typing import Any, Literal, Protocol

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from voxgate.errors import ToolError
from voxgate.store import NewToolCall, Store

log = logging.getLogger(__name__)

Effect = Literal["end_call", "handoff"]
Status = Literal["started", "completed", "failed"]
OnStatus = Callable[[str, Status], None]
ToolFunction = Callable[["ToolContext", dict[str, Any]], Awaitable[dict[str, Any]]]

TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


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
        check_parameters_schema(self.parameters)


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


def check_parameters_schema(schema: Mapping[str, Any]) -> None:
    """Raises ``ValueError`` unless ``schema`` is a valid JSON Schema of an object."""
    if schema.get("type") != "object":
        raise ValueError('a tool\'s parameters schema must have "type": "object"')
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid parameters schema: {exc.message}") from None


def object_schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The parameters schema of a tool: these properties, no others."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


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
