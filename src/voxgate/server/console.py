"""The live-agent console at ``/console``: humans sign in, watch their handoff queues, accept
a waiting chat, read its history, type, send messages with suggestions, and end it.

Pages and routes (none in the OpenAPI document: they serve the console's own page):

- ``GET /console``: the console once signed in, else the sign-in form.
- ``POST /console/login``: ``username`` and ``password`` as a form (from the sign-in page:
  303 to ``/console``, or the form again with an error and status 401) or as JSON with
  the ``X-Voxgate-Console`` header (200 with the user, or a 401 error body).
- ``GET /console/session``: the signed-in user as JSON, or 401.
- ``POST /console/logout``: clears the cookie (``X-Voxgate-Console`` header required).
- ``GET /console/ws``: the console's WebSocket (protocol below).

Sign-in sets a cookie (HttpOnly, SameSite=Strict, path ``/console``) holding the user's
id and tenant, signed with the server secret for the purpose ``console``
(:mod:`.signing`). Every request and socket re-reads the user, so deleting or disabling
it ends its sessions. A failed sign-in waits :data:`FAILED_LOGIN_DELAY_S`, and a client
address with :data:`MAX_FAILURES` failures in :data:`FAILURE_WINDOW_S` is refused with
429 until the window has passed.

CSRF: the sign-in form carries a token signed for the purpose ``console-form`` and tied to
a nonce cookie set with the form (a cross-site page can read neither); JSON calls need the
``X-Voxgate-Console`` header, which a cross-site form or a CORS-less fetch cannot send;
and a request or socket whose ``Sec-Fetch-Site`` or ``Origin`` names another site is
refused with 403.

The socket speaks JSON objects with a ``type``. A request may carry ``ref`` (any string),
echoed in its answer.

Console → server:

- ``{type: "accept", session_id}``: take a waiting chat → ``chat`` or ``error``.
- ``{type: "message", session_id, text, suggestions?: [str]}`` → ``ok`` or ``error``.
- ``{type: "typing", session_id, state: "started" | "stopped"}`` → nothing, or ``error``.
- ``{type: "end", session_id}``: ``LIVE_AGENT_LEFT`` then ``SESSION_END`` → ``ok`` or
  ``error``.
- ``{type: "calls"}``: the list of handed-over calls again → ``calls``.
- ``{type: "transcript", conversation_id}``: one of those calls → ``transcript`` or
  ``error``.
- ``{type: "ping"}`` → ``pong``.

Server → console:

- ``{type: "hello", user: {id, username, display_name, queues}}`` first.
- ``{type: "queues", queues: [{name, online, waiting: [{session_id, position, waited_s,
  platform, reason}]}]}`` on connect and whenever a queue or who is online changes.
- ``{type: "chat", session_id, platform, agent_id, queue, started_at, ended, transcript:
  [{role, text, at}], events: [messaging events]}``: a chat this console follows, with
  its history (sent on accept, and on connect for the user's chats still live). Events
  are as the user's ``/ws`` sends them (``EVENT_TYPE_…``, with sequence).
- ``{type: "event", session_id, event}``: what happens in a followed chat from then on,
  once each, in order, including the user's transient ``EVENT_TYPE_USER_TYPING``. Ends
  with ``EVENT_TYPE_SESSION_END``.
- ``{type: "calls", calls: [{conversation_id, channel, agent_id, queue, reason,
  started_at, ended_at, turn_count}]}`` on connect: calls of the last 24 hours (voice,
  or the Atoms API's text chats) that the agent handed over to one of the user's queues.
  Those callers do not wait in a queue here; their transcripts are for whoever takes the
  call on the phone side.
- ``{type: "transcript", conversation_id, channel, agent_id, queue, reason, started_at,
  ended_at, turns: [{role, text, at}]}``.
- ``{type: "ok", request, session_id}``, ``{type: "error", code, message, request?,
  session_id?}``, ``{type: "pong"}``.

Error codes: ``bad_request``, ``not_waiting`` (someone else took it, it timed out, or it
is not in your queues), ``not_your_chat`` (not a live chat of yours), ``not_found`` (no
such handed-over call in your queues), ``too_large``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import secrets
import time
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Cookie, FastAPI, HTTPException, Request, Response, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from voxgate.dialects import messaging as wire
from voxgate.messaging.handoff import console_topic
from voxgate.messaging.hub import Subscription, live_topic, session_topic
from voxgate.messaging.service import MessagingService, from_log
from voxgate.server.messaging_ws import service_of
from voxgate.server.pages import cross_site, file_page, html_page, root_path
from voxgate.server.signing import Signer, server_secret
from voxgate.server.state import ServerState, state_of
from voxgate.store import ConsoleUser, ConversationRecord, MessagingSession, Store
from voxgate.store.messaging import MAX_PASSWORD_CHARS
from voxgate.web import STATIC_DIR

log = logging.getLogger(__name__)

COOKIE = "voxgate_console"
FORM_COOKIE = "voxgate_console_form"
COOKIE_PATH = "/console"
CSRF_HEADER = "X-Voxgate-Console"
SIGN_PURPOSE = "console"
FORM_PURPOSE = "console-form"
FORM_TTL_S = 3600
CONSOLE_DIR = STATIC_DIR / "console"

FAILED_LOGIN_DELAY_S = 0.5
"""Every failed sign-in answers this much later (the password check itself takes as long
for an unknown user as for a wrong password)."""
MAX_FAILURES = 20
FAILURE_WINDOW_S = 600.0

MAX_FRAME_BYTES = 64 * 1024
MAX_SUGGESTIONS = 8
MAX_SUGGESTION_CHARS = 200
OUTBOX_LIMIT = 2000
CALLS_WINDOW = timedelta(hours=24)
MAX_CALLS = 20
CLOSE_TRY_AGAIN = 1013

_NONCE = re.compile(r"[A-Za-z0-9_-]{24}")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws://{host} wss://{host}; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)

router = APIRouter()


# --- state shared by the app's requests -----------------------------------------------------


def _state(conn: Request | WebSocket) -> ServerState:
    state = state_of(conn)
    return state


def _signer(conn: Request | WebSocket, purpose: str = SIGN_PURPOSE) -> Signer:
    signers: dict[str, Signer] | None = getattr(conn.app.state, "console_signers", None)
    if signers is None:
        signers = conn.app.state.console_signers = {}
    signer = signers.get(purpose)
    if signer is None:
        signer = signers[purpose] = Signer(server_secret(_state(conn).settings), purpose)
    return signer


class LoginThrottle:
    """Failed sign-ins per client address in a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str, now: float | None = None) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        times = self._recent(key, now)
        if len(times) < self.limit:
            return 0
        return max(1, int(times[0] + self.window_s - now) + 1)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._recent(key, now)
        self._failures[key].append(now)


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle | None = getattr(request.app.state, "console_throttle", None)
    if throttle is None:
        throttle = request.app.state.console_throttle = LoginThrottle()
    return throttle


def _chats(conn: WebSocket) -> defaultdict[str, dict[str, None]]:
    """The chats each user accepted (by user id, in order), so that a console opened again
    (a reload, a second tab) follows them too."""
    chats: defaultdict[str, dict[str, None]] | None = getattr(conn.app.state, "console_chats", None)
    if chats is None:
        chats = conn.app.state.console_chats = defaultdict(dict)
    return chats


async def console_user(conn: Request | WebSocket, cookie: str | None) -> ConsoleUser | None:
    """The enabled console user behind a session cookie, or None."""
    payload = _signer(conn).unsign(cookie) if cookie else None
    if payload is None:
        return None
    user_id, tenant_id = payload.get("user"), payload.get("tenant")
    if not isinstance(user_id, str) or not isinstance(tenant_id, str):
        return None
    user = await _state(conn).store.get_console_user(user_id)
    if user is None or user.disabled_at is not None or user.tenant_id != tenant_id:
        return None
    return user


def _user_json(user: ConsoleUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "queues": list(user.queues),
    }


def _cookie_kwargs(request: Request) -> dict[str, Any]:
    return {
        "path": root_path(request) + COOKIE_PATH,
        "secure": request.url.scheme == "https",
        "httponly": True,
        "samesite": "strict",
    }


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
    token = _signer(request, FORM_PURPOSE).sign({"n": nonce}, FORM_TTL_S)
    body = LOGIN_PAGE.format(
        root=html.escape(root_path(request)),
        csrf=html.escape(token),
        username=html.escape(username),
        error=html.escape(error),
        focus_user="" if username else "autofocus",
        focus_password="autofocus" if username else "",
    )
    response = html_page(request, body, CSP, status)
    response.set_cookie(FORM_COOKIE, nonce, max_age=FORM_TTL_S, **_cookie_kwargs(request))
    return response


@router.get("/console", include_in_schema=False)
async def console_page(
    request: Request, cookie: Annotated[str | None, Cookie(alias=COOKIE)] = None
) -> Response:
    if await console_user(request, cookie) is None:
        return _login_page(request)
    return file_page(request, CONSOLE_DIR / "index.html", CSP)


# --- sign-in --------------------------------------------------------------------------------


def _api_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"status": False, "error": {"code": str(status), "message": message}},
        status_code=status,
        headers=headers,
    )


def _form_token_ok(request: Request, token: str) -> bool:
    payload = _signer(request, FORM_PURPOSE).unsign(token) if token else None
    nonce = request.cookies.get(FORM_COOKIE)
    return payload is not None and bool(nonce) and payload.get("n") == nonce


@router.post("/console/login", include_in_schema=False)
async def login(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    api = content_type != "application/x-www-form-urlencoded"
    if cross_site(request):
        return _api_error(403, "cross-site request refused")
    if api:
        if content_type != "application/json":
            return _api_error(415, "send the credentials as JSON or as a form")
        if not request.headers.get(CSRF_HEADER):
            return _api_error(403, f"the {CSRF_HEADER} header is required")
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            return _api_error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _api_error(400, "the body must be an object with username and password")
        username, password = body.get("username"), body.get("password")
    else:
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
        username = (fields.get("username") or [""])[0]
        password = (fields.get("password") or [""])[0]
        if not _form_token_ok(request, (fields.get("csrf") or [""])[0]):
            page = _login_page(request, error="The form expired; please sign in again.")
            page.status_code = 403
            return page
    if not isinstance(username, str) or not isinstance(password, str):
        return _api_error(400, "username and password must be strings")
    if not username or len(username) > 100 or not password or len(password) > MAX_PASSWORD_CHARS:
        user = None
    else:
        throttle = _throttle(request)
        client = request.client.host if request.client else "?"
        wait = throttle.retry_after(client)
        if wait:
            message = f"too many failed sign-ins; try again in {wait} s"
            if api:
                return _api_error(429, message, {"Retry-After": str(wait)})
            page = _login_page(request, error=message.capitalize() + ".", username=username)
            page.status_code = 429
            page.headers["Retry-After"] = str(wait)
            return page
        user = await _state(request).store.authenticate_console_user(username, password)
        if user is None:
            throttle.failed(client)
    if user is None:
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)
        message = "Wrong username or password."
        if api:
            return _api_error(401, message)
        return _login_page(request, error=message, username=username[:100], status=401)
    ttl = _state(request).settings.web_session_ttl_s
    now = time.time()
    value = _signer(request).sign({"user": user.id, "tenant": user.tenant_id}, ttl, now=now)
    response: Response
    if api:
        response = JSONResponse(
            {"status": True, "data": {**_user_json(user), "expires_in": ttl}},
            headers={"Cache-Control": "no-store"},
        )
    else:
        response = RedirectResponse(root_path(request) + COOKIE_PATH, status_code=303)
        response.delete_cookie(FORM_COOKIE, **_cookie_kwargs(request))
    response.set_cookie(COOKIE, value, max_age=ttl, **_cookie_kwargs(request))
    log.info("console user %s signed in", user.username)
    return response


@router.get("/console/session", include_in_schema=False)
async def current_user(
    request: Request, cookie: Annotated[str | None, Cookie(alias=COOKIE)] = None
) -> JSONResponse:
    user = await console_user(request, cookie)
    if user is None:
        return _api_error(401, "not signed in, or the session expired")
    return JSONResponse({"status": True, "data": _user_json(user)})


@router.post("/console/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    if not request.headers.get(CSRF_HEADER) or cross_site(request):
        raise HTTPException(403, f"the {CSRF_HEADER} header is required (same origin)")
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, **_cookie_kwargs(request))
    return response


# --- the socket -----------------------------------------------------------------------------


@router.websocket("/console/ws")
async def console_socket(ws: WebSocket) -> None:
    state = _state(ws)
    if cross_site(ws):
        await ws.send_denial_response(_api_error(403, "cross-site socket refused"))
        return
    user = await console_user(ws, ws.cookies.get(COOKIE))
    if user is None:
        await ws.send_denial_response(_api_error(401, "not signed in to the console"))
        return
    if state.draining or not state.ready:
        await ws.send_denial_response(_api_error(503, "server is draining or not ready; retry"))
        return
    service = service_of(state)
    with service.hub.subscribe(console_topic(user.tenant_id)) as changes:
        await ws.accept()
        console = Console(ws, state, service, user, _chats(ws)[user.id])
        service.queues.sign_in(user)
        try:
            await console.run(changes)
        finally:
            service.queues.sign_out(user)
            log.info("console of %s closed", user.username)


class Console:
    """One open console socket."""

    def __init__(
        self,
        ws: WebSocket,
        state: ServerState,
        service: MessagingService,
        user: ConsoleUser,
        accepted: dict[str, None],
    ) -> None:
        self.ws = ws
        self.state = state
        self.service = service
        self.user = user
        self.accepted = accepted
        """The user's chats (shared by their consoles)."""
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(OUTBOX_LIMIT)
        self.behind = asyncio.Event()
        self.following: dict[str, asyncio.Task[None]] = {}

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.behind.set()

    async def run(self, changes: Subscription) -> None:
        self.send({"type": "hello", "user": _user_json(self.user)})
        self.send(self._queues())
        self.send({"type": "calls", "calls": await handed_over_calls(self.state.store, self.user)})
        for session_id in list(self.accepted):
            session = await self.state.store.get_messaging_session(session_id)
            if self._is_mine(session):
                self._follow(session_id)
            else:
                self.accepted.pop(session_id, None)
        tasks = {
            asyncio.create_task(self._write()),
            asyncio.create_task(self._read()),
            asyncio.create_task(self._watch_queues(changes)),
            asyncio.create_task(self.behind.wait()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is not None and not isinstance(failure, WebSocketDisconnect):
                    log.error("console socket failed", exc_info=failure)
            if self.behind.is_set():
                with contextlib.suppress(Exception):
                    await self.ws.close(CLOSE_TRY_AGAIN, "too far behind; reconnect")
        finally:
            everything = tasks | set(self.following.values())
            for task in everything:
                task.cancel()
            await asyncio.gather(*everything, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.ws.close()

    def _is_mine(self, session: MessagingSession | None) -> bool:
        return (
            session is not None
            and session.tenant_id == self.user.tenant_id
            and session.state == "live"
            and session.live_agent_id == self.user.id
            and session.ended_at is None
        )

    # --- out --------------------------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            message = await self.outbox.get()
            await self.ws.send_text(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    def _queues(self) -> dict[str, Any]:
        return {
            "type": "queues",
            "queues": [
                {"name": q.name, "online": q.online, "waiting": q.waiting}
                for q in self.service.queues.view(self.user)
            ],
        }

    async def _watch_queues(self, changes: Subscription) -> None:
        while True:
            await changes.queue.get()
            while not changes.queue.empty():  # one snapshot for a burst of changes
                changes.queue.get_nowait()
            changes.overflowed.clear()
            self.send(self._queues())

    def _follow(self, session_id: str) -> None:
        if session_id not in self.following:
            task = asyncio.create_task(self._chat(session_id))
            self.following[session_id] = task
            task.add_done_callback(lambda _t: self.following.pop(session_id, None))

    async def _chat(self, session_id: str) -> None:
        """Send the chat's history, then its events as they happen, until it ends. The
        subscriptions start before the history is read, so nothing falls in between."""
        hub = self.service.hub
        store = self.state.store
        with (
            hub.subscribe(session_topic(session_id)) as events,
            hub.subscribe(live_topic(session_id)) as typing,
        ):
            session = await store.get_messaging_session(session_id)
            if session is None or session.tenant_id != self.user.tenant_id:
                return
            logged = await store.list_messaging_events(session_id)
            record = await store.get_conversation(session.conversation_id, session.tenant_id)
            turns = record.turns if record is not None else ()
            self.send(
                {
                    "type": "chat",
                    "session_id": session_id,
                    "platform": session.platform,
                    "agent_id": session.agent_id,
                    "queue": session.queue_name,
                    "started_at": session.created_at.isoformat().replace("+00:00", "Z"),
                    "ended": session.ended_at is not None,
                    "transcript": [
                        {
                            "role": t.role,
                            "text": t.text,
                            "at": t.started_at.isoformat().replace("+00:00", "Z"),
                        }
                        for t in turns
                    ],
                    "events": [from_log(e).to_wire() for e in logged],
                }
            )
            if session.ended_at is not None:
                self.accepted.pop(session_id, None)
                return
            last = max((e.sequence for e in logged), default=0)
            forward = [
                asyncio.create_task(self._forward(session_id, events, last)),
                asyncio.create_task(self._forward(session_id, typing, None)),
            ]
            try:
                await asyncio.wait(forward, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in forward:
                    task.cancel()
                await asyncio.gather(*forward, return_exceptions=True)

    async def _forward(self, session_id: str, sub: Subscription, last: int | None) -> None:
        while True:
            event = await sub.queue.get()
            if sub.overflowed.is_set():
                self.behind.set()  # events were dropped: the console reconnects and reloads
                return
            if event.sequence is not None and last is not None:
                if event.sequence <= last:
                    continue  # already in the history
                last = event.sequence
            self.send({"type": "event", "session_id": session_id, "event": event.to_wire()})
            if event.type == "SESSION_END":
                self.accepted.pop(session_id, None)
                return

    # --- in ---------------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame: str | bytes = message.get("text") or message.get("bytes") or b""
            size = len(frame.encode() if isinstance(frame, str) else frame)
            if size > MAX_FRAME_BYTES:
                self._error("too_large", f"a message of {size} bytes is over {MAX_FRAME_BYTES}")
                continue
            try:
                request = json.loads(frame)
            except (ValueError, RecursionError):
                self._error("bad_request", "malformed JSON")
                continue
            if not isinstance(request, dict):
                self._error("bad_request", "a request must be a JSON object")
                continue
            try:
                await self._handle(request)
            except Exception:
                log.exception("console of %s: could not handle a request", self.user.username)
                self._error("server_error", "the server could not do that; try again", request)

    def _error(self, code: str, message: str, request: dict[str, Any] | None = None) -> None:
        out: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if request is not None:
            kind, session_id, ref = (
                request.get("type"),
                request.get("session_id"),
                request.get("ref"),
            )
            if isinstance(kind, str):
                out["request"] = kind[:40]
            if isinstance(session_id, str):
                out["session_id"] = session_id[:100]
            if isinstance(ref, str):
                out["ref"] = ref[:100]
        self.send(out)

    def _ok(self, request: dict[str, Any], session_id: str) -> None:
        out: dict[str, Any] = {"type": "ok", "request": request["type"], "session_id": session_id}
        if isinstance(request.get("ref"), str):
            out["ref"] = request["ref"][:100]
        self.send(out)

    async def _handle(self, request: dict[str, Any]) -> None:
        kind = request.get("type")
        if kind == "ping":
            self.send({"type": "pong"})
            return
        if kind == "calls":
            calls = await handed_over_calls(self.state.store, self.user)
            self.send({"type": "calls", "calls": calls})
            return
        if kind == "transcript":
            conversation_id = request.get("conversation_id")
            found = None
            if isinstance(conversation_id, str) and 0 < len(conversation_id) <= 100:
                found = await call_transcript(self.state.store, self.user, conversation_id)
            if found is None:
                self._error("not_found", "no such handed-over call in your queues", request)
            else:
                self.send(found)
            return
        if kind not in ("accept", "message", "typing", "end"):
            shown = kind[:40] if isinstance(kind, str) else kind
            self._error(
                "bad_request",
                f"unknown request {shown!r}: "
                "accept, message, typing, end, calls, transcript or ping",
                request,
            )
            return
        session_id = request.get("session_id")
        if not isinstance(session_id, str) or not 0 < len(session_id) <= 100:
            self._error("bad_request", "session_id must be a string", request)
            return
        service, user = self.service, self.user
        try:
            match kind:
                case "accept":
                    if await service.queues.accept(user, session_id) is None:
                        self._error(
                            "not_waiting",
                            "that chat is not waiting in your queues any more "
                            "(someone else took it, or it timed out)",
                            request,
                        )
                        return
                    log.info("console user %s took %s", user.username, session_id)
                    self.accepted[session_id] = None
                    self._follow(session_id)
                case "message":
                    text, suggestions = request.get("text"), request.get("suggestions") or []
                    problem = _message_problem(text, suggestions)
                    if problem:
                        self._error("bad_request", problem, request)
                        return
                    assert isinstance(text, str) and isinstance(suggestions, list)
                    cleaned = [s.strip() for s in suggestions if s.strip()]
                    await service.live_message(user, session_id, text, cleaned)
                    self._ok(request, session_id)
                case "typing":
                    typing = request.get("state")
                    if typing not in (
                        "started",
                        "stopped",
                        wire.TYPING_STARTED,
                        wire.TYPING_STOPPED,
                    ):
                        self._error("bad_request", "state must be 'started' or 'stopped'", request)
                        return
                    await service.live_typing(
                        user, session_id, typing in ("started", wire.TYPING_STARTED)
                    )
                case "end":
                    await service.live_end(user, session_id)
                    self._ok(request, session_id)
        except LookupError:
            self._error("not_your_chat", "that is not a live chat of yours", request)
        except ValueError as exc:
            self._error("bad_request", str(exc), request)


def _message_problem(text: Any, suggestions: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "text must be a non-empty string"
    if len(text) > wire.MAX_TEXT_CHARS:
        return f"text is over {wire.MAX_TEXT_CHARS} characters"
    if not isinstance(suggestions, list) or not all(isinstance(s, str) for s in suggestions):
        return "suggestions must be a list of strings"
    if len(suggestions) > MAX_SUGGESTIONS:
        return f"at most {MAX_SUGGESTIONS} suggestions"
    if any(len(s) > MAX_SUGGESTION_CHARS for s in suggestions):
        return f"a suggestion has at most {MAX_SUGGESTION_CHARS} characters"
    return None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def handoff_of(record: ConversationRecord) -> tuple[str, str] | None:
    """``(queue, reason)`` of a call the agent handed over, from its last
    ``transfer_to_human`` tool call; None when it was not handed over."""
    if record.end_reason != "handoff" or record.channel == "messaging":
        return None
    queue, reason = "default", ""
    for call in record.tool_calls:
        if call.name == "transfer_to_human":
            result = call.result or {}
            queue = str(result.get("queue") or call.arguments.get("queue") or "default")
            reason = str(call.arguments.get("reason") or "")
    return queue, reason


async def handed_over_calls(store: Store, user: ConsoleUser) -> list[dict[str, Any]]:
    """The user's tenant's calls of the last :data:`CALLS_WINDOW` that were handed over to
    one of the user's queues, newest first, at most :data:`MAX_CALLS`."""
    since = datetime.now(UTC) - CALLS_WINDOW
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < MAX_CALLS:
        page, cursor = await store.list_conversations(
            user.tenant_id, started_after=since, limit=100, cursor=cursor
        )
        for summary in page:
            if summary.end_reason != "handoff" or summary.channel == "messaging":
                continue
            record = await store.get_conversation(summary.id, user.tenant_id)
            handoff = handoff_of(record) if record is not None else None
            if handoff is None or handoff[0] not in user.queues:
                continue
            found.append(
                {
                    "conversation_id": summary.id,
                    "channel": summary.channel,
                    "agent_id": summary.agent_id,
                    "queue": handoff[0],
                    "reason": handoff[1],
                    "started_at": _iso(summary.started_at),
                    "ended_at": _iso(summary.ended_at),
                    "turn_count": summary.turn_count,
                }
            )
            if len(found) == MAX_CALLS:
                break
        if cursor is None:
            break
    return found


async def call_transcript(
    store: Store, user: ConsoleUser, conversation_id: str
) -> dict[str, Any] | None:
    """A handed-over call's transcript, if it went to one of the user's queues."""
    record = await store.get_conversation(conversation_id, user.tenant_id)
    handoff = handoff_of(record) if record is not None else None
    if record is None or handoff is None or handoff[0] not in user.queues:
        return None
    return {
        "type": "transcript",
        "conversation_id": record.id,
        "channel": record.channel,
        "agent_id": record.agent_id,
        "queue": handoff[0],
        "reason": handoff[1],
        "started_at": _iso(record.started_at),
        "ended_at": _iso(record.ended_at),
        "turns": [{"role": t.role, "text": t.text, "at": _iso(t.started_at)} for t in record.turns],
    }


def install(app: FastAPI) -> None:
    """Serve the live-agent console on ``app``."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=CONSOLE_DIR), name="console-static")
