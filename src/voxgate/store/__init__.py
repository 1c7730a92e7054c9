"""Persistent state: tenants, API keys, call tokens, conversations with their turns and
tool calls, and bookings.

Open with ``await Store.open(settings.resolved_database_url)``; it migrates the schema.
"""

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
    "ConversationRecord",
    "ConversationSummary",
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
]
