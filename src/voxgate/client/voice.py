"""``VoiceClient``: a voice call to a voxgate server (or any server of the two dialects),
with what the mobile guides ask of a client done for you.

::

    async with VoiceClient("ws://127.0.0.1:8700", token=KEY, agent_id="demo") as call:
        asyncio.create_task(call.stream(Microphone()))   # or WavSource("question.wav")
        async for event in call:                          # or call.on(Transcript, handler)
            ...

- Reconnects with exponential backoff (0.5 s → 30 s, jitter) on transient failures only;
  never after a clean close, 4401/4403 or 4000. Datagrid reconnects continue the same
  conversation; an Atoms reconnect starts a new call (that protocol cannot resume one).
- Plays agent audio through a jitter buffer into a sink, flushed at once on interruption.
- Resamples capture from the device rate to the session rate (stateful, no clicks).
- ``half_duplex``: sends silence instead of the microphone while the agent is heard.
- :meth:`pause` / :meth:`resume` for audio interruptions from the OS.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from voxgate.audio.pcm import SUPPORTED_RATES, bytes_to_int16
from voxgate.client.backoff import ReconnectPolicy, is_transient
from voxgate.client.closing import ClosedOnExit
from voxgate.client.events import (
    ClientSideEvent,
    Connected,
    Failed,
    PlaybackFlushed,
    Reconnected,
)
from voxgate.client.media import AudioSink, AudioSource, NullSink
from voxgate.client.playback import CaptureResampler, JitterBuffer, to_int16
from voxgate.client.reconnect import ConnectFailed, reconnect_loop
from voxgate.client.urls import ws_base
from voxgate.dialects import atoms, datagrid
from voxgate.errors import ClientError, InvalidEvent
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    AudioIn,
    ClientEvent,
    CloseRequested,
    Error,
    Interruption,
    InterruptRequested,
    PauseRequested,
    Ready,
    ResumeRequested,
    ServerEvent,
    SessionEnded,
    SessionStarted,
    StartRequested,
    TextIn,
)

log = logging.getLogger(__name__)

Dialect = Literal["atoms", "datagrid"]
CallEvent = ServerEvent | ClientSideEvent
TokenSource = str | Callable[[], Awaitable[str]]
"""An API key, a session token, or a coroutine function returning a fresh token for each
connection (single-use ``wct_``/``vst_`` tokens cannot be used twice)."""
Handler = Callable[[Any], object]
E = TypeVar("E")

CLOSE_TIMEOUT_S = 5.0


class VoiceConnectError(ClientError):
    """The call could not be set up: ``code`` is the close code or HTTP status, if any."""

    code: int | None  # type: ignore[assignment]  # the server's answer, not an event code

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"{message} ({code})")
        self.code = code
        self.message = message


class VoiceClient(ClosedOnExit):
    """One voice call. Use as an async context manager (or :meth:`start` / :meth:`close`)."""

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        agent_id: str | None = None,
        dialect: Dialect = "atoms",
        sample_rate: int = 16000,
        conversation_id: str | None = None,
        variables: dict[str, str | int | float | bool] | None = None,
        sink: AudioSink | None = None,
        jitter_ms: float = 200.0,
        half_duplex: bool = False,
        reconnect: ReconnectPolicy | None = None,
        on_event: Handler | None = None,
        yield_audio: bool = False,
        open_timeout: float = 10.0,
    ) -> None:
        """``sample_rate``: the Atoms session rate (in and out; 8000, 16000, 24000 or
        48000); Datagrid is fixed at 16 kHz in, 24 kHz out. ``yield_audio``: also put
        :class:`AgentAudio` events in the iterator (handlers always get them)."""
        if dialect not in ("atoms", "datagrid"):
            raise ValueError(f"dialect must be 'atoms' or 'datagrid', not {dialect!r}")
        self.base_url = ws_base(url)
        self.dialect: Dialect = dialect
        self.agent_id = agent_id
        self.variables = dict(variables or {})
        self._token = token
        if dialect == "atoms":
            if sample_rate not in SUPPORTED_RATES:
                raise ValueError(f"sample_rate must be one of {sorted(SUPPORTED_RATES)}")
            self.input_rate = self.output_rate = sample_rate
        else:
            self.input_rate, self.output_rate = datagrid.INPUT_RATE, datagrid.OUTPUT_RATE
        self.buffer = JitterBuffer(self.output_rate, jitter_ms)
        self.half_duplex = half_duplex
        self.policy = reconnect or ReconnectPolicy()
        self.open_timeout = open_timeout
        self.yield_audio = yield_audio
        self._sink: AudioSink = sink if sink is not None else NullSink()
        self._handlers: list[tuple[type[Any] | None, Handler]] = []
        if on_event is not None:
            self._handlers.append((None, on_event))
        self._queue: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._done = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._resamplers: dict[int, CaptureResampler] = {}
        self._pending_text: list[str] = []
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.session_id: str | None = None
        self.call_id: str | None = None
        """Atoms call id, or the Datagrid conversation id (kept across reconnects)."""
        self.conversation_id = conversation_id
        self.paused = False
        self.agent_talking = False
        """What the server last said (Atoms ``agent_start/stop_talking``)."""
        self.handshakes = 0
        """WebSocket handshakes attempted (first connection and reconnects)."""
        self.failure: Failed | None = None
        self.ended: SessionEnded | None = None
        self.dropped_input_ms = 0.0
        """Microphone audio not sent: while paused or disconnected."""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (retrying transient failures per the policy) and start playback.
        Raises :class:`VoiceConnectError` if the call cannot be set up."""
        await self._sink.start(self.buffer)
        self._runner = asyncio.create_task(self._run())
        connected = asyncio.create_task(self._connected.wait())
        done = asyncio.create_task(self._done.wait())
        await asyncio.wait({connected, done}, return_when=asyncio.FIRST_COMPLETED)
        connected.cancel()
        done.cancel()
        if not self._connected.is_set():
            await self._sink.stop()
            failure = self.failure or Failed(reason="connection closed")
            raise VoiceConnectError(failure.reason, failure.code)

    async def close(self) -> None:
        """Hang up: ask the server to end the call, wait briefly for its last events, and
        stop playback. Idempotent."""
        if self._closing:
            return
        self._closing = True
        ws = self._ws
        if ws is not None and self._connected.is_set() and self.ended is None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(self._encode(CloseRequested()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await self._done.wait()
        if ws is not None:
            await ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self._tasks):
            task.cancel()
        await self._sink.stop()
        self._finish()

    async def wait_closed(self) -> None:
        """Until the call is over (ended by either side, failed, or closed)."""
        await self._done.wait()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def agent_speaking(self) -> bool:
        """Whether agent audio is being played (or the server says the agent talks)."""
        return self.buffer.busy or self.agent_talking

    @property
    def played_ms(self) -> float:
        """Agent audio played so far in this call."""
        return self.buffer.played * 1000 / self.output_rate

    # --- events ---------------------------------------------------------------------------

    def on(self, event_type: type[E], handler: Callable[[E], object]) -> None:
        """Call ``handler(event)`` for each event of ``event_type`` (a coroutine function's
        result is run as a task)."""
        self._handlers.append((event_type, handler))

    def __aiter__(self) -> AsyncIterator[CallEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[CallEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    def _emit(self, event: CallEvent) -> None:
        for kind, handler in self._handlers:
            if kind is None or isinstance(event, kind):
                try:
                    result = handler(event)
                except Exception:
                    log.exception("event handler failed")
                    continue
                if inspect.isawaitable(result):
                    self._spawn(result)
        if self.yield_audio or not isinstance(event, AgentAudio):
            self._queue.put_nowait(event)

    def _spawn(self, awaitable: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception:
                log.exception("event handler failed")

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _finish(self) -> None:
        if not self._done.is_set():
            self._done.set()
        self._connected.clear()
        self._queue.put_nowait(None)

    # --- sending --------------------------------------------------------------------------

    async def send_audio(self, samples: bytes | np.ndarray, rate: int | None = None) -> bool:
        """Send microphone audio (PCM16LE bytes, or an int16/float array) at ``rate``
        (default: the session's input rate); it is resampled as needed. Returns whether it
        was sent: audio is dropped while paused or reconnecting (late speech is no use)."""
        pcm = np.frombuffer(samples, "<i2") if isinstance(samples, bytes) else to_int16(samples)
        rate = rate or self.input_rate
        if rate != self.input_rate:
            resampler = self._resamplers.get(rate)
            if resampler is None:
                resampler = self._resamplers[rate] = CaptureResampler(rate, self.input_rate)
            pcm = resampler.process(pcm)
        ws = self._ws
        if self.paused or ws is None or not self._connected.is_set():
            self.dropped_input_ms += pcm.size * 1000 / self.input_rate
            return False
        if self.half_duplex and self.agent_speaking:
            pcm = np.zeros_like(pcm)  # the agent is heard: the mic would only hear it back
        if pcm.size == 0:
            return True
        try:
            await ws.send(self._encode(AudioIn(pcm=pcm.astype("<i2").tobytes())))
        except ConnectionClosed:
            return False
        return True

    async def stream(self, source: AudioSource) -> None:
        """Send everything ``source`` yields, until it ends or the call does."""
        async for chunk in source.chunks():
            if self._done.is_set():
                return
            await self.send_audio(chunk, source.rate)

    async def send_text(self, text: str) -> None:
        """A typed user turn. Kept and sent after a reconnect if the socket is down."""
        if not text.strip():
            raise ValueError("text must not be empty")
        ws = self._ws
        if ws is None or not self._connected.is_set():
            self._pending_text.append(text)
            return
        try:
            await ws.send(self._encode(TextIn(text=text)))
        except ConnectionClosed:
            self._pending_text.append(text)

    async def interrupt(self) -> None:
        """Stop the agent now (client-side barge-in): flush playback, and in Datagrid ask
        the server to stop the reply (Atoms has no such message: server VAD decides)."""
        self._flush()
        if self.dialect == "datagrid":
            await self._send_control(InterruptRequested())

    async def pause(self) -> None:
        """The OS took the audio (a phone call, another app): stop sending and playing,
        drop unplayed agent audio, and tell the server to hold the call (it does not take
        the silence for the end of the call)."""
        if self.paused:
            return
        self.paused = True
        self._flush()
        await self._send_control(PauseRequested())

    async def resume(self) -> None:
        """The audio is back: listen and play again."""
        if not self.paused:
            return
        self.paused = False
        await self._send_control(ResumeRequested())

    async def _send_control(self, event: ClientEvent) -> None:
        ws = self._ws
        if ws is not None and self._connected.is_set():
            with contextlib.suppress(ConnectionClosed):
                await ws.send(self._encode(event))

    def _flush(self) -> None:
        dropped = self.buffer.flush()
        self._emit(
            PlaybackFlushed(dropped_ms=dropped * 1000 / self.output_rate, played_ms=self.played_ms)
        )

    def _encode(self, event: ClientEvent) -> str:
        if self.dialect == "atoms":
            return atoms.encode_client(event)
        return datagrid.encode_client(event)

    def _decode(self, frame: str | bytes) -> ServerEvent:
        if self.dialect == "atoms":
            return atoms.decode_server(frame)
        return datagrid.decode_server(frame)

    # --- connection -----------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await reconnect_loop(
                self.policy,
                connect=self._open,
                serve=self._serve,
                announce=self._emit,
                fail=self._fail,
                closing=lambda: self._closing,
            )
        finally:
            self._finish()

    async def _serve(self, ws: ClientConnection, attempt: int | None) -> str | None:
        """One connection until it drops: why it was lost, or ``None`` if the call is over."""
        self._ws = ws
        assert self.session_id is not None and self.call_id is not None
        self._connected.set()
        self._emit(
            Connected(
                session_id=self.session_id,
                call_id=self.call_id,
                input_rate=self.input_rate,
                output_rate=self.output_rate,
            )
        )
        if attempt is not None:
            self._emit(
                Reconnected(attempt=attempt, session_id=self.session_id, call_id=self.call_id)
            )
        await self._after_connect(ws)
        code, reason = await self._read(ws)
        self._ws = None
        self._connected.clear()
        self.agent_talking = False
        if self._closing:
            return None
        if self.ended is not None and self.ended.reason != "server_shutdown":
            return None  # the call is over
        self.ended = None
        if not is_transient(close_code=code):
            self._fail(f"the server closed the call: {reason or code}", code)
            return None
        return f"connection lost ({code or 'no close frame'})"

    def _fail(self, reason: str, code: int | None = None) -> None:
        self.failure = Failed(reason=reason, code=code)
        self._emit(self.failure)

    async def _after_connect(self, ws: ClientConnection) -> None:
        """Re-send what the server must know after a reconnect."""
        if self.paused:
            await ws.send(self._encode(PauseRequested()))
        while self._pending_text:
            await ws.send(self._encode(TextIn(text=self._pending_text[0])))
            self._pending_text.pop(0)

    async def _url(self) -> str:
        token = self._token if isinstance(self._token, str) else await self._token()
        if self.dialect == "datagrid":
            return f"{self.base_url}/ws/voice?{urlencode({'token': token})}"
        query = atoms.connect_query(
            sample_rate=self.input_rate,
            agent_id=self.agent_id,
            variables=self.variables,
            token=token,
        )
        return f"{self.base_url}{atoms.CONNECT_PATH}?{urlencode(query)}"

    async def _open(self) -> ClientConnection:
        """One handshake, up to the point where the session takes audio."""
        url = await self._url()
        self.handshakes += 1
        try:
            ws = await websockets.connect(url, open_timeout=self.open_timeout, max_size=None)
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ConnectFailed(
                f"the server refused the connection: HTTP {status}",
                status,
                transient=is_transient(http_status=status),
            ) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            reason = f"cannot reach the server: {exc or type(exc).__name__}"
            raise ConnectFailed(reason, None, transient=True) from None
        try:
            async with asyncio.timeout(self.open_timeout):
                await self._handshake(ws)
        except ConnectFailed:
            await ws.close()
            raise
        except InvalidEvent as exc:  # not the protocol we speak: a wrong URL or dialect
            await ws.close()
            raise ConnectFailed(
                f"unexpected message from the server: {exc}", None, transient=False
            ) from None
        except TimeoutError:
            await ws.close()
            raise ConnectFailed(
                "the server did not start the session in time", None, transient=True
            ) from None
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            raise ConnectFailed(
                f"closed during setup: {exc.rcvd.reason if exc.rcvd else 'no close frame'}",
                code,
                transient=is_transient(close_code=code),
            ) from None
        return ws

    async def _handshake(self, ws: ClientConnection) -> None:
        if self.dialect == "datagrid":
            await ws.send(
                self._encode(
                    StartRequested(
                        agent_id=self.agent_id, conversation_id=self.call_id or self.conversation_id
                    )
                )
            )
        while True:
            event = self._decode(await ws.recv())
            match event:
                case SessionStarted():
                    self.session_id = event.session_id
                    self.call_id = event.call_id
                    if self.dialect == "datagrid":
                        self.conversation_id = event.call_id
                    else:
                        return
                case Ready():
                    return
                case Error():
                    await self._refused_by(ws, event)
                case _:
                    self._dispatch(event)

    async def _refused_by(self, ws: ClientConnection, error: Error) -> None:
        """The server said no during setup: wait for its close code (Atoms closes after
        its error; Datagrid keeps the socket for another ``start``, so we close it)."""
        code: int | None = int(error.code) if error.code.isdigit() else None
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            async with asyncio.timeout(2.0 if self.dialect == "atoms" else 0.5):
                while True:
                    await ws.recv()
        close_code = ws.close_code if ws.close_code not in (None, 1006) else None
        if close_code is None:
            close_code = {401: 4401, 403: 4403}.get(code or 0, 4000)
        raise ConnectFailed(
            f"refused: {error.message}", close_code, transient=is_transient(close_code=close_code)
        )

    async def _read(self, ws: ClientConnection) -> tuple[int | None, str]:
        """Dispatch events until the socket closes; returns its close code and reason
        (``None``: no close frame, as when the network or the server dies)."""
        try:
            async for frame in ws:
                try:
                    event = self._decode(frame)
                except InvalidEvent as exc:
                    log.warning("ignoring a bad server message: %s", exc)
                    continue
                self._dispatch(event)
        except ConnectionClosed:
            pass
        rcvd = ws.close_code
        return (None if rcvd == 1006 else rcvd), ws.close_reason or ""

    def _dispatch(self, event: ServerEvent) -> None:
        match event:
            case AgentAudio():
                if self.paused:
                    return  # in flight when the app paused: never played
                self.buffer.push(bytes_to_int16(event.pcm))
            case Interruption():
                self._emit(event)
                self._flush()
                return
            case AgentTalking():
                self.agent_talking = event.talking
            case SessionStarted():
                self.session_id = event.session_id
                self.call_id = event.call_id
            case SessionEnded():
                self.ended = event
        self._emit(event)
