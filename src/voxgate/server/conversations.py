"""``/v1/conversations``: the back-office API to list, read and delete conversations.

Every route needs an API key (``Authorization: Bearer``) and sees its tenant's
conversations only; another tenant's conversation is answered 404, like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import AwareDatetime

from voxgate.server.auth import require_api_key
from voxgate.server.openapi import error_responses
from voxgate.server.serialize import (
    Conversation,
    ConversationList,
    conversation_list_item,
    conversation_object,
)
from voxgate.server.state import ServerState, state_of
from voxgate.store import ApiKey

router = APIRouter(prefix="/v1/conversations")

MAX_LIMIT = 200
ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
# Agent ids follow voxgate.agents.spec.Identifier.
AGENT_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"

ApiKeyDep = Annotated[ApiKey, Depends(require_api_key)]
ConversationId = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        description="The conversation's id (`call_…`, as `call_id` in the Atoms API).",
    ),
]


def _state(request: Request) -> ServerState:
    state = state_of(request)
    return state


def _utc(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise HTTPException(400, f"{name} is out of range") from None


@router.get(
    "",
    response_model=ConversationList,
    responses=error_responses(400, 401, e400="Invalid parameter or cursor."),
)
async def list_conversations(
    request: Request,
    key: ApiKeyDep,
    agent_id: Annotated[
        str | None, Query(pattern=AGENT_ID_PATTERN, description="Only this agent's.")
    ] = None,
    channel: Annotated[
        Literal["voice", "chat", "messaging"] | None, Query(description="Only this channel.")
    ] = None,
    started_after: Annotated[
        AwareDatetime | None,
        Query(description="Only those started at or after this time (ISO-8601, with offset)."),
    ] = None,
    started_before: Annotated[
        AwareDatetime | None,
        Query(description="Only those started before this time (ISO-8601, with offset)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` of the previous page."),
    ] = None,
) -> ConversationList:
    """The tenant's conversations, newest first, a page at a time (no turns; their
    count). Follow ``next_cursor`` until it is null."""
    try:
        page, next_cursor = await _state(request).store.list_conversations(
            key.tenant_id,
            agent_id=agent_id,
            channel=channel,
            started_after=_utc("started_after", started_after),
            started_before=_utc("started_before", started_before),
            limit=limit,
            cursor=cursor,
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return ConversationList(data=[conversation_list_item(c) for c in page], next_cursor=next_cursor)


@router.get(
    "/{conversation_id}",
    response_model=Conversation,
    responses=error_responses(400, 401, 404),
)
async def get_conversation(
    conversation_id: ConversationId, request: Request, key: ApiKeyDep
) -> Conversation:
    """One conversation with every turn (text, timings, latencies) and tool call, in
    order."""
    conv = await _state(request).store.get_conversation(conversation_id, key.tenant_id)
    if conv is None:
        raise HTTPException(404, f"no conversation {conversation_id!r}")
    return conversation_object(conv)


@router.delete(
    "/{conversation_id}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted."}, **error_responses(400, 401, 404)},
)
async def delete_conversation(
    conversation_id: ConversationId, request: Request, key: ApiKeyDep
) -> Response:
    """Delete a conversation with its turns and tool calls. Bookings made in it stay,
    unlinked from it. voxgate keeps no call audio, so there is none to delete."""
    if not await _state(request).store.delete_conversation(conversation_id, key.tenant_id):
        raise HTTPException(404, f"no conversation {conversation_id!r}")
    return Response(status_code=204)
