"""What every part of the store shares: its errors, secret hashing, the clock and argument
checks. Import the public names from :mod:`voxgate.store`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from voxgate.errors import AlreadyExistsError as AlreadyExistsError
from voxgate.errors import NotFoundError as NotFoundError
from voxgate.errors import StoreError as StoreError


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a high-entropy token (API key or call token); what the store keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def unmatchable(*values: str | None) -> bool:
    """True when a value cannot be in the database: PostgreSQL text never holds NUL (and
    refuses it in a query), so a lookup by such a value finds nothing on either database."""
    return any(value is not None and "\x00" in value for value in values)


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is a naive datetime ({value!r}); pass an aware one (UTC)")
