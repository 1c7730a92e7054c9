"""The live-agent console at ``/console``: humans sign in (:mod:`.signin`), watch their
handoff queues, accept a waiting chat, read its history, type, send messages with
suggestions, and end it over a socket (:mod:`.socket`), and read the calls the agent
handed over on the phone side (:mod:`.calls`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from voxgate.server.console import signin, socket


def install(app: FastAPI) -> None:
    """Serve the live-agent console on ``app``."""
    app.include_router(signin.router)
    app.include_router(socket.router)
    app.mount("/console/static", StaticFiles(directory=signin.CONSOLE_DIR), name="console-static")
