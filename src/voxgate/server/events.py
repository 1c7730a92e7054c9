"""Live events of a running call as Server-Sent Events, for dashboards:
``GET /atoms/v1/events?callId=…`` (the key's own tenant only).

Each event is the Atoms JSON of a transcript, talking or interruption event (audio is not
sent), as ``event: <type>`` + ``data: <json>``; the stream ends after ``session.closed``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from voxgate.dialects import atoms
from voxgate.server.auth import require_api_key
from voxgate.server.state import state_of
from voxgate.store import ApiKey

router = APIRouter()
HEARTBEAT_S = 15.0


@router.get(
    "/atoms/v1/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the call's events", "content": {"text/event-stream": {}}},
        401: {"description": "missing or bad API key"},
        404: {"description": "no live call with that id for this key's tenant"},
    },
)
async def call_events(
    request: Request,
    key: Annotated[ApiKey, Depends(require_api_key)],
    call_id: Annotated[str, Query(alias="callId", min_length=1, max_length=200)],
) -> StreamingResponse:
    """Stream a live call's transcript and talking events."""
    state = state_of(request)
    conv = next(
        (c for c in state.live if c.call_id == call_id and c.tenant_id == key.tenant_id), None
    )
    if conv is None:
        raise HTTPException(404, f"no live call {call_id!r}")
    queue = conv.outbox.watch()

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if event is None:
                    return
                for frame in atoms.encode(event):
                    kind = json.loads(frame)["type"]
                    yield f"event: {kind}\ndata: {frame}\n\n"
        finally:
            conv.outbox.unwatch(queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
