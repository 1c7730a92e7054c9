"""The server secret and values signed with it (HMAC-SHA256), e.g. the browser client's
session cookie.

The secret is ``VOXGATE_SECRET_KEY`` when set; otherwise one is generated on first use and
kept in ``<data_dir>/secret_key`` (mode 0600), so signed values survive a restart. Servers
that share a database but not a data directory must be given the same
``VOXGATE_SECRET_KEY``.

Each use signs with its own key derived from the secret and a ``purpose``, so a value
signed for one purpose is never accepted for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxgate.config import Settings

log = logging.getLogger(__name__)

SECRET_FILE = "secret_key"
MIN_SECRET_CHARS = 32


def server_secret(settings: Settings) -> bytes:
    """The configured secret, or the one kept in the data directory (created if missing).

    Raises :class:`ValueError` for a secret shorter than 32 characters, :class:`OSError`
    when the file cannot be read or written.
    """
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        origin = "VOXGATE_SECRET_KEY"
    else:
        path = settings.data_dir / SECRET_FILE
        value = _read_or_create(path)
        origin = str(path)
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"the secret in {origin} is shorter than {MIN_SECRET_CHARS} characters")
    return value.encode()


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Made earlier, or by another process at the same moment: wait for its content.
        for _ in range(50):
            value = path.read_text().strip()
            if value:
                break
            time.sleep(0.02)
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by other users; chmod 600 it", path)
        return value
    value = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    log.info("generated a server secret in %s", path)
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs small JSON objects with an expiry: ``<payload>.<mac>``, both base64url.

    Not encrypted: anyone holding a value can read its payload, so put no secrets in it.
    """

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._key = hmac.new(secret, b"voxgate-sign:" + purpose.encode(), hashlib.sha256).digest()

    def sign(self, payload: dict[str, Any], ttl_s: float, *, now: float | None = None) -> str:
        """A signed value holding ``payload`` (JSON-able, without an ``exp`` key) that
        :meth:`unsign` accepts for ``ttl_s`` seconds."""
        if "exp" in payload:
            raise ValueError("'exp' is reserved for the expiry")
        issued = time.time() if now is None else now
        body = _b64(
            json.dumps({**payload, "exp": int(issued + ttl_s)}, separators=(",", ":")).encode()
        )
        return f"{body}.{self._mac(body)}"

    def unsign(self, value: str, *, now: float | None = None) -> dict[str, Any] | None:
        """The payload (with ``exp``) of a value this signer made, or None when the value
        is malformed, forged, signed for another purpose, or expired."""
        body, dot, mac = value.partition(".")
        if not dot or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            return None
        if payload["exp"] <= (time.time() if now is None else now):
            return None
        return payload

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


@dataclass(frozen=True, slots=True)
class Signers:
    """The server's signers, one per purpose (built once, held in the server state)."""

    web_session: Signer
    """The browser client's session cookie."""
    console: Signer
    """The console's session cookie."""
    console_form: Signer
    """The console's sign-in form token (CSRF)."""

    @classmethod
    def of(cls, secret: bytes) -> Signers:
        return cls(
            web_session=Signer(secret, "web-session"),
            console=Signer(secret, "console"),
            console_form=Signer(secret, "console-form"),
        )
