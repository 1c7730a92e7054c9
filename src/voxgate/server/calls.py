"""Opening a call, the same way for every protocol endpoint.

An endpoint (Atoms, Datagrid, and the next ones: OpenAI Realtime, WebRTC, Twilio) does
only what its wire protocol asks; for the rest it calls, in order:

1. :func:`accept_or_refuse` before accepting the socket (503 while draining);
2. :func:`call_token` to read the caller's credential;
3. :func:`resume_history` when the call continues a stored conversation;
4. :func:`open_call` with the agent and a :class:`CallSpec` made with :func:`new_call_id`
   and :func:`new_session_id`: the conversation is built with the server's speech models
   and metrics hooks, started and counted;
5. :func:`refuse` when opening failed with a :class:`~voxgate.errors.VoxgateError`.

A call that keeps nothing (an ephemeral session) passes a :class:`NullRecorder`.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from datetime import datetime

from fastapi import WebSocket
from fastapi.responses import Response

from voxgate.agents.base import Agent, HistoryItem
from voxgate.conversation.engine import Conversation, TurnRecorder
from voxgate.conversation.spec import CallSpec
from voxgate.errors import AuthError, BusyError, VoxgateError
from voxgate.events import Error, ServerEvent
from voxgate.server.auth import bearer_token
from voxgate.server.state import ServerState
from voxgate.store import ConversationRecord, NewConversation, NewTurn


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def new_session_id() -> str:
    return "sess_" + secrets.token_hex(12)


async def accept_or_refuse(ws: WebSocket, state: ServerState) -> bool:
    """Accept the socket, or refuse the handshake (:class:`BusyError`'s status) while the
    server drains or is not ready yet. ``False``: refused, the endpoint returns."""
    if state.draining or not state.ready:
        busy = BusyError("server is draining or not ready; retry with backoff")
        await ws.send_denial_response(Response(str(busy), status_code=busy.http_status))
        return False
    await ws.accept()
    return True


def call_token(ws: WebSocket) -> str | None:
    """The token the client sent as ``?token=`` or in an ``Authorization: Bearer``
    header (None if neither). Raises :class:`AuthError` if it sent both."""
    query_token = ws.query_params.get("token")
    header_token = bearer_token(ws.headers)
    if query_token and header_token:
        raise AuthError("send the token in the query or in the header, not both")
    return query_token or header_token


def resume_history(record: ConversationRecord) -> tuple[HistoryItem, ...]:
    """What the agent remembers of a stored conversation: each turn as it was heard."""
    return tuple(
        HistoryItem(
            role="assistant" if t.role == "assistant" else "user",
            text=t.heard_text if t.heard_text is not None else t.text,
        )
        for t in record.turns
    )


async def open_call(
    state: ServerState, spec: CallSpec, agent: Agent, *, recorder: TurnRecorder | None = None
) -> Conversation:
    """Build the conversation (the server's speech models for a webcall, turns stored in
    ``recorder``, the store by default), start it and count it. Run it with
    :func:`voxgate.server.session.serve`. Raises what the recorder raises on start."""
    speech = state.services.speech if state.services is not None else None
    conv = Conversation(
        spec,
        agent=agent,
        speech=speech if spec.mode == "webcall" else None,
        recorder=recorder if recorder is not None else state.store,
        on_turn=lambda latency: state.metrics.observe_turn(agent.id, latency),
        on_barge_in=state.metrics.barge_ins.labels(agent.id).inc,
    )
    await conv.start()
    state.metrics.sessions.labels(spec.dialect, spec.mode).inc()
    return conv


async def refuse(
    ws: WebSocket, exc: VoxgateError, encode: Callable[[ServerEvent], list[str]]
) -> None:
    """Tell the client why the call cannot open (the dialect's error event), then close
    with the error's close code. Never raises: the client may be gone already."""
    with contextlib.suppress(Exception):
        for frame in encode(Error(code=exc.code, message=str(exc))):
            await ws.send_text(frame)
        await ws.close(exc.close_code, str(exc)[:120])


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
