"""The console's WebSocket ``GET /console/ws``: a signed-in user watches their queues,
takes waiting chats and answers them. The protocol is :mod:`voxgate.dialects.console`.

The handshake is refused with 403 from another site, 401 without a signed-in user, and
503 while the server drains or loads. A console too far behind (its outbox full, or a
followed chat's events dropped) is closed with ``TRY_AGAIN_LATER``: it reconnects and
reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import assert_never

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from voxgate.dialects import console as wire
from voxgate.dialects.messaging import SessionEnd
from voxgate.errors import AuthError, BusyError, CloseCode, ForbiddenError
from voxgate.messaging.handoff import console_topic
from voxgate.messaging.hub import Subscription, live_topic, session_topic
from voxgate.messaging.log import from_log
from voxgate.messaging.service import MessagingService
from voxgate.messaging.states import SessionState
from voxgate.server.console.calls import call_transcript, handed_over_calls
from voxgate.server.console.signin import SESSION, api_error, console_user, user_view
from voxgate.server.pages import cross_site
from voxgate.server.state import ServerState, state_of
from voxgate.store import ConsoleUser, MessagingSession

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 2000

router = APIRouter()


@router.websocket("/console/ws")
async def console_socket(ws: WebSocket) -> None:
    state = state_of(ws)
    if cross_site(ws):
        await ws.send_denial_response(
            api_error(ForbiddenError.http_status, "cross-site socket refused")
        )
        return
    user = await console_user(ws, ws.cookies.get(SESSION.name))
    if user is None:
        await ws.send_denial_response(
            api_error(AuthError.http_status, "not signed in to the console")
        )
        return
    if state.draining or not state.ready:
        busy = BusyError("server is draining or not ready; retry")
        await ws.send_denial_response(api_error(busy.http_status, str(busy)))
        return
    service = state.messaging
    with service.hub.subscribe(console_topic(user.tenant_id)) as changes:
        await ws.accept()
        console = Console(ws, state, service, user, state.console_chats[user.id])
        service.queues.sign_in(user)
        try:
            await console.run(changes)
        finally:
            service.queues.sign_out(user)
            log.info("console of %s closed", user.username)


class Console:
    """One open console socket."""

    def __init__(
        self,
        ws: WebSocket,
        state: ServerState,
        service: MessagingService,
        user: ConsoleUser,
        accepted: dict[str, None],
    ) -> None:
        self.ws = ws
        self.state = state
        self.service = service
        self.user = user
        self.accepted = accepted
        """The user's chats (shared by their consoles)."""
        self.outbox: asyncio.Queue[wire.Reply] = asyncio.Queue(OUTBOX_LIMIT)
        self.behind = asyncio.Event()
        self.following: dict[str, asyncio.Task[None]] = {}

    def send(self, reply: wire.Reply) -> None:
        try:
            self.outbox.put_nowait(reply)
        except asyncio.QueueFull:
            self.behind.set()

    async def run(self, changes: Subscription) -> None:
        self.send(wire.Hello(user=user_view(self.user)))
        self.send(self._queues())
        self.send(await handed_over_calls(self.state.store, self.user))
        for session_id in list(self.accepted):
            session = await self.state.store.get_messaging_session(session_id)
            if self._is_mine(session):
                self._follow(session_id)
            else:
                self.accepted.pop(session_id, None)
        tasks = {
            asyncio.create_task(self._write()),
            asyncio.create_task(self._read()),
            asyncio.create_task(self._watch_queues(changes)),
            asyncio.create_task(self.behind.wait()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is not None and not isinstance(failure, WebSocketDisconnect):
                    log.error("console socket failed", exc_info=failure)
            if self.behind.is_set():
                with contextlib.suppress(Exception):
                    await self.ws.close(CloseCode.TRY_AGAIN_LATER, "too far behind; reconnect")
        finally:
            everything = tasks | set(self.following.values())
            for task in everything:
                task.cancel()
            await asyncio.gather(*everything, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.ws.close()

    def _is_mine(self, session: MessagingSession | None) -> bool:
        return (
            session is not None
            and session.tenant_id == self.user.tenant_id
            and session.state == SessionState.LIVE
            and session.live_agent_id == self.user.id
            and session.ended_at is None
        )

    # --- out --------------------------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            reply = await self.outbox.get()
            await self.ws.send_text(wire.encode(reply))

    def _queues(self) -> wire.Queues:
        return wire.Queues(queues=tuple(self.service.queues.view(self.user)))

    async def _watch_queues(self, changes: Subscription) -> None:
        while True:
            await changes.queue.get()
            while not changes.queue.empty():  # one snapshot for a burst of changes
                changes.queue.get_nowait()
            changes.overflowed.clear()
            self.send(self._queues())

    def _follow(self, session_id: str) -> None:
        if session_id not in self.following:
            task = asyncio.create_task(self._chat(session_id))
            self.following[session_id] = task
            task.add_done_callback(lambda _t: self.following.pop(session_id, None))

    async def _chat(self, session_id: str) -> None:
        """Send the chat's history, then its events as they happen, until it ends. The
        subscriptions start before the history is read, so nothing falls in between."""
        hub = self.service.hub
        store = self.state.store
        with (
            hub.subscribe(session_topic(session_id)) as events,
            hub.subscribe(live_topic(session_id)) as typing,
        ):
            session = await store.get_messaging_session(session_id)
            if session is None or session.tenant_id != self.user.tenant_id:
                return
            logged = await store.list_messaging_events(session_id)
            record = await store.get_conversation(session.conversation_id, session.tenant_id)
            turns = record.turns if record is not None else ()
            self.send(
                wire.Chat(
                    session_id=session_id,
                    platform=session.platform,
                    agent_id=session.agent_id,
                    queue=session.queue_name,
                    started_at=session.created_at,
                    ended=session.ended_at is not None,
                    transcript=tuple(
                        wire.Line(role=t.role, text=t.text, at=t.started_at) for t in turns
                    ),
                    events=tuple(from_log(e).to_wire() for e in logged),
                )
            )
            if session.ended_at is not None:
                self.accepted.pop(session_id, None)
                return
            last = max((e.sequence for e in logged), default=0)
            forward = [
                asyncio.create_task(self._forward(session_id, events, last)),
                asyncio.create_task(self._forward(session_id, typing, None)),
            ]
            try:
                await asyncio.wait(forward, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in forward:
                    task.cancel()
                await asyncio.gather(*forward, return_exceptions=True)

    async def _forward(self, session_id: str, sub: Subscription, last: int | None) -> None:
        while True:
            event = await sub.queue.get()
            if sub.overflowed.is_set():
                self.behind.set()  # events were dropped: the console reconnects and reloads
                return
            if event.sequence is not None and last is not None:
                if event.sequence <= last:
                    continue  # already in the history
                last = event.sequence
            self.send(wire.ChatEvent(session_id=session_id, event=event.to_wire()))
            if event.type == SessionEnd.TYPE:
                self.accepted.pop(session_id, None)
                return

    # --- in ---------------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame: str | bytes = message.get("text") or message.get("bytes") or b""
            try:
                request = wire.decode(frame)
            except wire.BadRequest as exc:
                self.send(exc.reply())
                continue
            try:
                await self._handle(request)
            except Exception:
                log.exception("console of %s: could not handle a request", self.user.username)
                self._error("server_error", "the server could not do that; try again", request)

    def _error(self, code: wire.ErrorCode, message: str, request: wire.Request) -> None:
        self.send(wire.error(code, message, wire.echo_of(request)))

    async def _handle(self, request: wire.Request) -> None:
        user = self.user
        match request:
            case wire.Ping():
                self.send(wire.Pong())
            case wire.ListCalls():
                self.send(await handed_over_calls(self.state.store, user))
            case wire.GetTranscript():
                found = await call_transcript(self.state.store, user, request.conversation_id)
                if found is None:
                    self._error("not_found", "no such handed-over call in your queues", request)
                else:
                    self.send(found)
            case wire.Accept() | wire.Message() | wire.Typing() | wire.End():
                try:
                    await self._chat_request(request)
                except LookupError:
                    self._error("not_your_chat", "that is not a live chat of yours", request)
                except ValueError as exc:
                    self._error("bad_request", str(exc), request)
            case _:
                assert_never(request)

    async def _chat_request(self, request: wire.ChatRequest) -> None:
        """Raises ``LookupError`` for a chat that is not the user's, ``ValueError`` for
        what the service refuses."""
        service, user, session_id = self.service, self.user, request.session_id
        match request:
            case wire.Accept():
                if await service.queues.accept(user, session_id) is None:
                    self._error(
                        "not_waiting",
                        "that chat is not waiting in your queues any more "
                        "(someone else took it, or it timed out)",
                        request,
                    )
                    return
                log.info("console user %s took %s", user.username, session_id)
                self.accepted[session_id] = None
                self._follow(session_id)
            case wire.Message():
                await service.live_message(
                    user, session_id, request.text, list(request.suggestions)
                )
                self.send(wire.Ok(request=request.TYPE, session_id=session_id, ref=request.ref))
            case wire.Typing():
                await service.live_typing(user, session_id, request.typing)
            case wire.End():
                await service.live_end(user, session_id)
                self.send(wire.Ok(request=request.TYPE, session_id=session_id, ref=request.ref))
            case _:
                assert_never(request)
