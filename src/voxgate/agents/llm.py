"""The ``llm`` brain: any OpenAI-compatible Chat Completions endpoint, streamed, with tools.

:class:`LlmBrain` answers one user turn: it sends the system prompt, the conversation as the
user heard it and the new user text, streams the reply's text as it arrives, runs the tools
the model calls (through the agent's :class:`~voxgate.agents.tools.runner.ToolRunner`) and asks
again with their results, up to ``max_tool_rounds`` times.

It never raises for a failing endpoint: transient failures (connection errors, timeouts,
HTTP 408/429/5xx) are retried with exponential backoff while nothing has been said yet;
anything else is logged (logger ``voxgate.agents.llm``, without secrets) and the reply ends
with the spec's apology, or with :data:`LOST_THREAD` when part of the reply was already
streamed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from voxgate.agents.base import (
    AgentContext,
    EndCall,
    Handoff,
    ReplyPart,
    ReplyText,
    ToolStatus,
)
from voxgate.agents.spec import LlmSpec
from voxgate.agents.templating import fill
from voxgate.agents.tools.runner import ToolContext, ToolOutcome, ToolRunner

log = logging.getLogger(__name__)

LOST_THREAD = "Sorry, I lost my train of thought."
"""Ends a reply whose stream broke after part of it was said."""
MAX_BACKOFF_S = 8.0
ERROR_SNIPPET_CHARS = 300
"""How much of an error response body goes into the log."""


class _Failure(Exception):
    """The request failed in a way that another try will not fix."""


class _Transient(_Failure):
    """The request failed in a way that another try may fix (if nothing was said yet)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Truncated(_Transient):
    """The stream ended without ``[DONE]``."""


@dataclass(slots=True)
class _ToolCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _Round:
    """What one streamed completion said, accumulated from its deltas."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, _ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None
    started: bool = False
    """A delta with content, a tool call or a finish reason arrived (the first token)."""

    def apply(self, event: Mapping[str, Any]) -> str:
        """Fold one ``chat.completion.chunk`` in; returns its text (maybe empty)."""
        choices = event.get("choices")
        if not choices:
            return ""  # a usage-only or keep-alive chunk
        if not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise _Failure("malformed stream: 'choices' is not a list of objects")
        choice = choices[0]
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise _Failure("malformed stream: 'delta' is not an object")
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
            self.started = True
        calls = delta.get("tool_calls")
        if calls:
            if not isinstance(calls, list):
                raise _Failure("malformed stream: 'tool_calls' is not a list")
            for position, fragment in enumerate(calls):
                self._add_call_fragment(position, fragment)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.started = True
            self.text.append(content)
            return content
        return ""

    def _add_call_fragment(self, position: int, fragment: object) -> None:
        if not isinstance(fragment, dict):
            raise _Failure("malformed stream: a tool call delta is not an object")
        index = fragment.get("index", position)
        function = fragment.get("function") or {}
        if not isinstance(index, int) or not isinstance(function, dict):
            raise _Failure("malformed stream: bad tool call delta")
        self.started = True
        call = self.calls.setdefault(index, _ToolCall())
        if not call.id and isinstance(fragment.get("id"), str):
            call.id = fragment["id"]
        name = function.get("name")
        # OpenAI sends the name once; some servers (llama.cpp) repeat it in every chunk.
        if isinstance(name, str) and name and name != call.name:
            call.name += name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call.arguments += arguments

    def tool_calls(self, round_no: int) -> list[_ToolCall]:
        calls = [self.calls[i] for i in sorted(self.calls)]
        for n, call in enumerate(calls):
            call.id = call.id or f"call_{round_no}_{n}"
        return calls


class LlmBrain:
    """An LLM behind an OpenAI-compatible Chat Completions endpoint.

    One per agent, shared by its conversations. ``http`` is owned by the caller (close it
    when done); per-request timeouts come from ``spec``. ``backoff_s`` is the first retry's
    delay (doubled each time, at most 8 s); a ``Retry-After`` of up to ``max_retry_after_s``
    is honoured, a longer one ends the retries.
    """

    def __init__(
        self,
        spec: LlmSpec,
        http: httpx.AsyncClient,
        *,
        backoff_s: float = 0.5,
        max_retry_after_s: float = 5.0,
    ) -> None:
        self.spec = spec
        self._http = http
        self._backoff_s = backoff_s
        self._max_retry_after_s = max_retry_after_s
        self._url = spec.base_url.rstrip("/") + "/chat/completions"
        url = httpx.URL(self._url)
        port = f":{url.port}" if url.port is not None else ""
        self._shown_url = f"{url.scheme}://{url.host}{port}{url.path}"  # no credentials
        self._timeout = httpx.Timeout(spec.timeout_s)

    async def respond(
        self,
        context: AgentContext,
        user_text: str,
        *,
        system_prompt: str = "",
        values: Mapping[str, Any] | None = None,
        tools: ToolRunner | None = None,
        tool_ctx: ToolContext | None = None,
    ) -> AsyncIterator[ReplyPart]:
        """Stream the reply to ``user_text``: text pieces, tool statuses, then at most one
        :class:`EndCall`/:class:`Handoff` per kind (after the reply's text).

        ``system_prompt`` is a template filled with ``values`` (default: the context's
        variables). ``context.history`` is sent as is: an interrupted assistant turn must
        already hold only what the user heard. With ``tools``, ``tool_ctx`` is required
        (``ValueError`` otherwise, at the first iteration). Endpoint failures never raise:
        they end the reply with an apology. Cancel the iteration to stop (barge-in).
        """
        runner = tools if tools is not None and tools.tools else None
        if runner is not None and tool_ctx is None:
            raise ValueError("LlmBrain.respond: tools need a tool_ctx")
        prompt = fill(system_prompt, values if values is not None else context.variables)
        messages = _messages(prompt, context, user_text)
        schemas = runner.openai_tool_schemas() if runner is not None else []
        spoken = False
        effects: list[EndCall | Handoff] = []
        try:
            api_key = self._api_key()
            for round_no in range(self.spec.max_tool_rounds + 1):
                final = round_no == self.spec.max_tool_rounds or bool(effects)
                body = self._body(messages, schemas, self._tool_choice(round_no, schemas, final))
                current = _Round()
                async with aclosing(self._stream(body, api_key, current)) as texts:
                    async for text in texts:
                        spoken = spoken or bool(text.strip())
                        yield ReplyText(text=text)
                calls = current.tool_calls(round_no)
                if not calls:
                    break
                if final or runner is None or tool_ctx is None:
                    log.warning("%s: ignored %d tool call(s) past the last round", self, len(calls))
                    break
                messages.append(_assistant_message(current, calls))
                for call in calls:
                    yield ToolStatus(tool_name=call.name, status="started")
                    outcome, arguments = await _run_tool(runner, tool_ctx, call)
                    yield ToolStatus(
                        tool_name=call.name, status="completed" if outcome.ok else "failed"
                    )
                    messages.append(self._tool_result(call, outcome))
                    effect = _effect(outcome, arguments)
                    if effect is not None and not any(type(e) is type(effect) for e in effects):
                        effects.append(effect)
                if effects and spoken:
                    break  # the model said its goodbye (or handoff line) with the call
            if not spoken and not effects:
                raise _Failure("the model's reply had no text")
        except _Failure as exc:
            log.error("%s failed: %s", self, exc)
            yield ReplyText(text=LOST_THREAD if spoken else self.spec.apology)
        except Exception:
            log.exception("%s failed unexpectedly", self)
            yield ReplyText(text=LOST_THREAD if spoken else self.spec.apology)
        for effect in effects:
            yield effect

    def __str__(self) -> str:
        return f"LLM {self.spec.model!r} at {self._shown_url}"

    # --- requests ------------------------------------------------------------------------

    def _tool_result(self, call: _ToolCall, outcome: ToolOutcome) -> dict[str, Any]:
        """The message that hands a tool's result back to the model."""
        content = outcome.content_for_model()
        if self.spec.tool_results_as == "user":
            # For servers whose chat template drops the `tool` role (llama.cpp's
            # chatml-function-calling): the result reaches the model as a user message.
            return {"role": "user", "content": f"Result of {call.name}: {content}"}
        return {"role": "tool", "tool_call_id": call.id, "content": content}

    def _api_key(self) -> str | None:
        name = self.spec.api_key_env
        if name is None:
            return None
        key = os.environ.get(name)
        if not key:
            raise _Failure(f"environment variable {name} (api_key_env) is not set")
        return key

    def _tool_choice(
        self, round_no: int, schemas: list[dict[str, Any]], final: bool
    ) -> str | dict[str, Any] | None:
        if not schemas:
            return None
        if final:
            return "none"
        choice = self.spec.tool_choice
        if round_no > 0 or choice is None or choice == "auto":
            return "auto"
        if choice in ("none", "required"):
            return choice
        if any(s["function"]["name"] == choice for s in schemas):
            return {"type": "function", "function": {"name": choice}}
        log.warning("%s: tool_choice %r names no tool of this agent; using auto", self, choice)
        return "auto"

    def _body(
        self,
        messages: list[dict[str, Any]],
        schemas: list[dict[str, Any]],
        tool_choice: str | dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": list(messages),
            "stream": True,
            "temperature": self.spec.temperature,
            "max_tokens": self.spec.max_tokens,
        }
        if schemas:
            body["tools"] = schemas
            body["tool_choice"] = tool_choice
        return body

    async def _stream(
        self, body: dict[str, Any], api_key: str | None, out: _Round
    ) -> AsyncGenerator[str, None]:
        """One completion's text deltas, retried while nothing was yielded. Raises
        :class:`_Failure`; ``out`` holds the finished round."""
        attempts = self.spec.retries + 1
        for attempt in range(attempts):
            said = False
            fresh = _Round()
            try:
                async with aclosing(self._attempt(body, api_key, fresh)) as texts:
                    async for text in texts:
                        said = True
                        yield text
            except _Transient as exc:
                # A stream cut after its finish reason lost nothing.
                if not (isinstance(exc, _Truncated) and fresh.finish_reason is not None):
                    if said:
                        raise _Failure(f"{exc}, after part of the reply was streamed") from None
                    if attempt + 1 == attempts:
                        raise _Failure(f"{exc} (attempt {attempts} of {attempts})") from None
                    await self._pause(attempt, exc)
                    continue
            out.text, out.calls, out.finish_reason = fresh.text, fresh.calls, fresh.finish_reason
            return

    async def _pause(self, attempt: int, exc: _Transient) -> None:
        delay = min(self._backoff_s * 2**attempt, MAX_BACKOFF_S)
        if exc.retry_after is not None:
            if exc.retry_after > self._max_retry_after_s:
                raise _Failure(f"{exc}; asked to retry after {exc.retry_after:g} s") from None
            delay = max(delay, exc.retry_after)
        log.warning("%s: attempt %d: %s; retrying in %.2f s", self, attempt + 1, exc, delay)
        await asyncio.sleep(delay)

    async def _attempt(
        self, body: dict[str, Any], api_key: str | None, out: _Round
    ) -> AsyncGenerator[str, None]:
        """One request's text deltas; the first token must come within the spec's
        ``first_token_timeout_s``."""
        deadline = asyncio.get_running_loop().time() + self.spec.first_token_timeout_s
        async with aclosing(self._events(body, api_key)) as events:
            iterator = aiter(events)
            while True:
                try:
                    if out.started:
                        event = await anext(iterator)
                    else:
                        async with asyncio.timeout_at(deadline):
                            event = await anext(iterator)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise _Transient(
                        f"no first token within {self.spec.first_token_timeout_s:g} s"
                    ) from None
                text = out.apply(event)
                if text:
                    yield text

    async def _events(
        self, body: dict[str, Any], api_key: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The stream's JSON events until ``[DONE]``."""
        headers = {"Accept": "text/event-stream"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        try:
            async with self._http.stream(
                "POST", self._url, json=body, headers=headers, timeout=self._timeout
            ) as response:
                if not response.is_success:
                    raise await _status_error(response, api_key)
                data: list[str] = []
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line[6:] if line.startswith("data: ") else line[5:])
                        continue
                    if line or not data:
                        continue  # other SSE fields and comments; or a stray blank line
                    event, data = "\n".join(data), []
                    if event.strip() == "[DONE]":
                        return
                    yield _parse_event(event)
                if data and "\n".join(data).strip() == "[DONE]":
                    return
                if data:
                    yield _parse_event("\n".join(data))
                raise _Truncated("the stream ended before [DONE]")
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        except httpx.HTTPError as exc:
            raise _Failure(f"{type(exc).__name__}: {exc}") from None


# --- helpers -----------------------------------------------------------------------------


def _messages(prompt: str, context: AgentContext, user_text: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if prompt.strip():
        messages.append({"role": "system", "content": prompt})
    for item in context.history:
        if item.text.strip():  # an assistant turn cut before anything was heard is skipped
            messages.append({"role": item.role, "content": item.text})
    messages.append({"role": "user", "content": user_text})
    return messages


def _assistant_message(current: _Round, calls: list[_ToolCall]) -> dict[str, Any]:
    return {
        "role": "assistant",
        # "" rather than null: OpenAI takes both, llama-cpp-python's server only a string.
        "content": "".join(current.text),
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in calls
        ],
    }


async def _run_tool(
    runner: ToolRunner, ctx: ToolContext, call: _ToolCall
) -> tuple[ToolOutcome, dict[str, Any]]:
    try:
        arguments = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        log.info("tool call %s: arguments are not a JSON object: %.200s", call.name, call.arguments)
        error = f"the arguments of {call.name} must be a JSON object"
        return ToolOutcome(name=call.name, ok=False, error=error, duration_ms=0.0), {}
    return await runner.call(ctx, call.name, arguments), arguments


def _effect(outcome: ToolOutcome, arguments: Mapping[str, Any]) -> EndCall | Handoff | None:
    if outcome.effect == "end_call":
        return EndCall()
    if outcome.effect == "handoff":
        queue = outcome.result.get("queue") or arguments.get("queue") or "default"
        return Handoff(queue=str(queue), reason=str(arguments.get("reason") or ""))
    return None


def _parse_event(event: str) -> dict[str, Any]:
    try:
        value = json.loads(event)
    except ValueError:
        raise _Failure(f"malformed stream: not JSON: {event[:80]!r}") from None
    if not isinstance(value, dict):
        raise _Failure("malformed stream: an event is not a JSON object")
    if "error" in value:
        raise _Failure(f"the endpoint reported an error: {str(value['error'])[:200]}")
    return value


async def _status_error(response: httpx.Response, api_key: str | None) -> _Failure:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= ERROR_SNIPPET_CHARS:
            break
    snippet = body[:ERROR_SNIPPET_CHARS].decode("utf-8", "replace").strip()
    if api_key:
        snippet = snippet.replace(api_key, "***")
    message = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
    status = response.status_code
    if status in (408, 429) or status >= 500:
        return _Transient(message, retry_after=_retry_after(response.headers.get("retry-after")))
    return _Failure(message)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
