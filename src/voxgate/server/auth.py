"""Credentials: API keys in ``Authorization: Bearer`` (or the Atoms ``token`` query)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voxgate.errors import AuthError
from voxgate.server.state import state_of
from voxgate.store import ApiKey, Store


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


async def api_key_from(store: Store, token: str | None) -> ApiKey:
    """Authenticate an API key. Raises :class:`AuthError`; never logs the token."""
    if not token:
        raise AuthError("missing API key")
    key = await store.authenticate_api_key(token)
    if key is None:
        raise AuthError("invalid or revoked API key")
    return key


bearer_scheme = HTTPBearer(
    scheme_name="ApiKey",
    bearerFormat="vg_…",
    description="An API key as `Authorization: Bearer <key>` (`voxgate keys create`).",
    auto_error=False,
)
"""Only describes the scheme in OpenAPI: :func:`require_api_key` does the checking."""


async def require_api_key(
    request: Request,
    _described: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> ApiKey:
    """FastAPI dependency: the request's API key, or HTTP 401. Routes using it show the
    ``ApiKey`` Bearer scheme in OpenAPI."""
    try:
        return await api_key_from(state_of(request).store, bearer_token(request.headers))
    except AuthError as exc:
        raise HTTPException(
            status_code=401, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
