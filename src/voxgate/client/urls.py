"""Server URLs as users give them (``http(s)://`` or ``ws(s)://``, with or without a path)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_WS = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_HTTP = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def server_base(url: str, *, websocket: bool) -> str:
    """The server's base URL for WebSocket (``ws(s)://``) or HTTP (``http(s)://``) use,
    without a trailing slash. Raises ``ValueError`` for anything else."""
    parts = urlsplit(url)
    scheme = (_WS if websocket else _HTTP).get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a server URL: {url!r} (expected http(s):// or ws(s)://)")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def ws_base(url: str) -> str:
    return server_base(url, websocket=True)
