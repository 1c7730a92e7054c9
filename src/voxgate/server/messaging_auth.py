"""Credentials of the messaging API: access tokens, and the checks every messaging
endpoint makes before it touches a session.

An app holds a connector token (``vmc_…``) and trades it, with its host, for an access
token (``POST /api/v1/access-token``): a JWT signed with HS256 under a key derived from
the server secret (:attr:`ServerState.secret`) for this purpose only,
so no other value signed with that secret is ever accepted as one. Claims: ``sub`` the
connector id, ``tid`` its tenant id, ``host`` the (normalized) host, ``iat``, ``exp`` and
``typ`` = ``"messaging"``. Servers that share a database must share the secret.

What is refused, and how (HTTP status, also the WebSocket handshake's):

- :class:`~voxgate.errors.AuthError` (401): an access token that is malformed, forged,
  expired or of another type; its connector revoked (or gone) since it was issued; its
  host no longer registered for the connector.
- :class:`SessionNotFoundError` (404): no such session, or one of another connector or
  tenant (the two look the same, so session ids of others leak nothing).
- :class:`SessionEndedError` (404): the session ended.
- :class:`SessionExpiredError` (404): no activity for :data:`SESSION_IDLE_TIMEOUT_S`.

Tokens are never logged, and no error message holds one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from voxgate.errors import AuthError, UnavailableError
from voxgate.server.state import ServerState
from voxgate.store import Connector, MessagingSession, normalize_host

ACCESS_TOKEN_TTL_S = 86_400
"""Lifetime of an access token (the ``expires_in`` of ``POST /api/v1/access-token``)."""
SESSION_IDLE_TIMEOUT_S = 600
"""A messaging session without activity for this long is expired."""
TOKEN_TYPE = "messaging"
_ALGORITHM = "HS256"
_KEY_PURPOSE = b"voxgate-jwt:messaging-access"
_REQUIRED_CLAIMS = ("sub", "tid", "host", "iat", "exp", "typ")


class SessionUnavailableError(UnavailableError):
    """The session named by the client cannot be used: answer its ``http_status`` (404,
    also the WebSocket handshake's)."""


class SessionNotFoundError(SessionUnavailableError):
    """No such session, or it belongs to another connector or tenant."""


class SessionEndedError(SessionUnavailableError):
    """The session has ended; the client must create a new one."""


class SessionExpiredError(SessionUnavailableError):
    """The session has been idle for longer than :data:`SESSION_IDLE_TIMEOUT_S`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessGrant:
    """What a valid access token grants."""

    connector_id: str
    tenant_id: str
    host: str
    issued_at: datetime
    expires_at: datetime


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, _KEY_PURPOSE, hashlib.sha256).digest()


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.utcoffset() is None:
        raise ValueError(f"now is a naive datetime ({now!r}); pass an aware one (UTC)")
    return now


def issue_access_token(
    secret: bytes,
    connector: Connector,
    host: str,
    ttl_s: int = ACCESS_TOKEN_TTL_S,
    now: datetime | None = None,
) -> str:
    """An access token for ``connector`` used from ``host``, valid ``ttl_s`` seconds from
    ``now`` (default: the current time). The caller has checked that the connector is live
    and admits ``host``. Raises ``ValueError`` for a malformed host or ``ttl_s`` < 1."""
    if ttl_s < 1:
        raise ValueError(f"ttl_s must be at least 1, got {ttl_s}")
    issued = int(_now(now).timestamp())
    claims = {
        "sub": connector.id,
        "tid": connector.tenant_id,
        "host": normalize_host(host),
        "iat": issued,
        "exp": issued + ttl_s,
        "typ": TOKEN_TYPE,
    }
    return jwt.encode(claims, _key(secret), algorithm=_ALGORITHM)


def verify_access_token(secret: bytes, token: str, now: datetime | None = None) -> AccessGrant:
    """What ``token`` grants at ``now`` (default: the current time). Checks signature,
    type and expiry only: see :func:`authorize` for the connector. Raises
    :class:`AuthError` saying what is wrong (never quoting the token)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(secret),
            algorithms=[_ALGORITHM],
            options={
                "verify_exp": False,  # checked below, against ``now``
                "verify_iat": False,
                "verify_nbf": False,
                "require": list(_REQUIRED_CLAIMS),
            },
        )
    except jwt.InvalidSignatureError:
        raise AuthError("access token signature is invalid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"access token has no {exc.claim!r} claim") from None
    except jwt.InvalidTokenError:
        raise AuthError("access token is malformed") from None
    if claims.get("typ") != TOKEN_TYPE:
        raise AuthError("not a messaging access token")
    strings = [claims.get(name) for name in ("sub", "tid", "host")]
    stamps = [claims.get(name) for name in ("iat", "exp")]
    if not all(isinstance(v, str) and v for v in strings) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in stamps
    ):
        raise AuthError("access token is malformed")
    try:
        issued_at = datetime.fromtimestamp(claims["iat"], UTC)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    except (OverflowError, OSError, ValueError):
        raise AuthError("access token is malformed") from None
    if _now(now) >= expires_at:
        raise AuthError("access token expired; request a new one")
    return AccessGrant(
        connector_id=claims["sub"],
        tenant_id=claims["tid"],
        host=claims["host"],
        issued_at=issued_at,
        expires_at=expires_at,
    )


async def authorize(
    state: ServerState, access_token: str | None, now: datetime | None = None
) -> tuple[AccessGrant, Connector]:
    """The grant of ``access_token`` and its connector, still live and still serving the
    token's host. Raises :class:`AuthError` (401)."""
    if not access_token:
        raise AuthError("missing access token")
    grant = verify_access_token(state.secret, access_token, now)
    connector = await state.store.get_connector(grant.connector_id)
    if connector is None or connector.tenant_id != grant.tenant_id:
        raise AuthError("the connector of this access token no longer exists")
    if connector.revoked_at is not None:
        raise AuthError("the connector of this access token is revoked")
    if not connector.admits(grant.host):
        raise AuthError("the host of this access token is no longer registered")
    return grant, connector


async def session_for(
    state: ServerState,
    session_id: str,
    access_token: str | None,
    now: datetime | None = None,
) -> MessagingSession:
    """The live session ``session_id`` of the connector ``access_token`` belongs to.

    Raises :class:`AuthError` (401) for the token (see :func:`authorize`), then
    :class:`SessionNotFoundError`, :class:`SessionEndedError` or
    :class:`SessionExpiredError` (all 404, all :class:`SessionUnavailableError`). An
    expired session is not ended here: whoever ends it sends ``SESSION_END``.
    """
    grant, connector = await authorize(state, access_token, now)
    session = await state.store.get_messaging_session(session_id)
    if (
        session is None
        or session.connector_id != connector.id
        or session.tenant_id != grant.tenant_id
    ):
        raise SessionNotFoundError(f"no session {session_id[:80]!r}")
    if session.ended_at is not None:
        raise SessionEndedError(f"session {session_id[:80]!r} has ended")
    if session.idle_expired(_now(now), SESSION_IDLE_TIMEOUT_S):
        raise SessionExpiredError(
            f"session {session_id[:80]!r} expired after {SESSION_IDLE_TIMEOUT_S // 60} minutes "
            "without activity"
        )
    return session
