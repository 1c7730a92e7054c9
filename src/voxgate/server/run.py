"""Running the server under uvicorn, with a graceful drain on SIGTERM/SIGINT.

First signal: new handshakes get HTTP 503, live sessions get ``session.closed`` and their
turns are saved, then the process exits. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from voxgate.config import Settings
from voxgate.server.app import create_app, drain
from voxgate.server.state import ServerState

log = logging.getLogger(__name__)

_SECRETS_IN_URLS = re.compile(r"((?:token|access_token|api_key)=)[^&\s\"']+", re.IGNORECASE)


class RedactTokens(logging.Filter):
    """Hides credentials that clients put in query strings (``?token=``, ``access_token=``)
    from uvicorn's connection and access lines: tokens are never logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRETS_IN_URLS.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _SECRETS_IN_URLS.sub(r"\1***", record.msg)
        return True


def redact_uvicorn_logs() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


class DrainingServer(uvicorn.Server):
    """uvicorn's server, but the first exit signal drains sessions before stopping."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        state: ServerState | None = getattr(self._app.state, "voxgate", None)
        if self._drain_task is not None or state is None or self._loop is None:
            super().handle_exit(sig, frame)
            return
        log.info("received %s: draining", signal.Signals(sig).name)
        self._loop.call_soon_threadsafe(self._start_drain, state)

    def _start_drain(self, state: ServerState) -> None:
        async def drain_then_exit() -> None:
            try:
                await drain(state)
            finally:
                self.should_exit = True

        self._drain_task = asyncio.create_task(drain_then_exit())


def serve(
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
    on_ready: Callable[[ServerState], None] | None = None,
) -> None:
    """Run until a signal stops the server. Blocks."""
    app = create_app(settings, progress=progress, on_ready=on_ready)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_level=settings.log_level,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.drain_timeout_s) + 5,
    )
    server = DrainingServer(config, app)
    redact_uvicorn_logs()  # after uvicorn.Config set its logging up
    server.run()
