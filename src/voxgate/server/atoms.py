"""The Atoms-compatible endpoints: the realtime WebSocket, register-call, conversations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket

from voxgate.conversation.engine import Conversation
from voxgate.conversation.spec import CallSpec
from voxgate.dialects import atoms
from voxgate.dialects.atoms import RegisterCallData, RegisterCallRequest, RegisterCallResponse
from voxgate.errors import AuthError, ForbiddenError, SetupError
from voxgate.server.auth import api_key_from, require_api_key
from voxgate.server.calls import (
    accept_or_refuse,
    call_token,
    new_call_id,
    new_session_id,
    open_call,
    refuse,
)
from voxgate.server.openapi import error_responses
from voxgate.server.serialize import ConversationData, ResponseModel, conversation_data
from voxgate.server.serialize import conversation_json as conversation_json  # moved; re-exported
from voxgate.server.session import serve
from voxgate.server.state import ServerState, state_of
from voxgate.store import ApiKey

router = APIRouter()


# --- realtime WebSocket -------------------------------------------------------------------


@router.websocket("/atoms/v1/agent/connect")
async def agent_connect(ws: WebSocket) -> None:
    state = state_of(ws)
    if not await accept_or_refuse(ws, state):
        return
    try:
        conv = await _open_session(ws, state)
    except (AuthError, SetupError) as exc:
        await refuse(ws, exc, atoms.encode)
        return
    await serve(ws, state, conv, atoms.encode, atoms.decode)


async def _open_session(ws: WebSocket, state: ServerState) -> Conversation:
    params = atoms.parse_connect_params(ws.query_params)
    token = call_token(ws)
    if token and token.startswith("wct_"):
        call = await state.store.consume_call_token(token)
        if call is None:
            raise AuthError("call token is invalid, expired or already used")
        agent = state.runtime(call.agent_id)
        tenant_id = call.tenant_id
        mode = atoms.parse_mode(call.mode)
        variables = atoms.parse_variables(call.variables)
    else:
        key = await api_key_from(state.store, token)
        if params.agent_id is None:
            raise SetupError("agent_id is required")
        agent = state.runtime(state.agent_for_key(key, params.agent_id).id)
        tenant_id = key.tenant_id
        mode = params.mode
        variables = params.variables
    spec = CallSpec(
        call_id=new_call_id(),
        session_id=new_session_id(),
        tenant_id=tenant_id,
        turn_settings=agent.turn_settings,
        mode=mode,
        sample_rate=params.sample_rate,
        variables=variables,
        dialect="atoms",
        channel="voice" if mode == "webcall" else "chat",
    )
    return await open_call(state, spec, agent)


# --- REST ----------------------------------------------------------------------------------

ApiKeyDep = Annotated[ApiKey, Depends(require_api_key)]


@router.post(
    "/atoms/v1/conversation/register-call",
    status_code=201,
    response_model=RegisterCallResponse,
    responses=error_responses(
        400, 401, 404, 413, e404="Unknown agent, or one this API key may not use."
    ),
)
async def register_call(
    body: RegisterCallRequest, request: Request, key: ApiKeyDep
) -> RegisterCallResponse:
    """A single-use ``wct_`` call token (for browsers) with agent, mode and variables."""
    try:
        data = await issue_call_token(
            state_of(request), key, body.agent_id, mode=body.mode, variables=body.variables
        )
    except ForbiddenError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except SetupError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return RegisterCallResponse(data=data)


async def issue_call_token(
    state: ServerState,
    key: ApiKey,
    agent_id: str,
    *,
    mode: atoms.Mode = "webcall",
    variables: Mapping[str, Any] | None = None,
) -> RegisterCallData:
    """Mint a single-use ``wct_`` token for ``agent_id`` on behalf of ``key`` (what
    register-call answers). Raises :class:`ForbiddenError` for an agent the key may not
    use (or that does not exist), :class:`SetupError` for invalid variables."""
    agent = state.agent_for_key(key, agent_id)
    parsed = atoms.parse_variables(variables)
    ttl = state.settings.call_token_ttl_s
    token, _expires = await state.store.create_call_token(
        tenant_id=key.tenant_id,
        api_key_id=key.id,
        agent_id=agent.id,
        mode=mode,
        variables=dict(parsed),
        ttl_s=ttl,
    )
    return RegisterCallData(
        access_token=token, expires_in=ttl, sample_rate=atoms.DEFAULT_SAMPLE_RATE
    )


class ConversationResponse(ResponseModel):
    status: bool = True
    data: ConversationData


@router.get(
    "/atoms/v1/conversation/{call_id}",
    response_model=ConversationResponse,
    responses=error_responses(401, 404, e404="No such call for this API key's tenant."),
)
async def get_conversation(call_id: str, request: Request, key: ApiKeyDep) -> ConversationResponse:
    """A conversation of the key's tenant, with every turn in order."""
    conv = await state_of(request).store.get_conversation(call_id, key.tenant_id)
    if conv is None:
        raise HTTPException(status_code=404, detail=f"no conversation {call_id!r}")
    return ConversationResponse(data=conversation_data(conv))
