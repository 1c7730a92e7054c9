"""``MessagingClient``: a text conversation over the messaging API, as the mobile messaging
SDKs hold it.

::

    async with MessagingClient("http://127.0.0.1:8700", connector_token=TOKEN,
                               host="example.com", streaming=True) as chat:
        await chat.send("When are you open?")
        async for event in chat:            # every event once, in order
            if event["type"] == "POLY_AGENT_MESSAGE": ...

- Gets an access token (``X-Token`` + ``X-Host``) and creates a session, or continues
  ``session_id`` from ``cursor`` (persist both to survive an app restart).
- Reconnects with backoff (1 s → 30 s, jitter) to the same session with the last
  sequence seen as cursor; never opens a new session to reconnect.
- De-duplicates by ``id``, orders by ``sequence``, flattens ``EVENT_BATCH``, and
  assembles streamed chunks into :class:`ChatMessage` (``chat.messages``).
- Sends ``HEARTBEAT`` every 30 s; messages typed while offline are sent on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from voxgate.client.backoff import ReconnectPolicy, is_transient
from voxgate.client.closing import ClosedOnExit
from voxgate.client.events import Connected, Failed, Reconnected, Reconnecting
from voxgate.client.reconnect import ConnectFailed, reconnect_loop
from voxgate.client.urls import server_base
from voxgate.dialects import messaging as wire
from voxgate.errors import ClientError, InvalidEvent

log = logging.getLogger(__name__)

MESSAGING_RECONNECT = ReconnectPolicy(initial_s=1.0, maximum_s=30.0)
AGENT_MESSAGES = frozenset({"POLY_AGENT_MESSAGE", "POLY_AGENT_MESSAGE_CHUNK", "LIVE_AGENT_MESSAGE"})


class MessagingError(ClientError):
    """The messaging API refused: ``status`` is the HTTP status (or close code)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message if status is None else f"{message} ({status})")
        self.status = status
        self.message = message


@dataclass
class ChatMessage:
    """One message of the conversation; agent messages grow as their chunks arrive."""

    message_id: str
    sender: str
    """``user``, ``agent`` (the virtual agent) or ``live_agent``."""
    text: str = ""
    complete: bool = True
    suggestions: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    chunks: dict[int, str] = field(default_factory=dict)


class MessagingClient(ClosedOnExit):
    """One messaging session. Use as an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        connector_token: str,
        host: str,
        platform: str = "web",
        streaming: bool = False,
        device_type: str | None = None,
        session_id: str | None = None,
        cursor: int = 0,
        reconnect: ReconnectPolicy | None = None,
        on_event: Callable[[dict[str, Any]], object] | None = None,
        open_timeout: float = 10.0,
        heartbeat_s: float = wire.HEARTBEAT_INTERVAL_S,
    ) -> None:
        self.http_url = server_base(url, websocket=False)
        self.ws_url = "ws" + self.http_url[4:]
        self.connector_token = connector_token
        self.host = host
        self.platform = platform
        self.streaming = streaming
        self.device_type = device_type
        self.session_id = session_id
        self.cursor = cursor
        """The last sequence received: persist it with ``session_id``."""
        self.policy = reconnect or MESSAGING_RECONNECT
        self.open_timeout = open_timeout
        self.heartbeat_s = heartbeat_s
        self.messages: dict[str, ChatMessage] = {}
        self.handshakes = 0
        self.failure: Failed | None = None
        self.ended: dict[str, Any] | None = None
        self._on_event = on_event
        self._access_token: str | None = None
        self._seen: set[str] = set()
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._done = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._pending: list[str] = []
        self._closing = False
        self._new_session = session_id is None
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewed = False
        """Whether the access token was renewed since the last connection (once only)."""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Authenticate, create (or continue) the session and connect. Raises
        :class:`MessagingError` when refused."""
        self._access_token = await self._fetch_access_token()
        if self.session_id is None:
            self.session_id = await self._create_session()
        self._runner = asyncio.create_task(self._run())
        waiters = {
            asyncio.create_task(self._connected.wait()),
            asyncio.create_task(self._done.wait()),
        }
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if not self._connected.is_set():
            failure = self.failure or Failed(reason="connection closed")
            raise MessagingError(failure.reason, failure.code)

    async def close(self) -> None:
        """Leave the socket (the session stays open for a later ``session_id`` + cursor)."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._finish()

    def drop_connection(self) -> None:
        """Abort the socket as a network failure would (tests and 'airplane mode')."""
        if self._ws is not None:
            self._ws.transport.abort()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- sending --------------------------------------------------------------------------

    async def send(self, text: str) -> str:
        """A user message; returns its ``client_event_id`` (echoed back as a receipt).
        Sent after a reconnect if the socket is down."""
        if not text.strip():
            raise ValueError("text must not be empty")
        client_event_id = "ce_" + uuid.uuid4().hex
        frame = wire.encode_client("USER_MESSAGE", {"text": text}, client_event_id=client_event_id)
        if not await self._send(frame):
            self._pending.append(frame)
        return client_event_id

    async def tap(self, suggestion: str | dict[str, Any]) -> str:
        """The user tapped a response suggestion: send its text."""
        text = suggestion if isinstance(suggestion, str) else str(suggestion["message_text"])
        return await self.send(text)

    async def typing(self, started: bool) -> None:
        state = wire.TYPING_STARTED if started else wire.TYPING_STOPPED
        await self._send(wire.encode_client("USER_TYPING", {"state": state}))

    async def end(self, timeout: float = 10.0) -> None:
        """End the session (``USER_END_SESSION``) and wait for ``SESSION_END``."""
        await self._send(wire.encode_client("USER_END_SESSION"))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._done.wait()

    async def _send(self, frame: str) -> bool:
        ws = self._ws
        if ws is None or not self._connected.is_set():
            return False
        try:
            await ws.send(frame)
        except ConnectionClosed:
            return False
        return True

    # --- events ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while (event := await self._queue.get()) is not None:
            yield event

    def _emit(self, event: dict[str, Any]) -> None:
        if self._on_event is not None:
            try:
                result = self._on_event(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(_quietly(result))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("event handler failed")
        self._queue.put_nowait(event)

    def _client_event(self, event: Connected | Reconnecting | Reconnected | Failed) -> None:
        name = type(event).__name__
        self._emit({"type": f"CLIENT_{name.upper()}", "payload": event})

    def _finish(self) -> None:
        if not self._done.is_set():
            self._done.set()
            self._queue.put_nowait(None)
        self._connected.clear()

    def _accept(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` is new (de-duplicated by id and sequence)."""
        event_id = event.get("id")
        if isinstance(event_id, str):
            if event_id in self._seen:
                return False
            self._seen.add(event_id)
        sequence = event.get("sequence")
        if isinstance(sequence, int):
            if sequence <= self.cursor:
                return False
            self.cursor = sequence
        return True

    def _assemble(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        payload = event.get("payload") or {}
        if kind == "USER_MESSAGE" and isinstance(payload.get("message_id"), str):
            mid = payload["message_id"]
            self.messages[mid] = ChatMessage(mid, "user", str(payload.get("text", "")))
            return
        if kind not in AGENT_MESSAGES or not isinstance(payload.get("message_id"), str):
            return
        mid = payload["message_id"]
        sender = "live_agent" if kind == "LIVE_AGENT_MESSAGE" else "agent"
        msg = self.messages.setdefault(mid, ChatMessage(mid, sender))
        if kind == "POLY_AGENT_MESSAGE_CHUNK":
            index = payload.get("chunk_index")
            if isinstance(index, int):
                msg.chunks[index] = str(payload.get("text", ""))
            msg.text = "".join(msg.chunks[i] for i in sorted(msg.chunks))
            msg.complete = bool(payload.get("is_complete"))
        else:
            msg.text = str(payload.get("text", ""))
            msg.complete = True
        if payload.get("response_suggestions"):
            msg.suggestions = [
                str(s.get("message_text", "")) for s in payload["response_suggestions"]
            ]
        if payload.get("attachments"):
            msg.attachments = list(payload["attachments"])

    # --- connection -----------------------------------------------------------------------

    async def _fetch_access_token(self) -> str:
        async with httpx.AsyncClient(base_url=self.http_url, timeout=self.open_timeout) as http:
            try:
                got = await http.post(
                    "/api/v1/access-token",
                    json={},
                    headers={"X-Token": self.connector_token, "X-Host": self.host},
                )
            except httpx.TransportError as exc:
                raise MessagingError(f"cannot reach {self.http_url}: {exc}") from None
        if got.status_code != 200:
            raise MessagingError(f"access token refused: {_detail(got)}", got.status_code)
        token = got.json()["access_token"]
        assert isinstance(token, str)
        return token

    async def _create_session(self) -> str:
        body: dict[str, Any] = {"platform": self.platform, "streaming_enabled": self.streaming}
        if self.device_type:
            body["device_type"] = self.device_type
        async with httpx.AsyncClient(base_url=self.http_url, timeout=self.open_timeout) as http:
            got = await http.post(
                "/api/v1/sessions",
                json=body,
                headers={"Authorization": f"Bearer {self._access_token}"},
            )
        if got.status_code not in (200, 201):
            raise MessagingError(f"session refused: {_detail(got)}", got.status_code)
        session_id = got.json()["session_id"]
        assert isinstance(session_id, str)
        return session_id

    async def _run(self) -> None:
        try:
            await reconnect_loop(
                self.policy,
                connect=self._open,
                serve=self._serve,
                announce=self._client_event,
                fail=self._fail,
                closing=lambda: self._closing,
            )
        finally:
            self._finish()

    async def _serve(self, ws: ClientConnection, attempt: int | None) -> str | None:
        """One connection until it drops: why it was lost, or ``None`` if the session is
        over (or closed)."""
        self._ws = ws
        self._connected.set()
        assert self.session_id is not None
        self._client_event(
            Connected(session_id=self.session_id, call_id="", input_rate=0, output_rate=0)
        )
        if attempt is not None:
            self._client_event(Reconnected(attempt=attempt, session_id=self.session_id, call_id=""))
        self._renewed = False
        heartbeat = asyncio.create_task(self._heartbeat(ws))
        try:
            await self._after_connect(ws)
            code = await self._read(ws)
        finally:
            heartbeat.cancel()
        self._ws = None
        self._connected.clear()
        if self._closing or self.ended is not None:
            return None
        if not is_transient(close_code=code):
            self._fail(f"the server closed the session ({code})", code)
            return None
        return f"connection lost ({code or 'no close frame'})"

    def _fail(self, reason: str, code: int | None = None) -> None:
        self.failure = Failed(reason=reason, code=code)
        self._client_event(self.failure)

    async def _open(self) -> ClientConnection:
        """One handshake. Raises ConnectFailed: transient on network errors, 429 and 5xx,
        and once after renewing an expired access token (401)."""
        query = urlencode(
            {
                "session_id": self.session_id or "",
                "access_token": self._access_token or "",
                "cursor": str(self.cursor),
            }
        )
        self.handshakes += 1
        try:
            return await websockets.connect(
                f"{self.ws_url}/ws?{query}",
                open_timeout=self.open_timeout,
                max_size=wire.MAX_MESSAGE_BYTES * 64,  # replays come in one batch
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401 and not self._renewed:  # the access token expired: renew
                self._renewed = True
                try:
                    self._access_token = await self._fetch_access_token()
                except MessagingError as refusal:
                    raise ConnectFailed(refusal.message, refusal.status, transient=False) from None
                raise ConnectFailed("access token renewed", None, transient=True) from None
            if status == 429 or is_transient(http_status=status):
                raise ConnectFailed(f"HTTP {status}", status, transient=True) from None
            raise ConnectFailed(
                f"the server refused the connection: HTTP {status}", status, transient=False
            ) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            reason = f"cannot reach the server: {exc or type(exc).__name__}"
            raise ConnectFailed(reason, None, transient=True) from None

    async def _after_connect(self, ws: ClientConnection) -> None:
        if self._new_session:
            self._new_session = False
            await ws.send(wire.encode_client("REQUEST_POLY_AGENT_JOIN"))
        while self._pending:
            await ws.send(self._pending[0])
            self._pending.pop(0)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.heartbeat_s)
                await ws.send(wire.encode_client("HEARTBEAT"))

    async def _read(self, ws: ClientConnection) -> int | None:
        try:
            async for frame in ws:
                try:
                    events = wire.decode_server(frame)
                except InvalidEvent as exc:
                    log.warning("ignoring a bad server message: %s", exc)
                    continue
                for event in events:
                    if not self._accept(event):
                        continue
                    self._assemble(event)
                    if event["type"] == "SESSION_END":
                        self.ended = event
                    self._emit(event)
        except ConnectionClosed:
            pass
        code = ws.close_code
        return None if code == 1006 else code


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if "detail" in body:
            return str(body["detail"])
    return str(body)[:200]


async def _quietly(awaitable: Awaitable[object]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("event handler failed")
