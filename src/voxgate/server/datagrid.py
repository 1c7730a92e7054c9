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
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from voxgate.agents.base import HistoryItem
from voxgate.conversation.engine import Conversation
from voxgate.conversation.spec import CallSpec
from voxgate.dialects import datagrid
from voxgate.errors import AuthError, ForbiddenError, InvalidEvent
from voxgate.events import Error, Ready, StartRequested
from voxgate.server.auth import api_key_from, bearer_token, require_api_key
from voxgate.server.session import serve
from voxgate.server.state import ServerState, state_of
from voxgate.store import ApiKey, NewConversation, NewTurn

log = logging.getLogger(__name__)
router = APIRouter()
CLOSE_UNAUTHORIZED = 4401
CLOSE_SETUP = 4000
START_TIMEOUT_S = 30.0
"""How long a socket may stay open without a valid ``start``."""


async def _send(ws: WebSocket, event: Error) -> None:
    for frame in datagrid.encode(event):
        await ws.send_text(frame)


@router.websocket("/ws/voice")
async def voice(ws: WebSocket) -> None:
    state = state_of(ws)
    if state.draining or not state.ready:
        await ws.send_denial_response(
            Response("server is draining or not ready; retry with backoff", status_code=503)
        )
        return
    await ws.accept()
    try:
        grant = await _authenticate(ws, state)
    except AuthError as exc:
        with contextlib.suppress(Exception):
            await _send(ws, Error(code=exc.code, message=str(exc)))
            await ws.close(CLOSE_UNAUTHORIZED, str(exc)[:120])
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
    query_token = ws.query_params.get("token")
    header_token = bearer_token(ws.headers)
    if query_token and header_token:
        raise AuthError("send the token in the query or in the header, not both")
    token = query_token or header_token
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
                await ws.close(CLOSE_SETUP, "no start")
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
    resume: list[HistoryItem] | None = None
    agent_id = start.agent_id or grant.agent_id
    conversation_id = start.conversation_id or grant.conversation_id
    call_id = "call_" + secrets.token_hex(12)
    if conversation_id is not None:
        record = await state.store.get_conversation(conversation_id, grant.tenant_id)
        if record is None:
            raise LookupError(f"no conversation {conversation_id!r}")
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
    if grant.key is not None:
        agent = state.runtime(state.agent_for_key(grant.key, agent_id).id)
    else:
        agent = state.runtime(agent_id)  # checked when the session token was issued
    variables: dict[str, str | int | float | bool] = {}
    if options.user is not None:
        variables.update(options.user.variables())
    spec = CallSpec(
        call_id=call_id,
        session_id="sess_" + secrets.token_hex(12),
        tenant_id=grant.tenant_id,
        turn_settings=agent.turn_settings,
        mode="webcall",
        sample_rate=datagrid.INPUT_RATE,
        output_rate=datagrid.OUTPUT_RATE,
        variables=variables,
        dialect="datagrid",
        channel="voice",
        resume=tuple(resume) if resume is not None else None,
        greet=not options.initial_message,
        silence_timeout_s=options.voice_config.silence_timeout if options.voice_config else None,
        instructions=options.config.system_prompt if options.config else None,
        extra_context=options.initial_context,
    )
    conv = Conversation(
        spec,
        agent=agent,
        speech=state.services.speech if state.services is not None else None,
        recorder=NullRecorder() if options.ephemeral else state.store,
        on_turn=lambda timing: state.metrics.observe_turn(agent.id, timing),
        on_barge_in=state.metrics.barge_ins.labels(agent.id).inc,
    )
    await conv.start()
    state.metrics.sessions.labels("datagrid", "webcall").inc()
    log.info(
        "datagrid session %s: %s %s", conv.session_id, "continues" if resume else "starts", call_id
    )
    return conv


# --- POST /v1/voice ---------------------------------------------------------------------

SESSION_TOKEN_PREFIX = "vst_"
SESSION_TOKEN_TTL_S = 60


class VoiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_transcription: bool | None = None
    output_transcription: bool | None = None
    silence_timeout: float | None = Field(default=None, gt=0, le=3600)
    """Seconds without speech from either side after which the call ends."""
    voice_preset: str | None = Field(default=None, max_length=100)


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system_prompt: str | None = Field(default=None, max_length=8000)
    custom_prompt: str | None = Field(default=None, max_length=8000)


class VoiceUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)

    def variables(self) -> dict[str, str]:
        fields = {"user_email": self.email, "user_first_name": self.first_name}
        fields["user_last_name"] = self.last_name
        return {k: v for k, v in fields.items() if v}


class VoiceOptions(BaseModel):
    """What a session opened with ``POST /v1/voice`` asks for."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = Field(default=None, min_length=1, max_length=200)
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)
    config: SessionConfig | None = None
    initial_message: str | None = Field(default=None, min_length=1, max_length=2000)
    """The agent answers this instead of greeting."""
    initial_context: str | None = Field(default=None, max_length=2000)
    ephemeral: bool = False
    """Keep nothing of the conversation after the call."""
    voice_config: VoiceConfig | None = None
    user: VoiceUser | None = None


class StartMessage(BaseModel):
    type: Literal["start"] = "start"
    payload: dict[str, str]


class VoiceSession(BaseModel):
    object: Literal["voice.session"] = "voice.session"
    url: str
    """The WebSocket URL to open, with a single-use token valid for 60 s."""
    agent_id: str
    start_message: StartMessage


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


class NullRecorder:
    """Keeps nothing: the recorder of ephemeral sessions."""

    async def create_conversation(self, conv: NewConversation) -> None:
        pass

    async def reopen_conversation(self, conversation_id: str) -> None:
        pass

    async def add_turn(self, conversation_id: str, turn: NewTurn) -> int:
        return 0

    async def end_conversation(self, conversation_id: str, reason: str, ended_at: datetime) -> None:
        pass
