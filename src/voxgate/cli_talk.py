"""`voxgate talk` and `voxgate chat`: terminal clients built on :mod:`voxgate.client`.

``talk`` speaks from the microphone (or a WAV file) and plays the agent through the
speaker (or writes it to a WAV file), with a live transcript, a level meter while you
speak and the agent's state. ``chat`` is a text conversation with streamed replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from voxgate.audio.pcm import bytes_to_int16, rms_dbfs
from voxgate.audio.wav import read_wav, write_wav
from voxgate.client import (
    AtomsClient,
    AtomsConnectError,
    AudioDeviceError,
    AudioSink,
    Connected,
    Failed,
    Microphone,
    NullSink,
    Reconnecting,
    ReconnectPolicy,
    Speaker,
    VoiceClient,
    VoiceConnectError,
)
from voxgate.client.playback import CaptureResampler
from voxgate.client.urls import ws_base
from voxgate.client.voice import CallEvent, Dialect
from voxgate.dialects.messaging import TYPING_STARTED
from voxgate.events import AgentAudio, AgentTalking, Transcript, TranscriptDelta

CLI_RECONNECT = ReconnectPolicy(max_attempts=4)
"""Interactive use: a few quick retries (~4 s), then a clear error instead of waiting."""
CHUNK_S = 0.02
GREETING_WAIT_S = 1.0
"""An agent that has not started greeting within this long is taken not to greet."""


def refusal_message(exc: VoiceConnectError | AtomsConnectError, url: str) -> str:
    """What to tell a person whose call could not be set up."""
    code = exc.code
    if code in (4401, 401):
        return "refused: bad API key (or an expired or used call token)"
    if code in (4403, 403):
        return "refused: this key may not use that agent"
    if code == 503:
        return f"{url} is starting up or shutting down (HTTP 503); try again shortly"
    if code == 4000:
        return f"refused: {getattr(exc, 'message', exc)}"
    if code is None:
        return f"cannot reach {url}: {getattr(exc, 'message', exc)}"
    return f"refused ({exc})"


def meter(db: float, width: int = 24) -> str:
    """A level bar: -60 dBFS and below is empty, 0 dBFS is full."""
    filled = max(0, min(width, round((db + 60) / 60 * width)))
    return "█" * filled + "·" * (width - filled)


@dataclass
class TalkView:
    """What the terminal shows during a call."""

    status: str = "connecting…"
    level_db: float = -120.0
    lines: list[tuple[str, str]] = field(default_factory=list)
    partial: dict[str, str] = field(default_factory=dict)
    agent_speaking: bool = False

    def on_event(self, event: CallEvent) -> None:
        match event:
            case Connected():
                self.status = "listening"
            case Reconnecting():
                self.status = f"reconnecting in {event.delay_s:.1f} s ({event.reason})"
            case Failed():
                self.status = f"failed: {event.reason}"
            case TranscriptDelta():
                self.partial[event.role] = event.text
            case Transcript():
                self.partial.pop(event.role, None)
                if event.text:
                    self.lines.append((event.role, event.text))
            case AgentTalking():
                self.agent_speaking = event.talking
            case _:
                pass

    def render(self) -> RenderableType:
        out = [self._line(role, text) for role, text in self.lines[-12:]]
        out += [self._line(role, text, partial=True) for role, text in self.partial.items()]
        state = "[magenta]agent speaking[/]" if self.agent_speaking else escape(self.status)
        out.append(Text.from_markup(f"{state}   mic [green]{meter(self.level_db)}[/]"))
        return Group(*out)

    @staticmethod
    def _line(role: str, text: str, *, partial: bool = False) -> Text:
        who = "you  " if role == "user" else "agent"
        style = "dim" if partial else ("cyan" if role == "user" else "bold")
        return Text.assemble((f"{who} ", "dim"), (text, style))


@dataclass
class WavTurn:
    """A one-question call from a WAV file: what was said and the reply's audio."""

    user_text: str = ""
    agent_text: str = ""
    reply: list[np.ndarray] = field(default_factory=list)
    greeting_started: asyncio.Event = field(default_factory=asyncio.Event)
    greeting_done: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, event: object) -> None:
        match event:
            case AgentAudio():
                if self.user_text:
                    self.reply.append(bytes_to_int16(event.pcm))
                else:
                    self.greeting_started.set()
            case Transcript(role="user"):
                self.user_text = event.text
            case Transcript(role="assistant"):
                if self.user_text:
                    self.agent_text = event.text
                    self.done.set()
                else:
                    self.greeting_done.set()
            case _:
                pass


async def _silence_until(call: VoiceClient, done: Callable[[], bool], limit_s: float) -> None:
    """Send silence in real time (the server hears a live line) until ``done()``."""
    chunk = np.zeros(int(call.input_rate * CHUNK_S), np.int16)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    sent = 0
    while not done() and loop.time() - t0 < limit_s:
        await call.send_audio(chunk)
        sent += 1
        await asyncio.sleep(max(0.0, t0 + sent * CHUNK_S - loop.time()))


async def talk_wav(
    call: VoiceClient, samples: np.ndarray, rate: int, turn: WavTurn, *, greeting: bool
) -> None:
    """Wait out the greeting, say the WAV, and keep the line open until the reply."""
    if greeting:
        await _silence_until(call, turn.greeting_started.is_set, GREETING_WAIT_S)
        if turn.greeting_started.is_set():
            await _silence_until(call, turn.greeting_done.is_set, 120)
    pcm = CaptureResampler(rate, call.input_rate).process(samples)
    step = int(call.input_rate * CHUNK_S)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, pos in enumerate(range(0, pcm.size, step)):
        await call.send_audio(pcm[pos : pos + step])
        await asyncio.sleep(max(0.0, t0 + (i + 1) * CHUNK_S - loop.time()))
    await _silence_until(call, turn.done.is_set, 60)


async def run_talk(
    *,
    url: str,
    key: str,
    agent: str,
    dialect: Dialect,
    sample_rate: int,
    wav_in: Path | None,
    out: Path | None,
    half_duplex: bool,
    greeting: bool,
    console: Console,
) -> None:
    view = TalkView()
    turn = WavTurn()
    samples: np.ndarray | None = None
    rate = 0
    sink: AudioSink
    if wav_in is not None:
        samples, rate = read_wav(wav_in)
        sink = NullSink()
    else:
        sink = Speaker()  # AudioDeviceError before any connection if there is none
    call = VoiceClient(
        url,
        token=key,
        agent_id=agent,
        dialect=dialect,
        sample_rate=sample_rate,
        sink=sink,
        half_duplex=half_duplex,
        reconnect=CLI_RECONNECT,
        on_event=view.on_event,
    )
    call.on(object, turn.on_event)
    live = Live(view.render(), console=console, refresh_per_second=12, transient=False)
    live_on = console.is_terminal
    if live_on:
        live.start()
    try:
        async with call:
            refresher = asyncio.create_task(_refresh(live, view, call) if live_on else _idle())
            try:
                if samples is not None:
                    async with asyncio.timeout(180):
                        await talk_wav(call, samples, rate, turn, greeting=greeting)
                else:
                    mic = Microphone(rate=call.input_rate)
                    async for chunk in mic.chunks():
                        view.level_db = rms_dbfs(chunk)
                        await call.send_audio(chunk)
                        if call.failure is not None or call.ended is not None:
                            break
            finally:
                refresher.cancel()
    finally:
        if live_on:
            live.update(view.render())
            live.stop()
    if call.failure is not None:
        raise click.ClickException(call.failure.reason)
    if samples is not None:
        click.echo(f"user: {turn.user_text}")
        click.echo(f"agent: {turn.agent_text}")
        if out is not None:
            audio = np.concatenate(turn.reply) if turn.reply else np.zeros(0, np.int16)
            write_wav(out, audio, call.output_rate)
            console.print(f"reply audio written to {out}")


async def _idle() -> None:
    await asyncio.Event().wait()


async def _refresh(live: Live, view: TalkView, call: VoiceClient) -> None:
    while True:
        view.agent_speaking = call.agent_speaking
        live.update(view.render())
        await asyncio.sleep(1 / 12)


def talk_command(**options: object) -> None:
    """Run `voxgate talk` with its parsed options; errors become clear messages."""
    console: Console = options.pop("console")  # type: ignore[assignment]
    url = str(options["url"])
    try:
        asyncio.run(run_talk(console=console, **options))  # type: ignore[arg-type]
    except VoiceConnectError as exc:
        raise click.ClickException(refusal_message(exc, url)) from None
    except AudioDeviceError as exc:
        raise click.ClickException(f"{exc} (or use --wav FILE to talk without a device)") from None
    except TimeoutError:
        raise click.ClickException("no reply from the agent in time") from None
    except KeyboardInterrupt:
        console.print("call ended")


# -- chat -------------------------------------------------------------------------------


async def run_chat(*, url: str, key: str, agent: str, console: Console) -> None:
    """A terminal chat over the Atoms socket in chat mode; replies stream as they come."""
    client = await AtomsClient.connect(ws_base(url), token=key, agent_id=agent, mode="chat")
    shown = {"assistant": ""}
    replied = asyncio.Event()

    async def listen() -> None:
        async for event in client.events():
            kind = event.get("type")
            if kind == "transcript.delta" and event.get("role") == "assistant":
                text = str(event.get("text", ""))
                if not shown["assistant"]:
                    console.print("[bold]agent[/] ", end="")
                console.print(escape(text[len(shown["assistant"]) :]), end="")
                shown["assistant"] = text
            elif kind == "transcript" and event.get("role") == "assistant":
                text = str(event.get("text", ""))
                if not shown["assistant"]:
                    console.print("[bold]agent[/] ", end="")
                console.print(escape(text[len(shown["assistant"]) :]))
                shown["assistant"] = ""
                replied.set()
            elif kind == "error":
                console.print(f"[red]error[/] {escape(str(event.get('message')))}")
                replied.set()
            elif kind == "session.closed":
                console.print(f"[dim]the agent ended the chat ({event.get('reason')})[/]")
                replied.set()
                return

    listener = asyncio.create_task(listen())
    try:
        with contextlib.suppress(TimeoutError):  # an agent without a greeting says nothing
            async with asyncio.timeout(3):
                await replied.wait()
        while not listener.done():
            line = await asyncio.to_thread(_read_line, console)
            if line is None or line.strip() in ("/quit", "/exit"):
                break
            if not line.strip():
                continue
            replied.clear()
            await client.send_text(line.strip())
            async with asyncio.timeout(60):
                await replied.wait()
        if not listener.done():
            await client.close_session()
    finally:
        listener.cancel()
        await client.close()


def _read_line(console: Console) -> str | None:
    if console.is_terminal:
        console.print("[cyan]you[/] ", end="")
    line = sys.stdin.readline()
    return line if line else None


def chat_command(*, url: str, key: str, agent: str, console: Console) -> None:
    try:
        asyncio.run(run_chat(url=url, key=key, agent=agent, console=console))
    except AtomsConnectError as exc:
        raise click.ClickException(refusal_message(exc, url)) from None
    except TimeoutError:
        raise click.ClickException("no reply from the agent in time") from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from None
    except KeyboardInterrupt:
        console.print("bye")


# -- chat over the messaging API ------------------------------------------------------------


@dataclass
class ChatView:
    """Prints a messaging session as it happens: streamed text, suggestions as numbered
    choices, queue and live-agent news."""

    console: Console
    suggestions: list[str] = field(default_factory=list)
    streaming_id: str | None = None
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        payload = event.get("payload") or {}
        print_ = self.console.print
        if kind == "POLY_AGENT_MESSAGE_CHUNK":
            if self.streaming_id != payload.get("message_id"):
                self.streaming_id = payload.get("message_id")
                print_("[bold]agent[/] ", end="")
            print_(escape(str(payload.get("text", ""))), end="")
            if payload.get("is_complete"):
                print_()
                self.streaming_id = None
                self._extras(payload)
        elif kind in ("POLY_AGENT_MESSAGE", "LIVE_AGENT_MESSAGE"):
            who = "agent" if kind == "POLY_AGENT_MESSAGE" else "human"
            print_(f"[bold]{who}[/] {escape(str(payload.get('text', '')))}")
            self._extras(payload)
        elif kind == "HANDOFF_QUEUE_STATUS":
            print_(
                f"[dim]waiting for a human: position {payload.get('position_in_queue')}, "
                f"about {payload.get('estimated_wait_seconds')} s[/]"
            )
        elif kind == "LIVE_AGENT_JOINED":
            name = (payload.get("agent") or {}).get("name", "a human")
            print_(f"[dim]{escape(str(name))} joined the chat[/]")
        elif kind == "LIVE_AGENT_TYPING" and payload.get("state") == TYPING_STARTED:
            print_("[dim]typing…[/]")
        elif kind in ("HANDOFF_FAILED", "HANDOFF_TIMEOUT", "LIVE_AGENT_LEFT"):
            print_(f"[dim]{kind.lower().replace('_', ' ')}[/]")
        elif kind == "SYSTEM_MESSAGE":
            print_(f"[red]{escape(str(payload.get('message')))}[/]")
            self.replied.set()
        elif kind == "CLIENT_RECONNECTING":
            print_("[dim]connection lost; reconnecting…[/]")
        elif kind == "SESSION_END":
            print_(f"[dim]the chat ended ({payload.get('reason')})[/]")
            self.ended = True
            self.replied.set()

    def _extras(self, payload: dict[str, Any]) -> None:
        self.suggestions = [
            str(s.get("message_text", "")) for s in payload.get("response_suggestions") or []
        ]
        for a in payload.get("attachments") or []:
            self.console.print(
                f"  [link={a.get('content_url')}]{escape(str(a.get('title')))}[/link]"
            )
        for i, text in enumerate(self.suggestions, 1):
            self.console.print(f"  [cyan][{i}][/] {escape(text)}")
        self.replied.set()


async def run_messaging_chat(*, url: str, connector: str, host: str, console: Console) -> None:
    from voxgate.client import MessagingClient

    view = ChatView(console)
    chat = MessagingClient(
        url,
        connector_token=connector,
        host=host,
        platform="custom",
        device_type="terminal",
        streaming=True,
        on_event=view.on_event,
        reconnect=ReconnectPolicy(initial_s=1.0, maximum_s=30.0, max_attempts=5),
    )
    async with chat:
        with contextlib.suppress(TimeoutError):  # the greeting, if any
            async with asyncio.timeout(5):
                await view.replied.wait()
        while not view.ended:
            line = await asyncio.to_thread(_read_line, console)
            if line is None or line.strip() in ("/quit", "/exit"):
                await chat.end()
                break
            text = line.strip()
            if not text:
                continue
            if text.isdigit() and 1 <= int(text) <= len(view.suggestions):
                text = view.suggestions[int(text) - 1]
                console.print(f"[cyan]you[/] {escape(text)}")
            view.replied.clear()
            await chat.send(text)
            with contextlib.suppress(TimeoutError):  # a human may take their time
                async with asyncio.timeout(60):
                    await view.replied.wait()


def messaging_chat_command(*, url: str, connector: str, host: str, console: Console) -> None:
    from voxgate.client import MessagingError

    try:
        asyncio.run(run_messaging_chat(url=url, connector=connector, host=host, console=console))
    except MessagingError as exc:
        hint = " (check the connector token and that the host is registered)"
        raise click.ClickException(exc.message + (hint if exc.status == 401 else "")) from None
    except KeyboardInterrupt:
        console.print("bye")
