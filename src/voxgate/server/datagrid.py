"""The Datagrid-compatible voice endpoint: ``GET /ws/voice``.

The session opens in-band: the client's first message is ``start`` (agent, and a
conversation to continue); until then anything else gets ``error`` and the socket stays
open. Audio comes in at 16 kHz and goes out at 24 kHz. The conversation runs on the same
engine as every other dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket
from starlette.websockets import WebSocketDisconnect

from voxgate.agents.base import HistoryItem
from voxgate.conversation.engine import Conversation
from voxgate.conversation.spec import CallSpec
from voxgate.dialects import datagrid
from voxgate.dialects.datagrid import StartMessage, VoiceOptions, VoiceSession
from voxgate.errors import AuthError, CloseCode, ForbiddenError, InvalidEvent
from voxgate.events import Error, Ready, StartRequested
from voxgate.server.auth import api_key_from, require_api_key
from voxgate.server.calls import (
    NullRecorder,
    accept_or_refuse,
    call_token,
    new_call_id,
    new_session_id,
    open_call,
    refuse,
    resume_history,
)
from voxgate.server.session import serve
from voxgate.server.state import ServerState, state_of
from voxgate.store import ApiKey

log = logging.getLogger(__name__)
router = APIRouter()
START_TIMEOUT_S = 30.0
"""How long a socket may stay open without a valid ``start``."""


async def _send(ws: WebSocket, event: Error) -> None:
    for frame in datagrid.encode(event):
        await ws.send_text(frame)


@router.websocket("/ws/voice")
async def voice(ws: WebSocket) -> None:
    state = state_of(ws)
    if not await accept_or_refuse(ws, state):
        return
    try:
        grant = await _authenticate(ws, state)
    except AuthError as exc:
        await refuse(ws, exc, datagrid.encode)
        return
    conv = await _wait_for_start(ws, state, grant)
    if conv is None:
        return
    conv.outbox.put(Ready())
    if grant.options.initial_message:
        await conv.say_first(grant.options.initial_message)
    await serve(ws, state, conv, datagrid.encode, datagrid.decode)


@dataclass(frozen=True, slots=True)
class _Grant:
    """Who opened the socket, and what a session token baked in."""

    tenant_id: str
    key: ApiKey | None
    options: VoiceOptions = field(default_factory=lambda: VoiceOptions())
    agent_id: str | None = None
    conversation_id: str | None = None


async def _authenticate(ws: WebSocket, state: ServerState) -> _Grant:
    token = call_token(ws)
    if token and token.startswith(SESSION_TOKEN_PREFIX):
        granted = await state.store.consume_call_token(token)
        if granted is None:
            raise AuthError("session token is invalid, expired or already used")
        options = VoiceOptions.model_validate(granted.options)
        return _Grant(
            tenant_id=granted.tenant_id,
            key=None,
            options=options,
            agent_id=granted.agent_id,
            conversation_id=options.conversation_id,
        )
    key = await api_key_from(state.store, token)
    return _Grant(tenant_id=key.tenant_id, key=key)


async def _wait_for_start(ws: WebSocket, state: ServerState, grant: _Grant) -> Conversation | None:
    """Read until a valid ``start``; answer anything else with ``error``. ``None`` when the
    client leaves first."""
    while True:
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                message = await ws.receive()
        except WebSocketDisconnect:
            return None
        except TimeoutError:
            with contextlib.suppress(Exception):
                await _send(ws, Error(code="no_session", message="no 'start' in time"))
                await ws.close(CloseCode.SETUP, "no start")
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
            return await _open(state, grant, first)
        except (AuthError, LookupError, ValueError) as exc:
            code = "403" if isinstance(exc, ForbiddenError) else "invalid_event"
            if isinstance(exc, LookupError):
                code = "404"
            await _send(ws, Error(code=code, message=str(exc)))


async def _open(state: ServerState, grant: _Grant, start: StartRequested) -> Conversation:
    """Start (or continue) a conversation. Raises ``ForbiddenError`` for an agent the key
    may not use, ``LookupError`` for an unknown conversation, ``ValueError`` if no agent
    or if ``start`` contradicts what the session token baked in."""
    for asked, baked in (
        (start.agent_id, grant.agent_id),
        (start.conversation_id, grant.conversation_id),
    ):
        if asked is not None and baked is not None and asked != baked:
            raise ValueError("'start' asks for something other than this session token grants")
    options = grant.options
    resume: tuple[HistoryItem, ...] | None = None
    agent_id = start.agent_id or grant.agent_id
    conversation_id = start.conversation_id or grant.conversation_id
    call_id = new_call_id()
    if conversation_id is not None:
        record = await state.store.get_conversation(conversation_id, grant.tenant_id)
        if record is None:
            raise LookupError(f"no conversation {conversation_id!r}")
        if agent_id is not None and agent_id != record.agent_id:
            raise ValueError("that conversation belongs to another agent")
        agent_id = record.agent_id
        call_id = record.id
        resume = resume_history(record)
    if agent_id is None:
        raise ValueError("'start' needs an agent_id (or a conversation_id to continue)")
    if grant.key is not None:
        agent = state.runtime(state.agent_for_key(grant.key, agent_id).id)
    else:
        agent = state.runtime(agent_id)  # checked when the session token was issued
    variables: dict[str, str | int | float | bool] = {}
    if options.user is not None:
        variables.update(options.user.variables())
    spec = CallSpec(
        call_id=call_id,
        session_id=new_session_id(),
        tenant_id=grant.tenant_id,
        turn_settings=agent.turn_settings,
        mode="webcall",
        sample_rate=datagrid.INPUT_RATE,
        output_rate=datagrid.OUTPUT_RATE,
        variables=variables,
        dialect="datagrid",
        channel="voice",
        resume=resume,
        greet=not options.initial_message,
        silence_timeout_s=options.voice_config.silence_timeout if options.voice_config else None,
        instructions=options.config.system_prompt if options.config else None,
        extra_context=options.initial_context,
    )
    recorder = NullRecorder() if options.ephemeral else None
    conv = await open_call(state, spec, agent, recorder=recorder)
    log.info(
        "datagrid session %s: %s %s", conv.session_id, "continues" if resume else "starts", call_id
    )
    return conv


# --- POST /v1/voice ---------------------------------------------------------------------

SESSION_TOKEN_PREFIX = "vst_"
SESSION_TOKEN_TTL_S = 60


@router.post(
    "/v1/voice",
    response_model=VoiceSession,
    responses={
        400: {"description": "invalid request"},
        401: {"description": "missing or bad API key"},
        404: {"description": "unknown agent or conversation"},
    },
)
async def create_voice_session(
    body: VoiceOptions, request: Request, key: Annotated[ApiKey, Depends(require_api_key)]
) -> VoiceSession:
    """A voice session for a device: a WebSocket URL holding a single-use token (valid
    60 s; the API key never reaches the device) and the ``start`` message to send."""
    state = state_of(request)
    agent_id = body.agent_id
    if body.conversation_id is not None:
        record = await state.store.get_conversation(body.conversation_id, key.tenant_id)
        if record is None:
            raise HTTPException(404, f"no conversation {body.conversation_id!r}")
        if agent_id is not None and agent_id != record.agent_id:
            raise HTTPException(400, "that conversation belongs to another agent")
        agent_id = record.agent_id
    if agent_id is None:
        raise HTTPException(400, "agent_id is required (or a conversation_id to continue)")
    try:
        spec = state.agent_for_key(key, agent_id)
    except ForbiddenError as exc:
        raise HTTPException(404, str(exc)) from None
    if body.ephemeral and body.conversation_id is not None:
        raise HTTPException(400, "an ephemeral session cannot continue a stored conversation")
    token, _expires = await state.store.create_call_token(
        tenant_id=key.tenant_id,
        api_key_id=key.id,
        agent_id=spec.id,
        mode="webcall",
        variables={},
        ttl_s=SESSION_TOKEN_TTL_S,
        options=body.model_dump(exclude_none=True),
        prefix=SESSION_TOKEN_PREFIX,
    )
    scheme = "wss" if request.url.scheme == "https" else "ws"
    url = f"{scheme}://{request.url.netloc}/ws/voice?token={token}"
    return VoiceSession(
        url=url,
        agent_id=spec.id,
        start_message=StartMessage(payload=datagrid.start_payload(spec.id, body.conversation_id)),
    )
