"""Persistent state: tenants, API keys, call tokens, conversations with their turns and
tool calls, bookings, and the messaging API's connectors, sessions, events and console
users.

Open with ``await Store.open(settings.resolved_database_url)``; it migrates the schema.
"""

from voxgate.store.messaging import (
    Connector,
    ConsoleUser,
    HostKind,
    MessagingEvent,
    MessagingSession,
    normalize_host,
)
from voxgate.store.repository import (
    AlreadyExistsError,
    ApiKey,
    Booking,
    CallToken,
    ConversationRecord,
    ConversationSummary,
    NewBooking,
    NewConversation,
    NewToolCall,
    NewTurn,
    NotFoundError,
    Store,
    StoreError,
    Tenant,
    ToolCallRecord,
    TurnRecord,
    hash_secret,
    normalize_booking_reference,
)

__all__ = [
    "AlreadyExistsError",
    "ApiKey",
    "Booking",
    "CallToken",
    "Connector",
    "ConsoleUser",
    "ConversationRecord",
    "ConversationSummary",
    "HostKind",
    "MessagingEvent",
    "MessagingSession",
    "NewBooking",
    "NewConversation",
    "NewToolCall",
    "NewTurn",
    "NotFoundError",
    "Store",
    "StoreError",
    "Tenant",
    "ToolCallRecord",
    "TurnRecord",
    "hash_secret",
    "normalize_booking_reference",
    "normalize_host",
]
