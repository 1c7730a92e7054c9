"""Pumping one WebSocket session: frames in through a dialect to the conversation, the
conversation's outbox out through the dialect, until either side ends it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voxgate.conversation.engine import Conversation
from voxgate.errors import CloseCode, InvalidEvent
from voxgate.events import ClientEvent, Error, ServerEvent
from voxgate.server.state import ServerState


async def serve(
    ws: WebSocket,
    state: ServerState,
    conv: Conversation,
    encode: Callable[[ServerEvent], list[str]],
    decode: Callable[[str | bytes], list[ClientEvent]],
) -> None:
    """Run a started conversation on ``ws`` as a live session of the server (drained on
    shutdown, counted in the metrics)."""
    task = asyncio.current_task()
    assert task is not None
    state.live.add(conv)
    state.handlers.add(task)
    state.metrics.live.inc()
    try:
        await pump(ws, conv, encode, decode)
    finally:
        state.metrics.live.dec()
        state.live.discard(conv)
        state.handlers.discard(task)


async def pump(
    ws: WebSocket,
    conv: Conversation,
    encode: Callable[[ServerEvent], list[str]],
    decode: Callable[[str | bytes], list[ClientEvent]],
) -> None:
    """Pump frames both ways until the client leaves or the conversation finishes."""

    async def write() -> None:
        while (event := await conv.outbox.get()) is not None:
            for frame in encode(event):
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
                events = decode(frame)
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
            code = (
                CloseCode.SERVICE_RESTART
                if conv.end_reason == "server_shutdown"
                else CloseCode.NORMAL
            )
            with contextlib.suppress(Exception):
                await ws.close(code)
