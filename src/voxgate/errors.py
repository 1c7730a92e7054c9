"""One hierarchy of errors, split by who is to blame.

::

    VoxgateError
    ├── PeerError            the remote peer broke the protocol: answer with the dialect's
    │   │                    error event (or a close code); the session goes on
    │   ├── InvalidEvent     malformed JSON, unknown type, missing/invalid field
    │   └── SetupError       fatal handshake problem (bad mode, bad sample rate): close 4000
    ├── AuthError            bad/expired credentials (close 4401 / HTTP 401)
    │   └── ForbiddenError   valid credentials, not allowed here (close 4403 / HTTP 403)
    ├── ConfigError          a broken configuration or agent file: refuse to start
    └── MissingExtraError    an optional part is not installed; names the install command

Misuse of an API by our own caller raises the builtin ``TypeError``/``ValueError``.
"""

from __future__ import annotations


class VoxgateError(Exception):
    """Base of every error voxgate raises on purpose."""


class PeerError(VoxgateError):
    """The peer sent something the protocol does not allow."""

    code = "invalid_event"


class InvalidEvent(PeerError):
    """A frame that cannot be decoded into an event; the session goes on."""


class SetupError(PeerError):
    """A handshake parameter that makes the session impossible (close 4000)."""

    code = "400"


class AuthError(VoxgateError):
    """Missing, unknown, revoked, expired or reused credentials."""

    code = "401"


class ForbiddenError(AuthError):
    """Credentials are valid but may not use what was asked for."""

    code = "403"


class ConfigError(VoxgateError):
    """Configuration or an agent definition is invalid; the server must not start."""


class MissingExtraError(VoxgateError):
    """An optional dependency is missing; the message names the install command."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"{module!r} is not installed; install it with: pip install 'voxgate[{extra}]'"
        )
        self.extra = extra
