"""An async client for the Atoms-compatible realtime endpoint.

::

    async with await AtomsClient.connect("ws://127.0.0.1:8700", token=KEY, agent_id="demo") as c:
        await c.send_audio(pcm_bytes)
        async for event in c.events():
            ...

Events are the protocol's JSON objects as dicts (``event["type"]``, ...).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
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
from voxgate.errors import ClientError


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
        query: dict[str, str] = {"mode": mode, "sample_rate": str(sample_rate)}
        if agent_id:
            query["agent_id"] = agent_id
        if variables:
            query["variables"] = json.dumps(variables)
        headers = {}
        if token_in_header:
            headers["Authorization"] = f"Bearer {token}"
        else:
            query["token"] = token
        url = f"{base_url.rstrip('/')}/atoms/v1/agent/connect?{urlencode(query)}"
        try:
            ws = await websockets.connect(
                url, additional_headers=headers, open_timeout=open_timeout, max_size=None
            )
        except InvalidStatus as exc:
            raise AtomsConnectError(exc.response.status_code, "handshake refused") from None
        client = cls(ws, sample_rate, binary)
        if wait_created:
            first = await client.recv()
            if first is None or first.get("type") != "session.created":
                msg = first.get("message", "") if first else ""
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    async with asyncio.timeout(5):
                        while True:  # the server closes right after its error event
                            await ws.recv()
                await ws.close()
                raise AtomsConnectError(ws.close_code or 0, msg or "session refused")
            client.session = first
        return client

    async def send(self, event: dict[str, Any]) -> None:
        data = json.dumps(event)
        await self.ws.send(data.encode() if self.binary else data)

    async def send_audio(self, pcm: bytes) -> None:
        """Send PCM16LE mono at the session rate."""
        await self.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )

    async def send_text(self, text: str) -> None:
        await self.send({"type": "input_text.send", "text": text})

    async def close_session(self) -> None:
        """Ask the server to end the session (it answers ``session.closed``)."""
        await self.send({"type": "session.close"})

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
        while (event := await self.recv()) is not None:
            yield event

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


@dataclass
class TalkResult:
    user_text: str = ""
    agent_text: str = ""
    agent_audio: bytearray = field(default_factory=bytearray)
    events: list[dict[str, Any]] = field(default_factory=list)


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
        async for event in client.events():
            result.events.append(event)
            kind = event.get("type")
            if kind == "agent_start_talking" and not said.is_set():
                greeting_started.set()
            elif kind == "agent_stop_talking":
                if not said.is_set():
                    greeting_done.set()
                elif result.user_text:
                    reply_done.set()
                    return
            elif kind == "transcript" and event.get("role") == "user":
                result.user_text = event["text"]
            elif kind == "transcript" and event.get("role") == "assistant" and said.is_set():
                result.agent_text = event["text"]
            elif kind == "output_audio.delta" and said.is_set() and result.user_text:
                result.agent_audio += base64.b64decode(event["audio"])
            elif kind == "session.closed":
                reply_done.set()
                return

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
