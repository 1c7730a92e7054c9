"""One hierarchy of errors, split by who is to blame, and the answers they map to.

::

    VoxgateError
    ├── PeerError            the remote peer broke the protocol: answer with the dialect's
    │   │                    error event (or a close code); the session goes on
    │   ├── InvalidEvent     malformed JSON, unknown type, missing/invalid field
    │   ├── SetupError       fatal handshake problem (bad mode, bad sample rate): close 4000
    │   └── UnavailableError the thing asked for is gone or cannot be used: HTTP 404
    ├── AuthError            bad/expired credentials (close 4401 / HTTP 401)
    │   └── ForbiddenError   valid credentials, not allowed here (close 4403 / HTTP 403)
    ├── BusyError            the server cannot take this now (draining, a dependency is
    │                        down): HTTP 503 with Retry-After / close 1013
    ├── StoreError           the store's caller asked for something impossible
    │   ├── NotFoundError    the record does not exist (HTTP 404)
    │   └── AlreadyExistsError  a record with that id or name exists (HTTP 409)
    ├── ToolError            a tool's expected failure; its message is shown to the model
    ├── ClientError          the client SDK could not do what its caller asked
    ├── ConfigError          a broken configuration or agent file: refuse to start
    └── MissingExtraError    an optional part is not installed; names the install command

Each class carries the answer a server gives for it, the way h11's
``error_status_hint`` does: :attr:`VoxgateError.http_status` for an HTTP response,
:attr:`VoxgateError.close_code` for a WebSocket, and :attr:`VoxgateError.code` for a
dialect's error event. Endpoints read these; they define no status numbers of their own.

Misuse of an API by our own caller raises the builtin ``TypeError``/``ValueError``.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Every WebSocket close code voxgate sends."""

    NORMAL = 1000
    """The session ended (either side asked, or the agent ended the call)."""
    TOO_BIG = 1009
    """A frame over the configured limit."""
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    """The server is shutting down; reconnect (elsewhere) and resume."""
    TRY_AGAIN_LATER = 1013
    """The server cannot serve this socket now (too far behind, busy); reconnect."""
    SETUP = 4000
    """A handshake parameter makes the session impossible."""
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403


class VoxgateError(Exception):
    """Base of every error voxgate raises on purpose."""

    http_status: int = 500
    """The HTTP status a server answers this error with."""
    close_code: int = CloseCode.INTERNAL_ERROR
    """The WebSocket close code a server closes with for this error (when fatal)."""
    code: str = "internal_error"
    """The ``code`` of the dialect error event that reports it."""


class PeerError(VoxgateError):
    """The peer sent something the protocol does not allow."""

    http_status = 400
    close_code = CloseCode.SETUP
    code = "invalid_event"


class InvalidEvent(PeerError):
    """A frame that cannot be decoded into an event; the session goes on."""


class SetupError(PeerError):
    """A handshake parameter that makes the session impossible (close 4000)."""

    code = "400"


class UnavailableError(PeerError):
    """What the peer named does not exist for it, or can no longer be used (HTTP 404)."""

    http_status = 404
    code = "404"


class AuthError(VoxgateError):
    """Missing, unknown, revoked, expired or reused credentials."""

    http_status = 401
    close_code = CloseCode.UNAUTHORIZED
    code = "401"


class ForbiddenError(AuthError):
    """Credentials are valid but may not use what was asked for."""

    http_status = 403
    close_code = CloseCode.FORBIDDEN
    code = "403"


class BusyError(VoxgateError):
    """The server cannot take this request now; the peer should retry after
    :attr:`retry_after_s` seconds (elsewhere, or here later)."""

    http_status = 503
    close_code = CloseCode.TRY_AGAIN_LATER
    code = "503"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StoreError(VoxgateError):
    """Base of the errors the store raises for misuse by its caller."""


class NotFoundError(StoreError, LookupError):
    """The record named by the caller does not exist."""

    http_status = 404
    code = "404"


class AlreadyExistsError(StoreError):
    """A record with that id or name already exists."""

    http_status = 409
    code = "409"


class ToolError(VoxgateError):
    """Raised by a tool for an expected failure; the message is shown to the model."""


class ClientError(VoxgateError):
    """Base of the client SDK's errors: a refused connection, a missing audio device."""


class ConfigError(VoxgateError):
    """Configuration or an agent definition is invalid; the server must not start."""


class MissingExtraError(VoxgateError):
    """An optional dependency is missing; the message names the install command."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"{module!r} is not installed; install it with: pip install 'voxgate[{extra}]'"
        )
        self.extra = extra
