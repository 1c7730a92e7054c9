"""``voxgate conversations``: list, show and delete stored conversations."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.markup import escape
from rich.table import Table

from voxgate.cli.database import require_tenant_id, with_store
from voxgate.cli.output import print_json, status, stdout, when
from voxgate.conversation.latency import STAGES
from voxgate.store import (
    ConversationRecord,
    ConversationSummary,
    Store,
    ToolCallRecord,
    TurnRecord,
)


@click.group()
def conversations() -> None:
    """List, show and delete stored conversations (transcripts, timings, tool calls)."""


_TENANT = click.option("--tenant", default="default", show_default=True, help="Tenant name.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (as the REST API).")


@conversations.command("list")
@_TENANT
@click.option("--agent", "agent_id", metavar="ID", help="Only this agent's.")
@click.option(
    "--channel", type=click.Choice(["voice", "chat", "messaging"]), help="Only this channel."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many."
)
@click.option("--cursor", help="Continue after a listing (its next_cursor).")
@_JSON
def conversations_list(
    tenant: str,
    agent_id: str | None,
    channel: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List conversations, newest first (times in UTC)."""
    from voxgate.server.serialize import ConversationList, conversation_list_item

    async def fetch(store: Store) -> tuple[list[ConversationSummary], str | None]:
        tenant_id = await require_tenant_id(store, tenant)
        try:
            return await store.list_conversations(
                tenant_id, agent_id=agent_id, channel=channel, limit=limit, cursor=cursor
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    found, next_cursor = with_store(fetch)
    if as_json:
        listing = ConversationList(
            data=[conversation_list_item(c) for c in found], next_cursor=next_cursor
        )
        print_json(listing.model_dump(mode="json"))
    else:
        table = Table("id", "agent", "channel", "mode", "started", "ended", "reason", "turns")
        for conv in found:
            table.add_row(
                escape(conv.id),
                escape(conv.agent_id),
                escape(conv.channel),
                escape(conv.mode),
                when(conv.started_at),
                when(conv.ended_at) or "live",
                escape(conv.end_reason or ""),
                str(conv.turn_count),
            )
        stdout().print(table)
    more = f"; more with --cursor {next_cursor}" if next_cursor else ""
    status().print(f"{len(found)} conversation(s){more}", markup=False, soft_wrap=True)


@conversations.command("show")
@click.argument("conversation_id")
@_TENANT
@_JSON
def conversations_show(conversation_id: str, tenant: str, as_json: bool) -> None:
    """Show a conversation: its transcript with latencies, and its tool calls."""
    from voxgate.server.serialize import conversation_object

    async def fetch(store: Store) -> ConversationRecord:
        conv = await store.get_conversation(conversation_id, await require_tenant_id(store, tenant))
        if conv is None:
            raise click.ClickException(f"no conversation {conversation_id!r} for tenant {tenant!r}")
        return conv

    conv = with_store(fetch)
    if as_json:
        print_json(conversation_object(conv).model_dump(mode="json"))
        return
    for line in _transcript_lines(conv):
        click.echo(line)


def _clock(value: datetime) -> str:
    return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _transcript_lines(conv: ConversationRecord) -> list[str]:
    ended = "live"
    if conv.ended_at is not None:
        ended = f"{conv.ended_at:%Y-%m-%d %H:%M:%S} UTC ({conv.end_reason or 'no reason'})"
    lines = [
        f"conversation {conv.id}",
        f"agent {conv.agent_id} · {conv.channel} · {conv.mode} · {conv.dialect}",
        f"started {conv.started_at:%Y-%m-%d %H:%M:%S} UTC · ended {ended}",
        f"{len(conv.turns)} turn(s), {len(conv.tool_calls)} tool call(s)",
        "",
    ]
    entries: list[tuple[datetime, int, TurnRecord | ToolCallRecord]] = [
        (t.started_at, 0, t) for t in conv.turns
    ]
    entries += [(c.started_at, 1, c) for c in conv.tool_calls]
    for _at, _kind, entry in sorted(entries, key=lambda e: (e[0], e[1], e[2].seq)):
        lines.extend(_entry_lines(entry))
    return lines


def _entry_lines(entry: TurnRecord | ToolCallRecord) -> list[str]:
    if isinstance(entry, ToolCallRecord):
        head = (
            f"[{_clock(entry.started_at)}] tool {entry.name}"
            f"({json.dumps(entry.arguments, ensure_ascii=False)}) {entry.status} "
            f"in {entry.duration_ms:.0f} ms"
        )
        outcome = entry.error if entry.status == "failed" else entry.result
        shown = outcome if isinstance(outcome, str) else json.dumps(outcome, ensure_ascii=False)
        return [head, f"    → {shown}"]
    lines = [f"[{_clock(entry.started_at)}] {entry.role}: {entry.text}"]
    if entry.interrupted:
        lines.append(f"    (interrupted; heard: {entry.heard_text or ''!r})")
    latencies = [
        f"{stage.label} {value:.0f} ms"
        for stage in STAGES
        if (value := getattr(entry.latency, stage.field)) is not None
    ]
    if latencies:
        lines.append("    latency: " + ", ".join(latencies))
    return lines


@conversations.command("delete")
@click.argument("conversation_id")
@_TENANT
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def conversations_delete(conversation_id: str, tenant: str, yes: bool) -> None:
    """Delete a conversation with its turns and tool calls (bookings stay, unlinked)."""
    if not yes:
        click.confirm(
            f"Delete conversation {conversation_id!r} of tenant {tenant!r}?",
            abort=True,
            err=True,
        )

    async def delete(store: Store) -> bool:
        return await store.delete_conversation(
            conversation_id, await require_tenant_id(store, tenant)
        )

    if not with_store(delete):
        raise click.ClickException(f"no conversation {conversation_id!r} for tenant {tenant!r}")
    status().print(f"Deleted conversation [bold]{escape(conversation_id)}[/].")
