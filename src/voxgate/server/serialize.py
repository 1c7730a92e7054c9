"""Conversations as the REST API shows them: pydantic models (which make the OpenAPI
schema) and the functions that build them from store records.

Times are ISO-8601 with their UTC offset (``2025-03-01T12:00:00.123456+00:00``);
latencies and durations are milliseconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from voxgate.conversation.latency import STAGES, TurnLatency
from voxgate.store import ConversationRecord, ConversationSummary

Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
ConversationStatus = Literal["live", "ended"]

_LATENCY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Stages of a voice turn in milliseconds; null where not measured.",
    "properties": {
        stage.field: {
            "anyOf": [{"type": "number"}, {"type": "null"}],
            "description": stage.description,
        }
        for stage in STAGES
    },
    "required": [stage.field for stage in STAGES],
}
Latency = Annotated[TurnLatency, WithJsonSchema(_LATENCY_SCHEMA)]
"""The store's :class:`TurnLatency` as the API shows it (its fields, flat)."""


class ResponseModel(BaseModel):
    """Base of response bodies: fields with defaults are still always sent, so the
    OpenAPI schema lists them as required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class TranscriptTurn(ResponseModel):
    seq: int = Field(description="1, 2, … in the order the turns happened.")
    role: str = Field(description='"user" or "assistant".')
    text: str
    heard_text: str | None = Field(
        description="For an interrupted assistant turn: the part the user heard."
    )
    interrupted: bool
    started_at: Timestamp
    ended_at: Timestamp
    latency: Latency


class ToolCall(ResponseModel):
    seq: int
    name: str
    arguments: dict[str, Any]
    result: dict[str, Any] | None = Field(description="What the tool returned; null if failed.")
    status: Literal["completed", "failed"]
    error: str | None
    started_at: Timestamp
    duration_ms: float


class ConversationData(ResponseModel):
    """A conversation with every turn and tool call in order (the Atoms shape)."""

    call_id: str
    agent_id: str
    status: ConversationStatus
    channel: str = Field(description='"voice", "chat" or "messaging".')
    mode: str
    sample_rate: int | None
    variables: dict[str, Any]
    started_at: Timestamp
    ended_at: Timestamp | None
    end_reason: str | None
    transcript: list[TranscriptTurn]
    tool_calls: list[ToolCall]


class _ConversationHead(ResponseModel):
    object: Literal["conversation"] = "conversation"
    id: str
    dialect: str = Field(description='Wire protocol it was held in: "atoms", "datagrid", ….')


class Conversation(ConversationData, _ConversationHead):
    """``GET /v1/conversations/{id}``: the Atoms shape with ``object``, ``id``, ``dialect``."""


class ConversationListItem(ResponseModel):
    id: str
    agent_id: str
    status: ConversationStatus
    channel: str
    dialect: str
    mode: str
    started_at: Timestamp
    ended_at: Timestamp | None
    end_reason: str | None
    turn_count: int


class ConversationList(ResponseModel):
    object: Literal["list"] = "list"
    data: list[ConversationListItem] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the next page; "
        "null on the last page."
    )


def _status(ended_at: datetime | None) -> ConversationStatus:
    return "live" if ended_at is None else "ended"


def conversation_data(conv: ConversationRecord) -> ConversationData:
    return ConversationData(**_data_fields(conv))


def conversation_object(conv: ConversationRecord) -> Conversation:
    return Conversation(id=conv.id, dialect=conv.dialect, **_data_fields(conv))


def conversation_json(conv: ConversationRecord) -> dict[str, Any]:
    """:func:`conversation_data` as plain JSON values."""
    return conversation_data(conv).model_dump(mode="json")


def _data_fields(conv: ConversationRecord) -> dict[str, Any]:
    return {
        "call_id": conv.id,
        "agent_id": conv.agent_id,
        "status": _status(conv.ended_at),
        "channel": conv.channel,
        "mode": conv.mode,
        "sample_rate": conv.sample_rate,
        "variables": conv.variables,
        "started_at": conv.started_at,
        "ended_at": conv.ended_at,
        "end_reason": conv.end_reason,
        "transcript": [
            TranscriptTurn(
                seq=t.seq,
                role=t.role,
                text=t.text,
                heard_text=t.heard_text,
                interrupted=t.interrupted,
                started_at=t.started_at,
                ended_at=t.ended_at,
                latency=t.latency,
            )
            for t in conv.turns
        ],
        "tool_calls": [
            ToolCall(
                seq=c.seq,
                name=c.name,
                arguments=c.arguments,
                result=c.result,
                status=c.status,
                error=c.error,
                started_at=c.started_at,
                duration_ms=c.duration_ms,
            )
            for c in conv.tool_calls
        ],
    }


def conversation_list_item(conv: ConversationSummary) -> ConversationListItem:
    return ConversationListItem(
        id=conv.id,
        agent_id=conv.agent_id,
        status=_status(conv.ended_at),
        channel=conv.channel,
        dialect=conv.dialect,
        mode=conv.mode,
        started_at=conv.started_at,
        ended_at=conv.ended_at,
        end_reason=conv.end_reason,
        turn_count=conv.turn_count,
    )
