"""The OpenAPI description: the error body every REST endpoint shares, the responses that
routes declare with it, and the fix-up of FastAPI's generated schema.

Declare a route's errors with ``responses=error_responses(400, 401, 404)``. Call
:func:`install` once on the app, after its routes are added.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from voxgate.server.serialize import ResponseModel


class ErrorIssue(ResponseModel):
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):  # not ResponseModel: ``details`` is left out when empty
    code: str
    """The HTTP status code, as a string."""
    message: str
    details: list[ErrorIssue] | None = None
    """For invalid requests: what is wrong, field by field."""


class ErrorResponse(ResponseModel):
    """Every error answer of the REST API."""

    status: Literal[False] = False
    error: ErrorBody


_DESCRIPTIONS = {
    400: "Invalid request: a parameter or the body does not fit the schema.",
    401: "Missing, malformed, invalid or revoked API key.",
    403: "Forbidden.",
    404: "Not found, or not visible to this API key's tenant.",
    413: "Request body too large.",
    503: "Not ready.",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each code with the :class:`ErrorResponse` body.

    Override a description with ``e404="no such agent"``.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": descriptions.get(f"e{code}", _DESCRIPTIONS.get(code, "Error.")),
        }
        if code == 401:
            entry["headers"] = {
                "WWW-Authenticate": {
                    "description": "`Bearer`",
                    "schema": {"type": "string"},
                }
            }
        out[code] = entry
    return out


def install(app: FastAPI) -> None:
    """Serve an OpenAPI schema that says what really happens: invalid requests are
    answered 400 with :class:`ErrorResponse` (see the app's validation error handler),
    never FastAPI's 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _without_422(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _without_422(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses:
                responses["400"] = {"description": _DESCRIPTIONS[400]}
            # Every 4xx the app sends has the ErrorResponse body (see the handlers).
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    response["content"] = error_content
    # Only the 422 responses used these.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    if "ErrorResponse" not in components:
        body = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components["ErrorResponse"] = body
    return schema
