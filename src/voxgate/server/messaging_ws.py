"""The messaging WebSocket ``GET /ws?session_id&access_token&cursor``.

On connect: ``EVENT_BATCH`` with every logged event after ``cursor``; then live events.
The socket subscribes before it reads the log, so nothing falls between the two (events
already in the batch are skipped when they come again live).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.websockets import WebSocketDisconnect

from voxgate.dialects import messaging as wire
from voxgate.errors import AuthError, BusyError, CloseCode, InvalidEvent, UnavailableError
from voxgate.messaging.hub import Subscription, session_topic
from voxgate.messaging.log import transient, utcnow
from voxgate.messaging.service import MessagingService
from voxgate.server.messaging_auth import SESSION_IDLE_TIMEOUT_S, session_for
from voxgate.server.state import state_of
from voxgate.store import MessagingSession

log = logging.getLogger(__name__)
router = APIRouter()

TOO_MANY_CONNECTIONS = 429
"""The handshake's answer to one connection over ``MAX_CONNECTIONS`` per session."""


def _denial(status: int, message: str) -> Response:
    return JSONResponse(
        {"status": False, "error": {"code": str(status), "message": message}}, status_code=status
    )


@router.websocket("/ws")
async def messaging_socket(ws: WebSocket) -> None:
    state = state_of(ws)
    if state.draining or not state.ready:
        busy = BusyError("server is draining or not ready; retry")
        await ws.send_denial_response(_denial(busy.http_status, str(busy)))
        return
    session_id = ws.query_params.get("session_id")
    token = ws.query_params.get("access_token")
    if not session_id or not token:
        missing = InvalidEvent("session_id and access_token are required")
        await ws.send_denial_response(_denial(missing.http_status, str(missing)))
        return
    cursor = wire.parse_cursor(ws.query_params.get("cursor"))
    try:
        session = await session_for(state, session_id, token)
    except (AuthError, UnavailableError) as exc:
        await ws.send_denial_response(_denial(exc.http_status, str(exc)))
        return
    service = state.messaging
    topic = session_topic(session.id)
    if service.hub.count(topic) >= wire.MAX_CONNECTIONS:
        await ws.send_denial_response(
            _denial(TOO_MANY_CONNECTIONS, f"at most {wire.MAX_CONNECTIONS} connections per session")
        )
        return
    with service.hub.subscribe(topic) as sub:
        await ws.accept()
        backlog = await service.backlog(session, cursor)
        batch_id = str(uuid.uuid4())
        await ws.send_text(wire.encode_batch(backlog, id=batch_id, timestamp=utcnow()))
        last = max([cursor, *(e.sequence or 0 for e in backlog)])
        writer = asyncio.create_task(_write(ws, sub, last))
        reader = asyncio.create_task(_read(ws, service, session, sub))
        done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in (writer, reader):
            task.cancel()
        await asyncio.gather(writer, reader, return_exceptions=True)
        for task in done:
            failure = None if task.cancelled() else task.exception()
            if failure is not None and not isinstance(failure, WebSocketDisconnect):
                log.error("messaging socket failed", exc_info=failure)
        with contextlib.suppress(Exception):
            await ws.close(CloseCode.NORMAL)


async def _write(ws: WebSocket, sub: Subscription, last: int) -> None:
    """Live events to the socket, in order, each once; closes after ``SESSION_END``."""
    overflow = asyncio.create_task(sub.overflowed.wait())
    try:
        while True:
            get = asyncio.create_task(sub.queue.get())
            await asyncio.wait({get, overflow}, return_when=asyncio.FIRST_COMPLETED)
            if not get.done():
                get.cancel()
                # Too far behind: the client reconnects with its cursor and loses nothing.
                await ws.close(
                    CloseCode.TRY_AGAIN_LATER, "too far behind; reconnect with your cursor"
                )
                return
            event = get.result()
            if event.sequence is not None:
                if event.sequence <= last:
                    continue  # already in the batch
                last = event.sequence
            await ws.send_text(wire.encode(event))
            if event.type == wire.SessionEnd.TYPE:
                await ws.close(CloseCode.NORMAL, "session ended")
                return
    finally:
        overflow.cancel()


async def _read(
    ws: WebSocket, service: MessagingService, session: MessagingSession, sub: Subscription
) -> None:
    while True:
        try:
            async with asyncio.timeout(SESSION_IDLE_TIMEOUT_S):
                message = await ws.receive()
        except TimeoutError:
            await service.abandon(session)
            return
        except WebSocketDisconnect:
            return
        if message["type"] == "websocket.disconnect":
            return
        frame: str | bytes = message.get("text") or message.get("bytes") or b""
        size = len(frame.encode() if isinstance(frame, str) else frame)
        if size > wire.MAX_MESSAGE_BYTES:
            sub.put(_error(f"message of {size} bytes is over {wire.MAX_MESSAGE_BYTES}"))
            continue
        try:
            event = wire.decode_client(frame)
        except InvalidEvent as exc:
            sub.put(_error(str(exc)))
            continue
        try:
            await service.handle(session, event, sub.put)
        except Exception:
            log.exception("messaging session %s: could not handle %s", session.id, event.TYPE)
            sub.put(_error("the server could not handle that event; try again"))


def _error(message: str) -> wire.ServerEvent:
    return transient(wire.SystemMessage(level="ERROR", message=message))
