"""An async client for the Atoms-compatible realtime endpoint.

::

    async with await AtomsClient.connect("ws://127.0.0.1:8700", token=KEY, agent_id="demo") as c:
        await c.send_audio(pcm_bytes)
        async for event in c.events():
            ...

It speaks through :mod:`voxgate.dialects.atoms`: :meth:`AtomsClient.server_events` yields
the decoded events (:mod:`voxgate.events`); :meth:`AtomsClient.recv` and
:meth:`AtomsClient.events` give the protocol's raw JSON objects as dicts, for protocol
tests and benchmarks that look at the wire itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voxgate.audio.pcm import Int16Array
from voxgate.audio.resample import resample
from voxgate.client.closing import ClosedOnExit
from voxgate.dialects import atoms
from voxgate.errors import ClientError, InvalidEvent
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    AudioIn,
    ClientEvent,
    CloseRequested,
    Error,
    ServerEvent,
    SessionEnded,
    SessionStarted,
    TextIn,
    Transcript,
)

log = logging.getLogger(__name__)


class AtomsConnectError(ClientError):
    """The server refused the session; ``code`` is the close code or HTTP status."""

    code: int  # type: ignore[assignment]  # the server's answer, not an event code

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class AtomsClient(ClosedOnExit):
    """One realtime session. Create with :meth:`connect`; close with :meth:`close`."""

    def __init__(self, ws: ClientConnection, sample_rate: int, binary: bool) -> None:
        self.ws = ws
        self.sample_rate = sample_rate
        self.binary = binary
        self.session: dict[str, Any] = {}
        """The raw ``session.created`` object (after :meth:`connect` with ``wait_created``)."""
        self.started: SessionStarted | None = None
        """The same, decoded."""

    @classmethod
    async def connect(
        cls,
        base_url: str,
        *,
        token: str,
        agent_id: str | None = None,
        mode: str = "webcall",
        sample_rate: int = 24000,
        variables: dict[str, Any] | None = None,
        token_in_header: bool = False,
        binary: bool = False,
        wait_created: bool = True,
        open_timeout: float = 10.0,
    ) -> AtomsClient:
        """Open a session. With ``wait_created``, waits for ``session.created`` and raises
        :class:`AtomsConnectError` if the server refuses (close 4xxx or HTTP status)."""
        headers = {"Authorization": f"Bearer {token}"} if token_in_header else {}
        query = atoms.connect_query(
            mode=mode,
            sample_rate=sample_rate,
            agent_id=agent_id,
            variables=variables,
            token=None if token_in_header else token,
        )
        url = f"{base_url.rstrip('/')}{atoms.CONNECT_PATH}?{urlencode(query)}"
        try:
            ws = await websockets.connect(
                url, additional_headers=headers, open_timeout=open_timeout, max_size=None
            )
        except InvalidStatus as exc:
            raise AtomsConnectError(exc.response.status_code, "handshake refused") from None
        client = cls(ws, sample_rate, binary)
        if wait_created:
            try:
                first = await ws.recv()
            except ConnectionClosed:
                first = None
            started = _decoded(first)
            if not isinstance(started, SessionStarted):
                message = started.message if isinstance(started, Error) else ""
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    async with asyncio.timeout(5):
                        while True:  # the server closes right after its error event
                            await ws.recv()
                await ws.close()
                raise AtomsConnectError(ws.close_code or 0, message or "session refused")
            assert first is not None
            client.session = json.loads(first)
            client.started = started
        return client

    async def send(self, event: dict[str, Any]) -> None:
        """Send a raw protocol object (protocol tests); the methods below encode events."""
        await self._send_frame(json.dumps(event))

    async def send_event(self, event: ClientEvent) -> None:
        await self._send_frame(atoms.encode_client(event))

    async def _send_frame(self, data: str) -> None:
        await self.ws.send(data.encode() if self.binary else data)

    async def send_audio(self, pcm: bytes) -> None:
        """Send PCM16LE mono at the session rate."""
        await self.send_event(AudioIn(pcm=pcm))

    async def send_text(self, text: str) -> None:
        await self.send_event(TextIn(text=text))

    async def close_session(self) -> None:
        """Ask the server to end the session (it answers ``session.closed``)."""
        await self.send_event(CloseRequested())

    async def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event, or ``None`` once the socket is closed."""
        try:
            async with asyncio.timeout(timeout):
                raw = await self.ws.recv()
        except ConnectionClosed:
            return None
        event: dict[str, Any] = json.loads(raw)
        return event

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The raw protocol objects until the socket closes."""
        while (event := await self.recv()) is not None:
            yield event

    async def server_events(self) -> AsyncIterator[ServerEvent]:
        """The decoded events until the socket closes; frames that are not the protocol
        (another server's extensions) are logged and skipped."""
        try:
            async for frame in self.ws:
                try:
                    yield atoms.decode_server(frame)
                except InvalidEvent as exc:
                    log.warning("ignoring a server message: %s", exc)
        except ConnectionClosed:
            return

    async def stream(
        self, samples: Int16Array, *, chunk_ms: float = 20.0, realtime: bool = True
    ) -> None:
        """Send audio in chunks of ``chunk_ms``, paced at real time if ``realtime``."""
        step = max(1, int(self.sample_rate * chunk_ms / 1000))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i, pos in enumerate(range(0, len(samples), step)):
            await self.send_audio(samples[pos : pos + step].astype("<i2").tobytes())
            if realtime:
                delay = t0 + (i + 1) * step / self.sample_rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)

    async def close(self) -> None:
        await self.ws.close()


def _decoded(frame: str | bytes | None) -> ServerEvent | None:
    """A frame decoded (``None`` for no frame, or one that is not the protocol)."""
    if frame is None:
        return None
    try:
        return atoms.decode_server(frame)
    except InvalidEvent:
        return None


@dataclass
class TalkResult:
    user_text: str = ""
    agent_text: str = ""
    agent_audio: bytearray = field(default_factory=bytearray)
    events: list[ServerEvent] = field(default_factory=list)


async def talk(
    client: AtomsClient,
    samples: Int16Array,
    rate: int,
    *,
    wait_greeting: bool = True,
    timeout: float = 30.0,
) -> TalkResult:
    """Say one utterance (then silence) and collect the agent's spoken answer."""
    pcm = resample(samples, rate, client.sample_rate)
    result = TalkResult()
    silence = np.zeros(client.sample_rate // 50, dtype=np.int16)
    greeting_started = asyncio.Event()
    greeting_done = asyncio.Event()
    reply_done = asyncio.Event()
    said = asyncio.Event()

    async def listen() -> None:
        async for event in client.server_events():
            result.events.append(event)
            match event:
                case AgentTalking(talking=True) if not said.is_set():
                    greeting_started.set()
                case AgentTalking(talking=False):
                    if not said.is_set():
                        greeting_done.set()
                    elif result.user_text:
                        reply_done.set()
                        return
                case Transcript(role="user"):
                    result.user_text = event.text
                case Transcript(role="assistant") if said.is_set():
                    result.agent_text = event.text
                case AgentAudio() if said.is_set() and result.user_text:
                    result.agent_audio += event.pcm
                case SessionEnded():
                    reply_done.set()
                    return
                case _:
                    pass

    async def speak() -> None:
        if wait_greeting:
            # Agents without a greeting say nothing: give one a second to start talking.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 1.0
            while not greeting_started.is_set() and loop.time() < deadline:
                await client.stream(silence)
            async with asyncio.timeout(timeout):
                while greeting_started.is_set() and not greeting_done.is_set():
                    await client.stream(silence)
        else:
            greeting_done.set()
        said.set()
        await client.stream(pcm)
        while not reply_done.is_set():
            await client.stream(silence)

    listener = asyncio.create_task(listen())
    speaker = asyncio.create_task(speak())
    try:
        async with asyncio.timeout(timeout):
            await reply_done.wait()
    finally:
        speaker.cancel()
        listener.cancel()
        await asyncio.gather(speaker, listener, return_exceptions=True)
    return result
