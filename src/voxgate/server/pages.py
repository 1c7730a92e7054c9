"""What the server's own HTML pages share: security headers with a Content-Security-Policy
that names this host, the path prefix the server is mounted under, and same-origin checks
for the requests those pages make."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?")
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def csp(request: Request, template: str) -> str:
    """``template`` with ``{host}`` filled in. Browsers that predate CSP 3 do not count
    ``ws://`` of the same host as ``'self'``, so policies name it; a Host header that is
    not a plain host name drops those sources instead."""
    host = request.url.netloc
    if _HOST.fullmatch(host):
        return template.format(host=host)
    return template.replace(" ws://{host} wss://{host}", "")


def page_headers(request: Request, template: str) -> dict[str, str]:
    return {**PAGE_HEADERS, "Content-Security-Policy": csp(request, template)}


def file_page(request: Request, path: Path, template: str) -> FileResponse:
    return FileResponse(path, headers=page_headers(request, template))


def html_page(request: Request, html: str, template: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=page_headers(request, template))


def root_path(request: Request | WebSocket) -> str:
    """The prefix the server is mounted under behind a proxy (``uvicorn --root-path``)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def cross_site(request: Request | WebSocket) -> bool:
    """Whether the browser says the request comes from another site: ``Sec-Fetch-Site``
    other than ``same-origin`` (or ``none``: typed in the address bar), or, from browsers
    that send no ``Sec-Fetch-Site``, an ``Origin`` whose host is not this one. (Pages sent
    with ``Referrer-Policy: no-referrer`` post their forms with ``Origin: null``: that
    says nothing either way.)"""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()
