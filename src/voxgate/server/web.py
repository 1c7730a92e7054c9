"""The browser client: its page at ``/``, its static files under ``/web/static/``, and the
endpoints it calls under ``/web/``.

The page never holds the API key after login. ``POST /web/session`` checks the key once
and answers with a session cookie (HttpOnly, SameSite=Strict, path ``/web``) that holds
the key's id, tenant and expiry signed with the server secret (:mod:`.signing`), never
the key itself. Every request re-checks that the key still exists unrevoked, so revoking
it ends its browser sessions. Logout clears the cookie in the browser; a copy of the
cookie stays valid until it expires (``VOXGATE_WEB_SESSION_TTL_S``) or the key is revoked.

Cookie-authenticated requests that change something (POST, DELETE) must carry the
``X-Voxgate-Web`` header, which a cross-site form or a CORS-less fetch cannot send, and
when the browser sends ``Sec-Fetch-Site`` it must be ``same-origin``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, Security
from fastapi.responses import FileResponse
from fastapi.security import APIKeyCookie
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from voxgate.dialects.atoms import RegisterCallResponse
from voxgate.errors import AuthError, BusyError, ForbiddenError, NotFoundError, SetupError
from voxgate.server.atoms import issue_call_token
from voxgate.server.auth import api_key_from
from voxgate.server.cookies import CookieSession
from voxgate.server.openapi import error_responses
from voxgate.server.pages import file_page
from voxgate.server.serialize import ResponseModel, Timestamp
from voxgate.server.state import ServerState, state_of
from voxgate.store import ApiKey
from voxgate.web import STATIC_DIR

SESSION = CookieSession(name="voxgate_web", path="/web", csrf_header="X-Voxgate-Web")
COOKIE = SESSION.name
CSRF_HEADER = SESSION.csrf_header

# The page loads only its own scripts, styles and worklets, and talks to this host only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws://{host} wss://{host}; media-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)

router = APIRouter()

cookie_scheme = APIKeyCookie(
    name=COOKIE,
    scheme_name="WebSession",
    description=(
        "The browser client's session cookie, set by `POST /web/session`. Requests that "
        f"change something also need the `{CSRF_HEADER}` header."
    ),
    auto_error=False,
)
"""Only describes the scheme in OpenAPI: :func:`web_key` does the checking."""


def _state(request: Request) -> ServerState:
    state = state_of(request)
    return state


def _responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    out = error_responses(*codes, **descriptions)
    if 401 in out:
        del out[401]["headers"]  # no WWW-Authenticate: the cookie is no HTTP auth scheme
    return out


def require_same_origin(request: Request) -> None:
    """FastAPI dependency: HTTP 403 for a request that may come from another site."""
    if not SESSION.has_csrf_header(request):
        raise HTTPException(ForbiddenError.http_status, f"the {CSRF_HEADER} header is required")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise HTTPException(ForbiddenError.http_status, "cross-site request refused")


async def web_key(
    request: Request, cookie: Annotated[str | None, Security(cookie_scheme)]
) -> ApiKey:
    """FastAPI dependency: the live API key behind the session cookie, or HTTP 401."""
    state = _state(request)
    payload = SESSION.payload(state.signers.web_session, cookie)
    if payload is None:
        raise HTTPException(AuthError.http_status, "not logged in, or the session expired")
    key_id, tenant_id = payload.get("key"), payload.get("tenant")
    if isinstance(key_id, str) and isinstance(tenant_id, str):
        for key in await state.store.list_api_keys(tenant_id):
            if key.id == key_id and key.revoked_at is None:
                request.state.web_expires = payload["exp"]
                return key
    raise HTTPException(AuthError.http_status, "the API key of this session was revoked")


WebKey = Annotated[ApiKey, Depends(web_key)]
SameOrigin = Depends(require_same_origin)


# --- the page -------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def index(request: Request) -> FileResponse:
    return file_page(request, STATIC_DIR / "index.html", CSP)


# --- session --------------------------------------------------------------------------------


class WebLogin(BaseModel):
    api_key: str = Field(min_length=1, max_length=512)


class WebSessionData(ResponseModel):
    key_name: str
    """The API key's name (never the key)."""
    tenant: str
    expires_at: Timestamp
    """When the login ends."""


class WebSessionResponse(ResponseModel):
    status: bool = True
    data: WebSessionData


def _session_data(state: ServerState, key: ApiKey, expires: int) -> WebSessionResponse:
    tenants = {tenant_id: name for name, tenant_id in state.tenant_ids.items()}
    return WebSessionResponse(
        data=WebSessionData(
            key_name=key.name,
            tenant=tenants.get(key.tenant_id, key.tenant_id),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )
    )


@router.post(
    "/web/session",
    response_model=WebSessionResponse,
    dependencies=[SameOrigin],
    responses=_responses(
        400, 401, 403, 413, e401="Invalid or revoked API key.", e403="Cross-site request."
    ),
)
async def login(body: WebLogin, request: Request, response: Response) -> WebSessionResponse:
    """Log the browser client in with an API key: sets the session cookie, which holds
    the key's id (signed), never the key."""
    state = _state(request)
    try:
        key = await api_key_from(state.store, body.api_key)
    except AuthError as exc:
        raise HTTPException(exc.http_status, str(exc)) from None
    payload = {"key": key.id, "tenant": key.tenant_id}
    ttl = state.settings.web_session_ttl_s
    expires = SESSION.issue(response, request, state.signers.web_session, payload, ttl)
    return _session_data(state, key, expires)


@router.get(
    "/web/session",
    response_model=WebSessionResponse,
    responses=_responses(401, e401="Not logged in, session expired, or key revoked."),
)
async def current_session(request: Request, key: WebKey) -> WebSessionResponse:
    """Who the browser client is logged in as."""
    return _session_data(_state(request), key, request.state.web_expires)


@router.delete(
    "/web/session",
    status_code=204,
    response_class=Response,
    dependencies=[SameOrigin],
    responses={204: {"description": "Logged out."}, **_responses(403, e403="Cross-site request.")},
)
async def logout(request: Request) -> Response:
    """Log out: clears the session cookie."""
    response = Response(status_code=204)
    SESSION.clear(response, request)
    return response


# --- agents and calls -----------------------------------------------------------------------


class WebAgent(ResponseModel):
    id: str
    name: str
    description: str


class WebAgentList(ResponseModel):
    status: bool = True
    data: list[WebAgent]


@router.get(
    "/web/agents",
    response_model=WebAgentList,
    responses=_responses(401, e401="Not logged in, session expired, or key revoked."),
)
async def list_agents(request: Request, key: WebKey) -> WebAgentList:
    """The agents this session's API key may call, by id."""
    state = _state(request)
    agents = [
        WebAgent(id=spec.id, name=spec.name or spec.id, description=spec.description)
        for agent_id, (spec, _path) in sorted(state.specs.items())
        if state.agent_tenant_id(spec) == key.tenant_id and key.allows_agent(agent_id)
    ]
    return WebAgentList(data=agents)


class WebCallRequest(BaseModel):
    agent_id: str = Field(min_length=1, max_length=200)


@router.post(
    "/web/call",
    status_code=201,
    response_model=RegisterCallResponse,
    dependencies=[SameOrigin],
    responses=_responses(
        400,
        401,
        403,
        404,
        413,
        503,
        e401="Not logged in, session expired, or key revoked.",
        e403="Cross-site request.",
        e404="Unknown agent, or one this session's key may not use.",
        e503="Still loading models, or draining: retry shortly.",
    ),
)
async def create_call(body: WebCallRequest, request: Request, key: WebKey) -> RegisterCallResponse:
    """A single-use ``wct_`` call token for the agent, as register-call gives: open
    ``/atoms/v1/agent/connect?token=…`` with it within ``expires_in`` seconds."""
    state = _state(request)
    if state.draining or not state.ready:
        raise HTTPException(
            BusyError.http_status, "the server is loading models or draining; retry shortly"
        )
    try:
        data = await issue_call_token(state, key, body.agent_id)
    except ForbiddenError as exc:
        # Unknown agents and other tenants' look the same here: not found.
        raise HTTPException(NotFoundError.http_status, str(exc)) from None
    except SetupError as exc:
        raise HTTPException(exc.http_status, str(exc)) from None
    return RegisterCallResponse(data=data)


def install(app: FastAPI) -> None:
    """Serve the browser client on ``app``."""
    app.include_router(router, tags=["web"])
    app.mount("/web/static", StaticFiles(directory=STATIC_DIR), name="web-static")
