"""The web chat widget at ``/chat``: a page that talks to an agent over the messaging API
as the ``web`` platform (``POST /api/v1/access-token``, ``POST /api/v1/sessions``, then
``/ws``), same origin, no cookies.

Open it as ``/chat#token=vmc_…`` (or ``?token=``): the connector token is the only
credential, and a token in the fragment never reaches the server's logs. The widget sends
``X-Host: location.hostname``, so register that host for the connector
(``voxgate hosts add``). It keeps ``session_id``, cursor and transcript in
``localStorage`` and reconnects with backoff; see ``web/static/chat/chat.js``.

It may be framed by any site (an ``<iframe>`` on the site it serves): it holds no
cookie or session of anyone, so a framing page gains nothing it could not get by opening
a chat itself. Attachment images may come from any ``https:`` address.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from voxgate.server.pages import file_page
from voxgate.web import STATIC_DIR

CHAT_DIR = STATIC_DIR / "chat"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self' ws://{host} wss://{host}; frame-ancestors *; base-uri 'none'; "
    "form-action 'none'"
)

router = APIRouter()


@router.get("/chat", include_in_schema=False)
async def chat_page(request: Request) -> FileResponse:
    return file_page(request, CHAT_DIR / "index.html", CSP)


def install(app: FastAPI) -> None:
    """Serve the chat widget on ``app``."""
    app.include_router(router)
    app.mount("/chat/static", StaticFiles(directory=CHAT_DIR), name="chat-static")
