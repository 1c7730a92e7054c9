"""Voice and Atoms text calls the agent handed over to a console user's queues: the list
of the last :data:`CALLS_WINDOW` and one call's transcript. Those callers do not wait in
a queue here; their transcripts are for whoever takes the call on the phone side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from voxgate.dialects import console as wire
from voxgate.store import ConsoleUser, ConversationRecord, Store

CALLS_WINDOW = timedelta(hours=24)
MAX_CALLS = 20


def handoff_of(record: ConversationRecord) -> tuple[str, str] | None:
    """``(queue, reason)`` of a call the agent handed over, from its last
    ``transfer_to_human`` tool call; None when it was not handed over."""
    if record.end_reason != "handoff" or record.channel == "messaging":
        return None
    queue, reason = "default", ""
    for call in record.tool_calls:
        if call.name == "transfer_to_human":
            result = call.result or {}
            queue = str(result.get("queue") or call.arguments.get("queue") or "default")
            reason = str(call.arguments.get("reason") or "")
    return queue, reason


async def handed_over_calls(store: Store, user: ConsoleUser) -> wire.Calls:
    """The user's tenant's calls of the last :data:`CALLS_WINDOW` that were handed over to
    one of the user's queues, newest first, at most :data:`MAX_CALLS`."""
    since = datetime.now(UTC) - CALLS_WINDOW
    found: list[wire.CallSummary] = []
    cursor = None
    while len(found) < MAX_CALLS:
        page, cursor = await store.list_conversations(
            user.tenant_id, started_after=since, limit=100, cursor=cursor
        )
        for summary in page:
            if summary.end_reason != "handoff" or summary.channel == "messaging":
                continue
            record = await store.get_conversation(summary.id, user.tenant_id)
            handoff = handoff_of(record) if record is not None else None
            if handoff is None or handoff[0] not in user.queues:
                continue
            found.append(
                wire.CallSummary(
                    conversation_id=summary.id,
                    channel=summary.channel,
                    agent_id=summary.agent_id,
                    queue=handoff[0],
                    reason=handoff[1],
                    started_at=summary.started_at,
                    ended_at=summary.ended_at,
                    turn_count=summary.turn_count,
                )
            )
            if len(found) == MAX_CALLS:
                break
        if cursor is None:
            break
    return wire.Calls(calls=tuple(found))


async def call_transcript(
    store: Store, user: ConsoleUser, conversation_id: str
) -> wire.Transcript | None:
    """A handed-over call's transcript, if it went to one of the user's queues."""
    record = await store.get_conversation(conversation_id, user.tenant_id)
    handoff = handoff_of(record) if record is not None else None
    if record is None or handoff is None or handoff[0] not in user.queues:
        return None
    return wire.Transcript(
        conversation_id=record.id,
        channel=record.channel,
        agent_id=record.agent_id,
        queue=handoff[0],
        reason=handoff[1],
        started_at=record.started_at,
        ended_at=record.ended_at,
        turns=tuple(wire.Line(role=t.role, text=t.text, at=t.started_at) for t in record.turns),
    )
