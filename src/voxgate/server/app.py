"""The ASGI application: lifespan (store, agents, models), health, routers, limits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxgate import __version__
from voxgate.agents.runtime import AgentResources, build_agents, needs_embedder
from voxgate.agents.spec import load_specs
from voxgate.config import Settings
from voxgate.server import (
    atoms,
    chat_widget,
    conversations,
    datagrid,
    events,
    messaging_rest,
    messaging_ws,
    metrics_endpoint,
    openapi,
    web,
)
from voxgate.server.console import signin as console_signin
from voxgate.server.console import socket as console_socket
from voxgate.server.messaging_auth import SESSION_IDLE_TIMEOUT_S
from voxgate.server.serialize import ResponseModel
from voxgate.server.signing import Signers, server_secret
from voxgate.server.state import ServerState, state_of
from voxgate.speech.services import SpeechServices
from voxgate.store import Store

log = logging.getLogger(__name__)


class Health(ResponseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):  # not ResponseModel: ``error`` is left out unless failed
    status: Literal["ready", "loading", "draining", "failed", "database unavailable"]
    error: str | None = None
    """Why startup failed (status "failed" only)."""


class BodySizeLimit:
    """Refuses HTTP request bodies over ``limit`` bytes with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _too_large(send: Send, limit: int) -> None:
    body = (
        f'{{"status":false,"error":{{"code":"413","message":"request body over {limit} bytes"}}}}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


async def prepare_state(
    settings: Settings,
    *,
    services: SpeechServices | None,
    embedder: Any | None = None,
) -> ServerState:
    """Open the store, validate agent files (a broken one stops here) and set up the dev
    key. With ``services`` given, the agents are built and the state is ready at once;
    otherwise call :func:`load_runtime`. Close with :func:`close_state`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    specs = load_specs(settings.agents_dir)
    store = await Store.open(settings.resolved_database_url)
    try:
        names = {"default"} | {spec.tenant for spec, _path in specs.values()}
        tenant_ids = {name: await store.ensure_tenant(name) for name in sorted(names)}
        secret = server_secret(settings)
        state = ServerState(
            settings=settings,
            store=store,
            specs=specs,
            tenant_ids=tenant_ids,
            http=httpx.AsyncClient(follow_redirects=False),
            secret=secret,
            signers=Signers.of(secret),
            embedder=embedder,
        )
        await _ensure_dev_key(state)
        if services is not None:
            await _build_agents(state)
    except BaseException:
        await store.close()
        raise
    state.services = services
    state.ready = services is not None
    state.owns_services = services is None
    state.owns_embedder = embedder is None
    return state


async def _build_agents(state: ServerState) -> None:
    if state.embedder is None and needs_embedder(state.specs):
        from voxgate.agents.embeddings import Embedder

        state.embedder = await asyncio.to_thread(Embedder)
    resources = AgentResources(
        store=state.store,
        http=state.http,
        embedder=state.embedder,
        cache_dir=state.settings.data_dir / "cache" / "knowledge",
    )
    state.agents = await build_agents(state.specs, resources)


async def load_runtime(state: ServerState, progress: Callable[[str], None] | None = None) -> None:
    """Load the speech models and build the agents, off the event loop where heavy; the
    state is ready afterwards."""
    try:
        settings = state.settings
        state.services = await asyncio.to_thread(
            lambda: SpeechServices.load(
                settings.thread_count, progress, tts_cache_entries=settings.tts_cache_entries
            )
        )
        if progress is not None:
            progress("loading agents (embeddings, knowledge)")
        await _build_agents(state)
        await state.store.ping()
    except Exception as exc:
        state.failure = f"{type(exc).__name__}: {exc}"
        log.exception("startup failed; /readyz will say so")
        raise
    state.ready = True


async def _ensure_dev_key(state: ServerState) -> None:
    tenant = state.tenant_ids["default"]
    wanted = state.settings.dev_api_key
    if wanted is not None:
        await state.store.create_api_key(tenant, "dev", secret=wanted.get_secret_value())
        return
    if not any(k.revoked_at is None for k in await state.store.list_api_keys(tenant)):
        _key, secret = await state.store.create_api_key(tenant, "dev")
        state.dev_key = secret


async def close_state(state: ServerState) -> None:
    state.ready = False
    if state.owns_services and state.services is not None:
        state.services.close()
    if state.owns_embedder and state.embedder is not None:
        state.embedder.close()
    await state.http.aclose()
    await state.store.close()


async def drain(state: ServerState) -> None:
    """Refuse new sessions (503), close live ones (saving their turns), wait for them."""
    state.draining = True
    state.ready = False
    live = list(state.live)
    if live:
        log.info("draining %d live session(s)", len(live))
    await asyncio.gather(*(c.close("server_shutdown") for c in live), return_exceptions=True)
    handlers = list(state.handlers)
    if handlers:
        await asyncio.wait(handlers, timeout=state.settings.drain_timeout_s)


def create_app(
    settings: Settings | None = None,
    *,
    services: SpeechServices | None = None,
    embedder: Any | None = None,
    load_models: bool = True,
    progress: Callable[[str], None] | None = None,
    on_ready: Callable[[ServerState], None] | None = None,
) -> FastAPI:
    """Build the app. The lifespan opens everything; pass ``services`` to share models."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await prepare_state(settings, services=services, embedder=embedder)
        app.state.voxgate = state
        loading: asyncio.Task[None] | None = None
        if state.ready:
            if on_ready is not None:
                on_ready(state)
        elif load_models:
            # Serve /healthz (and 503 elsewhere) while the models load.
            async def load() -> None:
                await load_runtime(state, progress)
                if on_ready is not None:
                    on_ready(state)

            loading = asyncio.create_task(load())
        # Messaging sessions idle for 10 minutes end (REASON_USER_ABANDONED).
        sweeper = asyncio.create_task(state.messaging.sweep_forever(SESSION_IDLE_TIMEOUT_S))
        try:
            yield
        finally:
            sweeper.cancel()
            if loading is not None and not loading.done():
                loading.cancel()
            await drain(state)
            await close_state(state)

    app = FastAPI(
        title="voxgate",
        version=__version__,
        description="Self-hosted realtime conversational agents.",
        lifespan=lifespan,
    )

    # Starlette's class: also the errors FastAPI and routing raise (unparsable body, 404, 405).
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"status": False, "error": {"code": str(exc.status_code), "message": exc.detail}},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[Any] = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()
        ]
        return JSONResponse(
            {
                "status": False,
                "error": {"code": "400", "message": "invalid request", "details": errors},
            },
            status_code=400,
        )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> Health:
        """200 while the process lives."""
        return Health()

    @app.get(
        "/readyz",
        tags=["health"],
        response_model=None,
        responses={
            200: {"model": Readiness, "description": "Ready: models loaded, database answers."},
            503: {"model": Readiness, "description": "Loading, draining, or failed."},
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        """200 once models are loaded and the database answers."""
        state = state_of(request)
        if state.failure is not None:
            return JSONResponse({"status": "failed", "error": state.failure}, status_code=503)
        if state.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        if not state.ready:
            return JSONResponse({"status": "loading"}, status_code=503)
        try:
            await asyncio.wait_for(state.store.ping(), timeout=2)
        except Exception:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.include_router(atoms.router, tags=["atoms"])
    app.include_router(datagrid.router, tags=["datagrid"])
    app.include_router(events.router, tags=["atoms"])
    app.include_router(metrics_endpoint.router)
    app.include_router(conversations.router, tags=["conversations"])
    app.include_router(messaging_rest.router, tags=["messaging"])
    app.include_router(messaging_ws.router)
    web.install(app)
    app.include_router(console_signin.router)
    app.include_router(console_socket.router)
    app.mount(
        "/console/static",
        StaticFiles(directory=console_signin.CONSOLE_DIR),
        name="console-static",
    )
    chat_widget.install(app)
    openapi.install(app)
    app.add_middleware(BodySizeLimit, limit=settings.max_frame_bytes)
    return app
