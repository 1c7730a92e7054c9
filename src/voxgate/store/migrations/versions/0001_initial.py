"""Initial schema: tenants, api_keys, call_tokens, conversations, turns.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
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
        "tenants",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("agents", _json(), nullable=True),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        _ts("last_used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_secret_hash"), "api_keys", ["secret_hash"], unique=True)
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"])
    op.create_table(
        "call_tokens",
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("api_key_id", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(64), nullable=False),
        sa.Column("variables", _json(), nullable=False),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        sa.PrimaryKeyConstraint("secret_hash", name=op.f("pk_call_tokens")),
    )
    op.create_index(op.f("ix_call_tokens_expires_at"), "call_tokens", ["expires_at"])
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("dialect", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(64), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("variables", _json(), nullable=False),
        _ts("started_at"),
        _ts("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index(
        "ix_conversations_tenant_id_started_at", "conversations", ["tenant_id", "started_at"]
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("heard_text", sa.Text(), nullable=True),
        sa.Column("interrupted", sa.Boolean(), nullable=False),
        _ts("started_at"),
        _ts("ended_at"),
        sa.Column("endpointing_ms", sa.Float(), nullable=True),
        sa.Column("stt_ms", sa.Float(), nullable=True),
        sa.Column("agent_first_text_ms", sa.Float(), nullable=True),
        sa.Column("tts_first_audio_ms", sa.Float(), nullable=True),
        sa.Column("first_byte_ms", sa.Float(), nullable=True),
        sa.Column("voice_to_voice_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_turns_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint("conversation_id", "seq", name=op.f("uq_turns_conversation_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("turns")
    op.drop_index("ix_conversations_tenant_id_started_at", table_name="conversations")
    op.drop_table("conversations")
    op.drop_index(op.f("ix_call_tokens_expires_at"), table_name="call_tokens")
    op.drop_table("call_tokens")
    op.drop_index(op.f("ix_api_keys_tenant_id"), table_name="api_keys")
    op.drop_index(op.f("ix_api_keys_secret_hash"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("tenants")
