"""ORM tables of the store. Schema changes need a new migration in ``migrations/versions``.

Only the repository (``repository.py``, ``messaging.py``) and the migrations use these
classes; callers get frozen dataclasses from :class:`voxgate.store.Store`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as date_type
from datetime import time as time_type
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that only accepts and only returns aware UTC datetimes.

    SQLite has no time zones: values are stored as naive UTC text and made aware on read.
    Binding a naive datetime raises ``ValueError`` (the caller must pass aware values).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> TypeEngine[Any]:
    # none_as_null: Python None is SQL NULL (``api_keys.agents`` NULL means "every agent").
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
    }


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    agents: Mapped[list[str] | None] = mapped_column(_json())
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class CallTokenRow(Base):
    __tablename__ = "call_tokens"

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    api_key_id: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(_json())
    options: Mapped[dict[str, Any] | None] = mapped_column(_json(), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_tenant_id_started_at", "tenant_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    dialect: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(64))
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    variables: Mapped[dict[str, Any]] = mapped_column(_json())
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    heard_text: Mapped[str | None] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    endpointing_ms: Mapped[float | None] = mapped_column(Float)
    stt_ms: Mapped[float | None] = mapped_column(Float)
    agent_first_text_ms: Mapped[float | None] = mapped_column(Float)
    tts_first_audio_ms: Mapped[float | None] = mapped_column(Float)
    first_byte_ms: Mapped[float | None] = mapped_column(Float)
    voice_to_voice_ms: Mapped[float | None] = mapped_column(Float)


class ToolCallRow(Base):
    __tablename__ = "tool_calls"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(_json())
    result: Mapped[dict[str, Any] | None] = mapped_column(_json())
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float)


class BookingRow(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index("ix_bookings_tenant_id_agent_id_date", "tenant_id", "agent_id", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str] = mapped_column(String(200))
    # No foreign key: a booking outlives the conversation that made it.
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    party_size: Mapped[int] = mapped_column(Integer)
    date: Mapped[date_type] = mapped_column(Date)
    time: Mapped[time_type] = mapped_column(Time)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class ConnectorRow(Base):
    """A messaging connector: the token an app embeds, bound to one agent."""

    __tablename__ = "connectors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ConnectorHostRow(Base):
    """A web domain (admits its subdomains) or app bundle id (exact) a connector serves."""

    __tablename__ = "connector_hosts"

    connector_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("connectors.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(253), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``"domain"`` or ``"bundle"``."""
    created_at: Mapped[datetime]


class MessagingSessionRow(Base):
    __tablename__ = "messaging_sessions"
    __table_args__ = (
        Index("ix_messaging_sessions_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    connector_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("connectors.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(String(200))
    # Deleting the conversation (back-office API) deletes the session and its events.
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    streaming: Mapped[bool] = mapped_column(Boolean)
    device_type: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(32))
    queue_name: Mapped[str | None] = mapped_column(String(200))
    live_agent_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_activity_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))
    next_sequence: Mapped[int] = mapped_column(Integer)
    """The sequence number the next event gets (1 for a new session)."""


class MessagingEventRow(Base):
    __tablename__ = "messaging_events"
    __table_args__ = (UniqueConstraint("session_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("messaging_sessions.id", ondelete="CASCADE")
    )
    sequence: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(_json())
    # ``metadata`` is taken by SQLAlchemy's declarative base.
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", _json())
    created_at: Mapped[datetime]


class ConsoleUserRow(Base):
    """A live agent who logs in to the console; usernames are unique across tenants."""

    __tablename__ = "console_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    queues: Mapped[list[str]] = mapped_column(_json())
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
