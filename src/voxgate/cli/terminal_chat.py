"""The terminal chats of ``voxgate chat``: over the Atoms socket in chat mode, or over the
messaging API as an app would. Imported only when ``chat`` runs."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from voxgate.client import AtomsClient, MessagingClient, ReconnectPolicy
from voxgate.client.urls import ws_base
from voxgate.dialects.messaging import TYPING_STARTED
from voxgate.events import Error, SessionEnded, Transcript, TranscriptDelta

# -- chat over the Atoms socket --------------------------------------------------------


async def run_chat(*, url: str, key: str, agent: str, console: Console) -> None:
    """A terminal chat over the Atoms socket in chat mode; replies stream as they come."""
    client = await AtomsClient.connect(ws_base(url), token=key, agent_id=agent, mode="chat")
    shown = {"assistant": ""}
    replied = asyncio.Event()

    async def listen() -> None:
        async for event in client.server_events():
            match event:
                case TranscriptDelta(role="assistant"):
                    if not shown["assistant"]:
                        console.print("[bold]agent[/] ", end="")
                    console.print(escape(event.text[len(shown["assistant"]) :]), end="")
                    shown["assistant"] = event.text
                case Transcript(role="assistant"):
                    if not shown["assistant"]:
                        console.print("[bold]agent[/] ", end="")
                    console.print(escape(event.text[len(shown["assistant"]) :]))
                    shown["assistant"] = ""
                    replied.set()
                case Error():
                    console.print(f"[red]error[/] {escape(event.message)}")
                    replied.set()
                case SessionEnded():
                    console.print(f"[dim]the agent ended the chat ({event.reason})[/]")
                    replied.set()
                    return
                case _:
                    pass

    listener = asyncio.create_task(listen())
    try:
        with contextlib.suppress(TimeoutError):  # an agent without a greeting says nothing
            async with asyncio.timeout(3):
                await replied.wait()
        while not listener.done():
            line = await asyncio.to_thread(read_line, console)
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


def read_line(console: Console) -> str | None:
    if console.is_terminal:
        console.print("[cyan]you[/] ", end="")
    line = sys.stdin.readline()
    return line if line else None


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
            line = await asyncio.to_thread(read_line, console)
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
