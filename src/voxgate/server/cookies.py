"""Signed session cookies and their CSRF header, shared by the browser client (``/web``)
and the console (``/console``).

A session cookie is HttpOnly, SameSite=Strict, ``Secure`` over HTTPS, and scoped to its
path under the prefix the server is mounted at. It holds a payload signed with the
server secret (:class:`~voxgate.server.signing.Signer`: readable, not secret) with an
expiry. Requests that change something must also carry the session's CSRF header, which
a cross-site form or a CORS-less fetch cannot send.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response, WebSocket

from voxgate.server.pages import root_path
from voxgate.server.signing import Signer


@dataclass(frozen=True, slots=True)
class CookieSession:
    name: str
    """The cookie's name."""
    path: str
    """Where the browser sends it (below the server's root path)."""
    csrf_header: str
    """The header a changing request must carry."""

    def options(self, request: Request) -> dict[str, Any]:
        """The attributes of the cookie for ``request`` (setting and deleting alike)."""
        return {
            "path": root_path(request) + self.path,
            "secure": request.url.scheme == "https",
            "httponly": True,
            "samesite": "strict",
        }

    def issue(
        self,
        response: Response,
        request: Request,
        signer: Signer,
        payload: dict[str, Any],
        ttl_s: int,
    ) -> int:
        """Set the cookie holding ``payload`` on ``response``, valid ``ttl_s`` seconds;
        returns when it expires (Unix seconds)."""
        now = time.time()
        value = signer.sign(payload, ttl_s, now=now)
        response.set_cookie(self.name, value, max_age=ttl_s, **self.options(request))
        return int(now + ttl_s)

    def clear(self, response: Response, request: Request) -> None:
        """Delete the cookie in the browser (a copy stays valid until it expires)."""
        response.delete_cookie(self.name, **self.options(request))

    def payload(self, signer: Signer, value: str | None) -> dict[str, Any] | None:
        """The signed payload (with ``exp``) of a cookie value, or None when there is none
        or it is forged or expired."""
        return signer.unsign(value) if value else None

    def read(self, conn: Request | WebSocket, signer: Signer) -> dict[str, Any] | None:
        """:meth:`payload` of the cookie ``conn`` carries."""
        return self.payload(signer, conn.cookies.get(self.name))

    def has_csrf_header(self, request: Request) -> bool:
        return bool(request.headers.get(self.csrf_header))
