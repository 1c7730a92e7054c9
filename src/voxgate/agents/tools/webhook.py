"""Webhook tools: an HTTP endpoint described in an agent file, called as a tool.

:class:`WebhookToolSpec` is what the agent file says (validated when loaded);
:func:`webhook_tool` turns it into a :class:`~voxgate.agents.tools.runner.ToolDefinition`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from voxgate.agents.tools.runner import (
    TOOL_NAME,
    ToolContext,
    ToolDefinition,
    check_parameters_schema,
)
from voxgate.errors import ToolError

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024
"""Webhook response bodies are read up to this size."""
MAX_TEXT_BYTES = 4 * 1024
"""A non-JSON webhook response is given to the model truncated to this size."""

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
        check_parameters_schema(parameters)
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
