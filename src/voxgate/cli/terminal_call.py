"""The terminal voice call of ``voxgate talk``, built on :mod:`voxgate.client`.

It speaks from the microphone (or a WAV file) and plays the agent through the speaker (or
writes it to a WAV file), with a live transcript, a level meter while you speak and the
agent's state. Imported only when ``talk`` runs (it loads numpy and the client SDK).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from voxgate.audio.pcm import bytes_to_int16, rms_dbfs
from voxgate.audio.wav import read_wav, write_wav
from voxgate.client import (
    AudioSink,
    Connected,
    Failed,
    Microphone,
    NullSink,
    Reconnecting,
    ReconnectPolicy,
    Speaker,
    VoiceClient,
)
from voxgate.client.playback import CaptureResampler
from voxgate.client.voice import CallEvent, Dialect
from voxgate.events import AgentAudio, AgentTalking, Transcript, TranscriptDelta

CLI_RECONNECT = ReconnectPolicy(max_attempts=4)
"""Interactive use: a few quick retries (~4 s), then a clear error instead of waiting."""
CHUNK_S = 0.02
GREETING_WAIT_S = 1.0
"""An agent that has not started greeting within this long is taken not to greet."""


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
