"""The Datagrid-compatible voice endpoint: ``GET /ws/voice``.

The session opens in-band: the client's first message is ``start`` (agent, and a
conversation to continue); until then anything else gets ``error`` and the socket stays
open. Audio comes in at 16 kHz and goes out at 24 kHz. The conversation runs on the same
engine as every other dialect.
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from fastapi import APIRouter, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect

from voxgate.agents.base import HistoryItem
from voxgate.conversation.engine import Conversation
from voxgate.dialects import datagrid
from voxgate.errors import AuthError, ForbiddenError, InvalidEvent
from voxgate.events import Error, Ready, StartRequested
from voxgate.server.auth import api_key_from, bearer_token
from voxgate.server.session import serve
from voxgate.server.state import ServerState
from voxgate.store import ApiKey

log = logging.getLogger(__name__)
router = APIRouter()
CLOSE_UNAUTHORIZED = 4401


async def _send(ws: WebSocket, event: Error) -> None:
    for frame in datagrid.encode(event):
        await ws.send_text(frame)


@router.websocket("/ws/voice")
async def voice(ws: WebSocket) -> None:
    state: ServerState = ws.app.state.voxgate
    if state.draining or not state.ready:
        await ws.send_denial_response(
            Response("server is draining or not ready; retry with backoff", status_code=503)
        )
        return
    await ws.accept()
    try:
        query_token = ws.query_params.get("token")
        header_token = bearer_token(ws.headers)
        if query_token and header_token:
            raise AuthError("send the token in the query or in the header, not both")
        key = await api_key_from(state.store, query_token or header_token)
    except AuthError as exc:
        with contextlib.suppress(Exception):
            await _send(ws, Error(code=exc.code, message=str(exc)))
            await ws.close(CLOSE_UNAUTHORIZED, str(exc)[:120])
        return
    conv = await _wait_for_start(ws, state, key)
    if conv is None:
        return
    conv.outbox.put(Ready())
    await serve(ws, state, conv, datagrid.encode, datagrid.decode)


async def _wait_for_start(ws: WebSocket, state: ServerState, key: ApiKey) -> Conversation | None:
    """Read until a valid ``start``; answer anything else with ``error``. ``None`` when the
    client leaves first."""
    while True:
        try:
            message = await ws.receive()
        except WebSocketDisconnect:
            return None
        if message["type"] == "websocket.disconnect":
            return None
        frame: str | bytes = message.get("text") or message.get("bytes") or b""
        try:
            events = datagrid.decode(frame)
        except InvalidEvent as exc:
            await _send(ws, Error(code=exc.code, message=str(exc)))
            continue
        first = events[0] if events else None
        if not isinstance(first, StartRequested):
            await _send(ws, Error(code="no_session", message="send 'start' first"))
            continue
        try:
            return await _open(state, key, first)
        except (AuthError, LookupError, ValueError) as exc:
            code = "403" if isinstance(exc, ForbiddenError) else "invalid_event"
            if isinstance(exc, LookupError):
                code = "404"
            await _send(ws, Error(code=code, message=str(exc)))


async def _open(state: ServerState, key: ApiKey, start: StartRequested) -> Conversation:
    """Start (or continue) a conversation. Raises ``ForbiddenError`` for an agent the key
    may not use, ``LookupError`` for an unknown conversation, ``ValueError`` if no agent."""
    resume: list[HistoryItem] | None = None
    agent_id = start.agent_id
    call_id = "call_" + secrets.token_hex(12)
    if start.conversation_id is not None:
        record = await state.store.get_conversation(start.conversation_id, key.tenant_id)
        if record is None:
            raise LookupError(f"no conversation {start.conversation_id!r}")
        if agent_id is not None and agent_id != record.agent_id:
            raise ValueError("that conversation belongs to another agent")
        agent_id = record.agent_id
        call_id = record.id
        resume = [
            HistoryItem(
                role="assistant" if t.role == "assistant" else "user",
                text=t.heard_text if t.heard_text is not None else t.text,
            )
            for t in record.turns
        ]
    if agent_id is None:
        raise ValueError("'start' needs an agent_id (or a conversation_id to continue)")
    agent = state.runtime(state.agent_for_key(key, agent_id).id)
    conv = Conversation(
        call_id=call_id,
        session_id="sess_" + secrets.token_hex(12),
        tenant_id=key.tenant_id,
        agent=agent,
        turn_settings=agent.turn_settings,
        services=state.services,
        recorder=state.store,
        mode="webcall",
        sample_rate=datagrid.INPUT_RATE,
        output_rate=datagrid.OUTPUT_RATE,
        variables={},
        dialect="datagrid",
        channel="voice",
        resume=resume,
        on_turn=lambda timing: state.metrics.observe_turn(agent.id, timing),
        on_barge_in=state.metrics.barge_ins.labels(agent.id).inc,
    )
    await conv.start()
    state.metrics.sessions.labels("datagrid", "webcall").inc()
    log.info(
        "datagrid session %s: %s %s", conv.session_id, "continues" if resume else "starts", call_id
    )
    return conv
