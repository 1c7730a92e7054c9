"""Messaging API: connectors and their hosts, sessions with their event log, console users.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_connectors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
    )
    op.create_index(op.f("ix_connectors_tenant_id"), "connectors", ["tenant_id"])
    op.create_index(op.f("ix_connectors_token_hash"), "connectors", ["token_hash"], unique=True)
    op.create_table(
        "connector_hosts",
        sa.Column("connector_id", sa.String(32), nullable=False),
        sa.Column("host", sa.String(253), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_connector_hosts_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connector_id", "host", name=op.f("pk_connector_hosts")),
    )
    op.create_table(
        "messaging_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("connector_id", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("device_type", sa.String(100), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("queue_name", sa.String(200), nullable=True),
        sa.Column("live_agent_id", sa.String(64), nullable=True),
        _ts("created_at"),
        _ts("last_activity_at"),
        _ts("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(200), nullable=True),
        sa.Column("next_sequence", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_messaging_sessions_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_messaging_sessions_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_sessions")),
    )
    op.create_index(
        op.f("ix_messaging_sessions_connector_id"), "messaging_sessions", ["connector_id"]
    )
    op.create_index(
        op.f("ix_messaging_sessions_conversation_id"), "messaging_sessions", ["conversation_id"]
    )
    op.create_index(
        op.f("ix_messaging_sessions_last_activity_at"), "messaging_sessions", ["last_activity_at"]
    )
    op.create_index(
        "ix_messaging_sessions_tenant_id_created_at",
        "messaging_sessions",
        ["tenant_id", "created_at"],
    )
    op.create_table(
        "messaging_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("metadata", _json(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["messaging_sessions.id"],
            name=op.f("fk_messaging_events_session_id_messaging_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_messaging_events_event_id")),
        sa.UniqueConstraint(
            "session_id", "sequence", name=op.f("uq_messaging_events_session_id_sequence")
        ),
    )
    op.create_table(
        "console_users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("queues", _json(), nullable=False),
        _ts("created_at"),
        _ts("disabled_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_console_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_index(op.f("ix_console_users_tenant_id"), "console_users", ["tenant_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_console_users_tenant_id"), table_name="console_users")
    op.drop_table("console_users")
    op.drop_table("messaging_events")
    op.drop_index("ix_messaging_sessions_tenant_id_created_at", table_name="messaging_sessions")
    op.drop_index(op.f("ix_messaging_sessions_last_activity_at"), table_name="messaging_sessions")
    op.drop_index(op.f("ix_messaging_sessions_conversation_id"), table_name="messaging_sessions")
    op.drop_index(op.f("ix_messaging_sessions_connector_id"), table_name="messaging_sessions")
    op.drop_table("messaging_sessions")
    op.drop_table("connector_hosts")
    op.drop_index(op.f("ix_connectors_token_hash"), table_name="connectors")
    op.drop_index(op.f("ix_connectors_tenant_id"), table_name="connectors")
    op.drop_table("connectors")
