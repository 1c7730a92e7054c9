"""Persistent state: tenants, API keys, call tokens, conversations and their turns.

Open with ``await Store.open(settings.resolved_database_url)``; it migrates the schema.
"""

from voxgate.store.repository import (
    AlreadyExistsError,
    ApiKey,
    CallToken,
    ConversationRecord,
    NewConversation,
    NewTurn,
    NotFoundError,
    Store,
    StoreError,
    Tenant,
    TurnRecord,
    hash_secret,
)

__all__ = [
    "AlreadyExistsError",
    "ApiKey",
    "CallToken",
    "ConversationRecord",
    "NewConversation",
    "NewTurn",
    "NotFoundError",
    "Store",
    "StoreError",
    "Tenant",
    "TurnRecord",
    "hash_secret",
]
