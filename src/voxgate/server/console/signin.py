"""The console's page and sign-in: ``GET /console``, ``POST /console/login``,
``GET /console/session``, ``POST /console/logout`` (none in the OpenAPI document: they
serve the console's own page).

- ``GET /console``: the console once signed in, else the sign-in form.
- ``POST /console/login``: ``username`` and ``password`` as a form (from the sign-in page:
  303 to ``/console``, or the form again with an error and status 401) or as JSON with
  the ``X-Voxgate-Console`` header (200 with the user, or a 401 error body).
- ``GET /console/session``: the signed-in user as JSON, or 401.
- ``POST /console/logout``: clears the cookie (``X-Voxgate-Console`` header required).

Sign-in sets a session cookie (:mod:`..cookies`, path ``/console``) holding the user's id
and tenant. Every request and socket re-reads the user (:func:`console_user`), so
deleting or disabling it ends its sessions. A failed sign-in waits
:data:`FAILED_LOGIN_DELAY_S`, and a client address with too many failures in a window
(:class:`~voxgate.server.throttle.LoginThrottle`) is refused with 429 until the window
has passed.

CSRF: the sign-in form carries a token signed for its own purpose and tied to a nonce
cookie set with the form (a cross-site page can read neither); JSON calls need the
``X-Voxgate-Console`` header, which a cross-site form or a CORS-less fetch cannot send;
and a request or socket whose ``Sec-Fetch-Site`` or ``Origin`` names another site is
refused with 403.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import secrets
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Cookie, HTTPException, Request, Response, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse

from voxgate.dialects.console import UserView, user_json
from voxgate.errors import AuthError, ForbiddenError, InvalidEvent
from voxgate.server.cookies import CookieSession
from voxgate.server.pages import cross_site, file_page, html_page, root_path
from voxgate.server.state import state_of
from voxgate.store import ConsoleUser
from voxgate.store.messaging import MAX_PASSWORD_CHARS
from voxgate.web import STATIC_DIR

log = logging.getLogger(__name__)

SESSION = CookieSession(name="voxgate_console", path="/console", csrf_header="X-Voxgate-Console")
FORM_COOKIE = "voxgate_console_form"
FORM_TTL_S = 3600
CONSOLE_DIR = STATIC_DIR / "console"

FAILED_LOGIN_DELAY_S = 0.5
"""Every failed sign-in answers this much later (the password check itself takes as long
for an unknown user as for a wrong password)."""
TOO_MANY_ATTEMPTS = 429
UNSUPPORTED_MEDIA_TYPE = 415

_NONCE = re.compile(r"[A-Za-z0-9_-]{24}")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws://{host} wss://{host}; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)

router = APIRouter()


async def console_user(conn: Request | WebSocket, cookie: str | None) -> ConsoleUser | None:
    """The enabled console user behind a session cookie value, or None."""
    state = state_of(conn)
    payload = SESSION.payload(state.signers.console, cookie)
    if payload is None:
        return None
    user_id, tenant_id = payload.get("user"), payload.get("tenant")
    if not isinstance(user_id, str) or not isinstance(tenant_id, str):
        return None
    user = await state.store.get_console_user(user_id)
    if user is None or user.disabled_at is not None or user.tenant_id != tenant_id:
        return None
    return user


def user_view(user: ConsoleUser) -> UserView:
    return UserView(
        id=user.id, username=user.username, display_name=user.display_name, queues=user.queues
    )


def api_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The shared error body with ``status`` (for handshakes too)."""
    return JSONResponse(
        {"status": False, "error": {"code": str(status), "message": message}},
        status_code=status,
        headers=headers,
    )


# --- the pages ------------------------------------------------------------------------------

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Sign in · voxgate console</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{root}/web/static/style.css">
  <link rel="stylesheet" href="{root}/console/static/console.css">
</head>
<body>
  <header class="topbar">
    <div class="brand"><span class="logo" aria-hidden="true"></span>voxgate
      <span class="product">console</span></div>
  </header>
  <main>
    <section class="card login">
      <h1>Sign in</h1>
      <p class="hint">The live-agent console: take over chats that the virtual agent hands
        to a person. Accounts come from <code>voxgate console-users create</code>.</p>
      <form id="login-form" method="post" action="{root}/console/login" autocomplete="on">
        <input type="hidden" name="csrf" value="{csrf}">
        <label for="username">Username</label>
        <input id="username" name="username" type="text" required autocomplete="username"
               autocapitalize="none" spellcheck="false" maxlength="100" value="{username}"
               {focus_user}>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" required
               autocomplete="current-password" maxlength="1024" {focus_password}>
        <button type="submit" class="primary">Sign in</button>
        <p class="error" id="login-error" role="alert">{error}</p>
      </form>
    </section>
  </main>
</body>
</html>
"""


def _login_page(
    request: Request, *, error: str = "", username: str = "", status: int = 200
) -> Response:
    # Keep the nonce of an earlier form (another tab's form stays valid).
    nonce = request.cookies.get(FORM_COOKIE, "")
    if not _NONCE.fullmatch(nonce):
        nonce = secrets.token_urlsafe(18)
    token = state_of(request).signers.console_form.sign({"n": nonce}, FORM_TTL_S)
    body = LOGIN_PAGE.format(
        root=html.escape(root_path(request)),
        csrf=html.escape(token),
        username=html.escape(username),
        error=html.escape(error),
        focus_user="" if username else "autofocus",
        focus_password="autofocus" if username else "",
    )
    response = html_page(request, body, CSP, status)
    response.set_cookie(FORM_COOKIE, nonce, max_age=FORM_TTL_S, **SESSION.options(request))
    return response


@router.get("/console", include_in_schema=False)
async def console_page(
    request: Request, cookie: Annotated[str | None, Cookie(alias=SESSION.name)] = None
) -> Response:
    if await console_user(request, cookie) is None:
        return _login_page(request)
    return file_page(request, CONSOLE_DIR / "index.html", CSP)


# --- sign-in --------------------------------------------------------------------------------


def _form_token_ok(request: Request, token: str) -> bool:
    payload = state_of(request).signers.console_form.unsign(token) if token else None
    nonce = request.cookies.get(FORM_COOKIE)
    return payload is not None and bool(nonce) and payload.get("n") == nonce


@router.post("/console/login", include_in_schema=False)
async def login(request: Request) -> Response:
    state = state_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    api = content_type != "application/x-www-form-urlencoded"
    if cross_site(request):
        return api_error(ForbiddenError.http_status, "cross-site request refused")
    if api:
        if content_type != "application/json":
            return api_error(UNSUPPORTED_MEDIA_TYPE, "send the credentials as JSON or as a form")
        if not SESSION.has_csrf_header(request):
            return api_error(
                ForbiddenError.http_status, f"the {SESSION.csrf_header} header is required"
            )
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            return api_error(InvalidEvent.http_status, "the body is not JSON")
        if not isinstance(body, dict):
            return api_error(
                InvalidEvent.http_status, "the body must be an object with username and password"
            )
        username, password = body.get("username"), body.get("password")
    else:
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
        username = (fields.get("username") or [""])[0]
        password = (fields.get("password") or [""])[0]
        if not _form_token_ok(request, (fields.get("csrf") or [""])[0]):
            page = _login_page(request, error="The form expired; please sign in again.")
            page.status_code = ForbiddenError.http_status
            return page
    if not isinstance(username, str) or not isinstance(password, str):
        return api_error(InvalidEvent.http_status, "username and password must be strings")
    if not username or len(username) > 100 or not password or len(password) > MAX_PASSWORD_CHARS:
        user = None
    else:
        throttle = state.console_throttle
        client = request.client.host if request.client else "?"
        wait = throttle.retry_after(client)
        if wait:
            message = f"too many failed sign-ins; try again in {wait} s"
            if api:
                return api_error(TOO_MANY_ATTEMPTS, message, {"Retry-After": str(wait)})
            page = _login_page(request, error=message.capitalize() + ".", username=username)
            page.status_code = TOO_MANY_ATTEMPTS
            page.headers["Retry-After"] = str(wait)
            return page
        user = await state.store.authenticate_console_user(username, password)
        if user is None:
            throttle.failed(client)
    if user is None:
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)
        message = "Wrong username or password."
        if api:
            return api_error(AuthError.http_status, message)
        return _login_page(
            request, error=message, username=username[:100], status=AuthError.http_status
        )
    ttl = state.settings.web_session_ttl_s
    response: Response
    if api:
        response = JSONResponse(
            {"status": True, "data": {**user_json(user_view(user)), "expires_in": ttl}},
            headers={"Cache-Control": "no-store"},
        )
    else:
        response = RedirectResponse(root_path(request) + SESSION.path, status_code=303)
        response.delete_cookie(FORM_COOKIE, **SESSION.options(request))
    payload = {"user": user.id, "tenant": user.tenant_id}
    SESSION.issue(response, request, state.signers.console, payload, ttl)
    log.info("console user %s signed in", user.username)
    return response


@router.get("/console/session", include_in_schema=False)
async def current_user(
    request: Request, cookie: Annotated[str | None, Cookie(alias=SESSION.name)] = None
) -> JSONResponse:
    user = await console_user(request, cookie)
    if user is None:
        return api_error(AuthError.http_status, "not signed in, or the session expired")
    return JSONResponse({"status": True, "data": user_json(user_view(user))})


@router.post("/console/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    if not SESSION.has_csrf_header(request) or cross_site(request):
        raise HTTPException(
            ForbiddenError.http_status,
            f"the {SESSION.csrf_header} header is required (same origin)",
        )
    response = Response(status_code=204)
    SESSION.clear(response, request)
    return response
