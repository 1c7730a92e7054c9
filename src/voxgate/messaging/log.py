"""Envelopes of a session's events: read back from the store's log, or transient (sent
once, never kept)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from voxgate.dialects import messaging as wire
from voxgate.store import MessagingEvent


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_log(event: MessagingEvent) -> wire.ServerEvent:
    """The envelope of a logged event (with its sequence)."""
    return wire.ServerEvent(
        type=event.type,
        payload=event.payload,
        id=event.id,
        sequence=event.sequence,
        timestamp=event.timestamp,
        metadata=event.metadata,
    )


def transient(event: wire.SessionEvent, metadata: dict[str, Any] | None = None) -> wire.ServerEvent:
    """The envelope of an event that is sent now and not logged (``sequence: null``)."""
    type, payload = wire.to_log(event)
    return wire.ServerEvent(
        type=type,
        payload=payload,
        id=str(uuid.uuid4()),
        sequence=None,
        timestamp=utcnow(),
        metadata=metadata,
    )
