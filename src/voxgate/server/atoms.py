"""The Atoms-compatible endpoints: the realtime WebSocket, register-call, conversations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voxgate.agents.runtime import AgentRuntime
from voxgate.agents.spec import AgentSpec
from voxgate.conversation.engine import Conversation
from voxgate.dialects import atoms
from voxgate.errors import AuthError, ForbiddenError, InvalidEvent, SetupError
from voxgate.events import Error
from voxgate.server.auth import api_key_from, bearer_token, require_api_key
from voxgate.server.state import ServerState
from voxgate.store import ApiKey, ConversationRecord

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_NORMAL = 1000
CLOSE_SERVICE_RESTART = 1012
CLOSE_SETUP = 4000
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


def _state(obj: WebSocket | Request) -> ServerState:
    state: ServerState = obj.app.state.voxgate
    return state


def _agent_for_key(state: ServerState, key: ApiKey, agent_id: str) -> AgentSpec:
    """The agent ``key`` may use. Unknown agents and other tenants' look the same."""
    found = state.specs.get(agent_id)
    if (
        found is None
        or state.agent_tenant_id(found[0]) != key.tenant_id
        or not key.allows_agent(agent_id)
    ):
        raise ForbiddenError(f"agent {agent_id!r} does not exist or is not allowed for this key")
    return found[0]


def _runtime(state: ServerState, agent_id: str) -> AgentRuntime:
    agent = state.agents.get(agent_id)
    if agent is None:
        raise ForbiddenError(f"agent {agent_id!r} no longer exists")
    return agent


# --- realtime WebSocket -------------------------------------------------------------------


@router.websocket("/atoms/v1/agent/connect")
async def agent_connect(ws: WebSocket) -> None:
    state = _state(ws)
    if state.draining or not state.ready:
        await ws.send_denial_response(
            Response("server is draining or not ready; retry with backoff", status_code=503)
        )
        return
    await ws.accept()
    try:
        conv = await _open_session(ws, state)
    except (AuthError, SetupError) as exc:
        code = (
            CLOSE_FORBIDDEN
            if isinstance(exc, ForbiddenError)
            else CLOSE_UNAUTHORIZED
            if isinstance(exc, AuthError)
            else CLOSE_SETUP
        )
        with contextlib.suppress(Exception):
            for frame in atoms.encode(Error(code=exc.code, message=str(exc))):
                await ws.send_text(frame)
            await ws.close(code, str(exc)[:120])
        return
    task = asyncio.current_task()
    assert task is not None
    state.live.add(conv)
    state.handlers.add(task)
    state.metrics.live.inc()
    try:
        await _run_session(ws, conv)
    finally:
        state.metrics.live.dec()
        state.live.discard(conv)
        state.handlers.discard(task)


async def _open_session(ws: WebSocket, state: ServerState) -> Conversation:
    params = atoms.parse_connect_params(ws.query_params)
    query_token = ws.query_params.get("token")
    header_token = bearer_token(ws.headers)
    if query_token and header_token:
        raise AuthError("send the token in the query or in the header, not both")
    token = query_token or header_token
    if token and token.startswith("wct_"):
        call = await state.store.consume_call_token(token)
        if call is None:
            raise AuthError("call token is invalid, expired or already used")
        agent = _runtime(state, call.agent_id)
        tenant_id = call.tenant_id
        mode = atoms.parse_mode(call.mode)
        variables = atoms.parse_variables(call.variables)
    else:
        key = await api_key_from(state.store, token)
        if params.agent_id is None:
            raise SetupError("agent_id is required")
        agent = _runtime(state, _agent_for_key(state, key, params.agent_id).id)
        tenant_id = key.tenant_id
        mode = params.mode
        variables = params.variables
    conv = Conversation(
        call_id="call_" + secrets.token_hex(12),
        session_id="sess_" + secrets.token_hex(12),
        tenant_id=tenant_id,
        agent=agent,
        turn_settings=agent.turn_settings,
        services=state.services if mode == "webcall" else None,
        recorder=state.store,
        mode=mode,
        sample_rate=params.sample_rate,
        variables=variables,
        dialect="atoms",
        channel="voice" if mode == "webcall" else "chat",
        on_turn=lambda timing: state.metrics.observe_turn(agent.id, timing),
        on_barge_in=state.metrics.barge_ins.labels(agent.id).inc,
    )
    await conv.start()
    state.metrics.sessions.labels("atoms", mode).inc()
    return conv


async def _run_session(ws: WebSocket, conv: Conversation) -> None:
    """Pump frames both ways until the client leaves or the conversation finishes."""

    async def write() -> None:
        while (event := await conv.outbox.get()) is not None:
            for frame in atoms.encode(event):
                await ws.send_text(frame)

    async def read() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame: str | bytes | None = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            try:
                events = atoms.decode(frame)
            except InvalidEvent as exc:
                conv.outbox.put(Error(code=exc.code, message=str(exc)))
                continue
            for event in events:
                await conv.handle(event)

    writer = asyncio.create_task(write())
    reader = asyncio.create_task(read())
    finished = asyncio.create_task(conv.finished.wait())
    try:
        await asyncio.wait({reader, finished, writer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not conv.finished.is_set():
            # The client went away (or its socket broke): keep what was said.
            await conv.close("websocket_closed")
        reader.cancel()
        finished.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer, timeout=5)
        if not writer.done():
            writer.cancel()
        for task in (reader, finished, writer):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
        if ws.client_state is WebSocketState.CONNECTED:
            code = CLOSE_SERVICE_RESTART if conv.end_reason == "server_shutdown" else CLOSE_NORMAL
            with contextlib.suppress(Exception):
                await ws.close(code)


# --- REST ----------------------------------------------------------------------------------

ApiKeyDep = Annotated[ApiKey, Depends(require_api_key)]


class RegisterCallRequest(BaseModel):
    agent_id: str = Field(min_length=1, max_length=200)
    mode: Literal["webcall", "chat"] = "webcall"
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)


class RegisterCallData(BaseModel):
    access_token: str
    expires_in: int
    sample_rate: int


class RegisterCallResponse(BaseModel):
    status: bool = True
    data: RegisterCallData


@router.post(
    "/atoms/v1/conversation/register-call",
    status_code=201,
    response_model=RegisterCallResponse,
    responses={401: {"description": "bad API key"}, 404: {"description": "unknown agent"}},
)
async def register_call(
    body: RegisterCallRequest, request: Request, key: ApiKeyDep
) -> RegisterCallResponse:
    """A single-use ``wct_`` call token (for browsers) with agent, mode and variables."""
    state = _state(request)
    try:
        agent = _agent_for_key(state, key, body.agent_id)
        variables = atoms.parse_variables(body.variables)
    except ForbiddenError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except SetupError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    ttl = state.settings.call_token_ttl_s
    token, _expires = await state.store.create_call_token(
        tenant_id=key.tenant_id,
        api_key_id=key.id,
        agent_id=agent.id,
        mode=body.mode,
        variables=dict(variables),
        ttl_s=ttl,
    )
    return RegisterCallResponse(
        data=RegisterCallData(
            access_token=token, expires_in=ttl, sample_rate=atoms.DEFAULT_SAMPLE_RATE
        )
    )


def conversation_json(conv: ConversationRecord) -> dict[str, Any]:
    latency_fields = (
        "endpointing_ms",
        "stt_ms",
        "agent_first_text_ms",
        "tts_first_audio_ms",
        "first_byte_ms",
        "voice_to_voice_ms",
    )
    return {
        "call_id": conv.id,
        "agent_id": conv.agent_id,
        "status": "ended" if conv.ended_at else "live",
        "channel": conv.channel,
        "mode": conv.mode,
        "sample_rate": conv.sample_rate,
        "variables": conv.variables,
        "started_at": conv.started_at.isoformat(),
        "ended_at": conv.ended_at.isoformat() if conv.ended_at else None,
        "end_reason": conv.end_reason,
        "transcript": [
            {
                "seq": t.seq,
                "role": t.role,
                "text": t.text,
                "heard_text": t.heard_text,
                "interrupted": t.interrupted,
                "started_at": t.started_at.isoformat(),
                "ended_at": t.ended_at.isoformat(),
                "latency": {f: getattr(t, f) for f in latency_fields},
            }
            for t in conv.turns
        ],
        "tool_calls": [
            {
                "seq": c.seq,
                "name": c.name,
                "arguments": c.arguments,
                "result": c.result,
                "status": c.status,
                "error": c.error,
                "started_at": c.started_at.isoformat(),
                "duration_ms": c.duration_ms,
            }
            for c in conv.tool_calls
        ],
    }


@router.get(
    "/atoms/v1/conversation/{call_id}",
    responses={401: {"description": "bad API key"}, 404: {"description": "no such call"}},
)
async def get_conversation(call_id: str, request: Request, key: ApiKeyDep) -> dict[str, Any]:
    """A conversation of the key's tenant, with every turn in order."""
    conv = await _state(request).store.get_conversation(call_id, key.tenant_id)
    if conv is None:
        raise HTTPException(status_code=404, detail=f"no conversation {call_id!r}")
    return {"status": True, "data": conversation_json(conv)}
