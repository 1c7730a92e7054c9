"""The messaging API's REST endpoints (PolyAI-compatible): ``POST /api/v1/access-token``
trades a connector token and host for an access token; ``POST /api/v1/sessions`` opens a
session with it. The session then runs over the ``/ws`` WebSocket.

Errors have the shared :class:`~voxgate.server.openapi.ErrorResponse` body: 400 for a
missing header or a body that does not fit, 401 for credentials (see
:mod:`.messaging_auth`), 403 when the connector's agent is not served by this server.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from voxgate.errors import AuthError
from voxgate.server.auth import bearer_token
from voxgate.server.messaging_auth import ACCESS_TOKEN_TTL_S, authorize, issue_access_token
from voxgate.server.openapi import error_responses
from voxgate.server.serialize import ResponseModel
from voxgate.server.state import ServerState, state_of
from voxgate.store.messaging import MAX_DEVICE_TYPE_CHARS, Platform

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")

connector_token_scheme = APIKeyHeader(
    name="X-Token",
    scheme_name="ConnectorToken",
    description="A messaging connector's token (`vmc_…`, `voxgate connectors create`).",
    auto_error=False,
)
access_token_scheme = HTTPBearer(
    scheme_name="MessagingAccessToken",
    bearerFormat="JWT",
    description="An access token from `POST /api/v1/access-token`, valid 24 hours.",
    auto_error=False,
)
"""Both only describe the schemes in OpenAPI; the routes do the checking."""


def _state(request: Request) -> ServerState:
    state = state_of(request)
    return state


def _unauthorized(exc: AuthError, scheme: str | None = None) -> HTTPException:
    headers = {"WWW-Authenticate": scheme} if scheme else None
    return HTTPException(status_code=exc.http_status, detail=str(exc), headers=headers)


class AccessTokenRequest(BaseModel):
    """Empty (``{}``); the body may also be left out."""

    model_config = ConfigDict(extra="ignore")


class AccessTokenResponse(ResponseModel):
    access_token: str = Field(description="A JWT; send it as `Authorization: Bearer`.")
    expires_in: int = Field(description="Seconds it stays valid.")
    token_type: Literal["Bearer"] = "Bearer"


@router.post(
    "/access-token",
    response_model=AccessTokenResponse,
    responses=error_responses(
        400,
        401,
        e400="Missing `X-Token` or `X-Host` header, or a body that is not a JSON object.",
        e401="Unknown or revoked connector token, or a host not registered for it.",
    ),
)
async def create_access_token(
    request: Request,
    x_host: Annotated[
        str,
        Header(
            alias="X-Host",
            description="The web domain or app bundle id the client runs in; it must be "
            "registered for the connector (a domain also admits its subdomains).",
        ),
    ],
    token: Annotated[str | None, Security(connector_token_scheme)] = None,
    body: AccessTokenRequest | None = None,
) -> AccessTokenResponse:
    """Trade a connector token (``X-Token``) used from a registered host (``X-Host``) for
    an access token valid 24 hours."""
    if not token:
        raise HTTPException(400, "missing X-Token header")
    if not x_host.strip():
        raise HTTPException(400, "empty X-Host header")
    state = _state(request)
    connector = await state.store.authenticate_connector(token, x_host)
    if connector is None:
        raise HTTPException(401, "invalid or revoked connector token, or unregistered host")
    access_token = issue_access_token(state.secret, connector, x_host, ttl_s=ACCESS_TOKEN_TTL_S)
    return AccessTokenResponse(access_token=access_token, expires_in=ACCESS_TOKEN_TTL_S)


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    platform: Platform = Field(
        default="web", description="Stored on the conversation; the agent sees it."
    )
    streaming_enabled: bool = Field(
        default=False, description="Stream replies as `POLY_AGENT_MESSAGE_CHUNK` events."
    )
    device_type: str | None = Field(default=None, max_length=MAX_DEVICE_TYPE_CHARS)


class SessionCreated(ResponseModel):
    session_id: str = Field(description="Open `GET /ws?session_id=…&access_token=…` with it.")


@router.post(
    "/sessions",
    response_model=SessionCreated,
    responses=error_responses(
        400,
        401,
        403,
        e400="The body does not fit (unknown platform, device_type over 100 characters).",
        e401="Missing, malformed, forged or expired access token, or its connector revoked "
        "or its host unregistered since it was issued.",
        e403="The connector's agent is not served by this server.",
    ),
)
async def create_session(
    request: Request,
    _described: Annotated[HTTPAuthorizationCredentials | None, Security(access_token_scheme)],
    body: SessionRequest | None = None,
) -> SessionCreated:
    """Open a messaging session for the access token's connector (and its agent). It
    expires after 10 minutes without activity."""
    state = _state(request)
    options = body or SessionRequest()
    try:
        grant, connector = await authorize(state, bearer_token(request.headers))
    except AuthError as exc:
        raise _unauthorized(exc, "Bearer") from None
    found = state.specs.get(connector.agent_id)
    if found is None or state.agent_tenant_id(found[0]) != connector.tenant_id:
        raise HTTPException(403, f"the connector's agent {connector.agent_id!r} is not served")
    try:
        session = await state.store.create_messaging_session(
            tenant_id=connector.tenant_id,
            connector_id=connector.id,
            agent_id=connector.agent_id,
            platform=options.platform,
            streaming=options.streaming_enabled,
            device_type=options.device_type,
        )
    except ValueError as exc:  # a NUL character, which no database column holds
        raise HTTPException(400, str(exc)) from None
    log.info(
        "messaging session %s: connector %s, host %s, platform %s",
        session.id,
        connector.id,
        grant.host,
        session.platform,
    )
    return SessionCreated(session_id=session.id)
