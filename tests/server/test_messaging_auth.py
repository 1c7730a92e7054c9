"""Messaging access tokens (JWT, HS256): issued and verified without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from voxgate.errors import AuthError
from voxgate.server.messaging_auth import (
    ACCESS_TOKEN_TTL_S,
    issue_access_token,
    verify_access_token,
)
from voxgate.server.signing import Signer
from voxgate.store import Connector

SECRET = b"s" * 48
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CONNECTOR = Connector(
    id="con_0123456789abcdef",
    tenant_id="t" * 32,
    name="site",
    agent_id="support",
    prefix="vmc_abcdefgh",
    created_at=T0,
    revoked_at=None,
    hosts=("example.com",),
)


def test_round_trip() -> None:
    token = issue_access_token(SECRET, CONNECTOR, "Chat.Example.com", now=T0)
    grant = verify_access_token(SECRET, token, now=T0 + timedelta(hours=23))
    assert grant.connector_id == CONNECTOR.id
    assert grant.tenant_id == CONNECTOR.tenant_id
    assert grant.host == "chat.example.com"
    assert grant.issued_at == T0
    assert grant.expires_at == T0 + timedelta(seconds=ACCESS_TOKEN_TTL_S)
    assert ACCESS_TOKEN_TTL_S == 86400


def test_is_a_real_jwt() -> None:
    token = issue_access_token(SECRET, CONNECTOR, "example.com", now=T0)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "sub": CONNECTOR.id,
        "tid": CONNECTOR.tenant_id,
        "host": "example.com",
        "iat": int(T0.timestamp()),
        "exp": int(T0.timestamp()) + 86400,
        "typ": "messaging",
    }
    # Not signed with the raw server secret: with a key derived for this purpose.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_expiry() -> None:
    token = issue_access_token(SECRET, CONNECTOR, "example.com", ttl_s=60, now=T0)
    verify_access_token(SECRET, token, now=T0 + timedelta(seconds=59))
    with pytest.raises(AuthError, match="expired"):
        verify_access_token(SECRET, token, now=T0 + timedelta(seconds=60))
    past = issue_access_token(SECRET, CONNECTOR, "example.com", now=T0 - timedelta(days=2))
    with pytest.raises(AuthError, match="expired"):
        verify_access_token(SECRET, past)
    assert verify_access_token(SECRET, issue_access_token(SECRET, CONNECTOR, "example.com"))


def test_bad_signature() -> None:
    token = issue_access_token(b"o" * 48, CONNECTOR, "example.com", now=T0)
    with pytest.raises(AuthError, match="signature"):
        verify_access_token(SECRET, token, now=T0)
    head, _body, sig = issue_access_token(SECRET, CONNECTOR, "example.com", now=T0).split(".")
    tampered = jwt.encode({"sub": "con_other"}, "x" * 32, algorithm="HS256").split(".")[1]
    with pytest.raises(AuthError, match="signature"):
        verify_access_token(SECRET, f"{head}.{tampered}.{sig}", now=T0)


@pytest.mark.parametrize(
    "token",
    ["", "x", "a.b.c", "a.b", "Bearer x", "vg_test_dev_key_0123456789abcdef", "é.é.é"],
)
def test_malformed(token: str) -> None:
    with pytest.raises(AuthError, match="malformed"):
        verify_access_token(SECRET, token, now=T0)


def _signed(claims: dict[str, Any], algorithm: str = "HS256") -> str:
    from voxgate.server.messaging_auth import _key

    key = _key(SECRET)
    return jwt.encode(claims, key if algorithm == "HS256" else key * 2, algorithm=algorithm)


GOOD: dict[str, Any] = {
    "sub": "con_1",
    "tid": "t1",
    "host": "example.com",
    "iat": int(T0.timestamp()),
    "exp": int(T0.timestamp()) + 60,
    "typ": "messaging",
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"typ": "web"}, "not a messaging access token"),
        ({"sub": None}, "'sub' claim"),
        ({"host": None}, "'host' claim"),
        ({"exp": None}, "'exp' claim"),
        ({"tid": 5}, "malformed"),
        ({"host": ""}, "malformed"),
        ({"exp": "tomorrow"}, "malformed"),
        ({"exp": 10**20}, "malformed"),
    ],
)
def test_claims_checked(changes: dict[str, Any], message: str) -> None:
    claims = {**GOOD, **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    with pytest.raises(AuthError, match=message):
        verify_access_token(SECRET, _signed(claims), now=T0)


def test_alg_none_and_other_algorithms_refused() -> None:
    unsigned = jwt.encode(GOOD, None, algorithm="none")
    with pytest.raises(AuthError):
        verify_access_token(SECRET, unsigned, now=T0)
    with pytest.raises(AuthError):
        verify_access_token(SECRET, _signed(GOOD, "HS512"), now=T0)


def test_other_purposes_are_refused() -> None:
    cookie = Signer(SECRET, "web-session").sign({"sub": "con_1"}, 60)
    with pytest.raises(AuthError):
        verify_access_token(SECRET, cookie)


def test_error_never_quotes_the_token() -> None:
    token = issue_access_token(SECRET, CONNECTOR, "example.com", now=T0 - timedelta(days=2))
    for candidate in (token, token[:-4] + "AAAA", token + "x"):
        with pytest.raises(AuthError) as caught:
            verify_access_token(SECRET, candidate)
        assert candidate not in str(caught.value)
        assert token.split(".")[2] not in str(caught.value)


def test_caller_errors() -> None:
    with pytest.raises(ValueError):
        issue_access_token(SECRET, CONNECTOR, "https://example.com", now=T0)
    with pytest.raises(ValueError):
        issue_access_token(SECRET, CONNECTOR, "example.com", ttl_s=0, now=T0)
    with pytest.raises(ValueError):
        issue_access_token(SECRET, CONNECTOR, "example.com", now=datetime(2026, 1, 1))
