"""What ``talk`` and ``chat`` share: the server URL option and how a refusal is told."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from voxgate.config import Settings

if TYPE_CHECKING:
    from voxgate.client import AtomsConnectError, VoiceConnectError

URL_OPTION = click.option("--url", default=None, help="Server URL (default http://HOST:PORT).")


def server_url(url: str | None) -> str:
    """The server to talk to: ``url``, or the configured host and port."""
    settings = Settings()
    return url or f"http://{settings.host}:{settings.port}"


def refusal_message(exc: VoiceConnectError | AtomsConnectError, url: str) -> str:
    """What to tell a person whose call could not be set up."""
    code = exc.code
    if code in (4401, 401):
        return "refused: bad API key (or an expired or used call token)"
    if code in (4403, 403):
        return "refused: this key may not use that agent"
    if code == 503:
        return f"{url} is starting up or shutting down (HTTP 503); try again shortly"
    if code == 4000:
        return f"refused: {getattr(exc, 'message', exc)}"
    if code is None:
        return f"cannot reach {url}: {getattr(exc, 'message', exc)}"
    return f"refused ({exc})"
