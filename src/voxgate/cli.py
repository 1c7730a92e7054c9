"""The ``voxgate`` command. Data goes to stdout, status and errors to stderr."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from voxgate.config import Settings
from voxgate.conversation.latency import STAGES
from voxgate.store import (
    ApiKey,
    Connector,
    ConsoleUser,
    ConversationRecord,
    ConversationSummary,
    HostKind,
    Store,
    StoreError,
    ToolCallRecord,
    TurnRecord,
    normalize_host,
)

T = TypeVar("T")

# Width for tables written to a pipe or file, where rich cannot ask a terminal.
_PIPE_WIDTH = 200


def _status() -> Console:
    return Console(stderr=True, highlight=False)


def _stdout() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)


def _with_store(action: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run ``action`` on it, close it."""
    url = Settings().resolved_database_url

    async def run() -> T:
        store = await Store.open(url)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (OSError, SQLAlchemyError) as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise click.ClickException(f"database {shown}: {exc}") from exc


@click.group(
    help="voxgate: self-hosted realtime conversational agents.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
def main() -> None:
    pass


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option(
    "--tenant", default="default", show_default=True, help="Tenant name (created if new)."
)
@click.option("--name", default="cli", show_default=True, help="Label shown in listings.")
@click.option(
    "--agent",
    "agents",
    multiple=True,
    metavar="ID",
    help="Agent the key may use; repeat for several. Default: every agent of the tenant.",
)
def keys_create(tenant: str, name: str, agents: tuple[str, ...]) -> None:
    """Create an API key and print its secret (shown only this once)."""

    async def create(store: Store) -> tuple[ApiKey, str]:
        tenant_id = await store.ensure_tenant(tenant)
        return await store.create_api_key(tenant_id, name, list(agents) if agents else None)

    key, secret = _with_store(create)
    _status().print(
        f"Created key [bold]{key.id}[/] for tenant [bold]{escape(tenant)}[/]. "
        "Its secret is shown only once; store it now."
    )
    click.echo(secret)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
def keys_list(tenant: str | None) -> None:
    """List API keys, revoked ones included (times in UTC)."""

    async def fetch(store: Store) -> tuple[list[ApiKey], dict[str, str]]:
        names = {t.id: t.name for t in await store.list_tenants()}
        if tenant is None:
            return await store.list_api_keys(), names
        tenant_id = await store.tenant_id_by_name(tenant)
        if tenant_id is None:
            raise click.ClickException(f"no tenant named {tenant!r}")
        return await store.list_api_keys(tenant_id), names

    found, names = _with_store(fetch)
    table = Table("id", "tenant", "name", "prefix", "agents", "created", "revoked")
    for key in found:
        table.add_row(
            key.id,
            escape(names.get(key.tenant_id, key.tenant_id)),
            escape(key.name),
            escape(key.prefix) + "…",
            "all" if key.agents is None else escape(", ".join(key.agents)),
            _when(key.created_at),
            _when(key.revoked_at),
        )
    _stdout().print(table)
    _status().print(f"{len(found)} key(s)")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key; clients using it are refused from now on."""

    async def revoke(store: Store) -> bool:
        return await store.revoke_api_key(key_id)

    if not _with_store(revoke):
        raise click.ClickException(f"no active key with id {key_id!r}")
    _status().print(f"Revoked key [bold]{escape(key_id)}[/].")


# -- messaging: connectors, their hosts, console users -----------------------------------


@main.group()
def connectors() -> None:
    """Create, list and revoke messaging connectors (the token an app embeds)."""


def _warn_unknown_agent(agent_id: str, tenant: str) -> None:
    from voxgate.agents.spec import load_specs
    from voxgate.errors import ConfigError

    folder = Settings().agents_dir
    try:
        specs = load_specs(folder)
    except ConfigError:
        return
    found = specs.get(agent_id)
    if found is None or found[0].tenant != tenant:
        _status().print(
            f"[yellow]Warning:[/] {escape(str(folder))} has no agent {escape(repr(agent_id))} "
            f"of tenant {escape(repr(tenant))}; its sessions are refused until it has."
        )


@connectors.command("create")
@click.option(
    "--tenant", default="default", show_default=True, help="Tenant name (created if new)."
)
@click.option("--agent", "agent_id", required=True, metavar="ID", help="The agent it talks to.")
@click.option("--name", help="Label shown in listings.  [default: the agent id]")
def connectors_create(tenant: str, agent_id: str, name: str | None) -> None:
    """Create a connector and print its token (shown only this once). Then register the
    hosts it serves with `voxgate hosts add`."""

    async def create(store: Store) -> tuple[Connector, str]:
        tenant_id = await store.ensure_tenant(tenant)
        return await store.create_connector(tenant_id, name=name or agent_id, agent_id=agent_id)

    try:
        connector, token = _with_store(create)
    except (ValueError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    _status().print(
        f"Created connector [bold]{connector.id}[/] for agent [bold]{escape(agent_id)}[/] "
        f"of tenant [bold]{escape(tenant)}[/]. Its token is shown only once; store it now. "
        f"Register hosts with: voxgate hosts add {connector.id} example.com"
    )
    _warn_unknown_agent(agent_id, tenant)
    click.echo(token)


def _hosts_cell(connector: Connector) -> str:
    return ", ".join(
        escape(h) + (" (bundle)" if h in connector.bundle_ids else "") for h in connector.hosts
    )


@connectors.command("list")
@click.option("--tenant", default=None, help="Only this tenant's connectors.")
def connectors_list(tenant: str | None) -> None:
    """List connectors with their hosts, revoked ones included (times in UTC)."""

    async def fetch(store: Store) -> tuple[list[Connector], dict[str, str]]:
        names = {t.id: t.name for t in await store.list_tenants()}
        if tenant is None:
            return await store.list_connectors(), names
        return await store.list_connectors(await _tenant_id(store, tenant)), names

    found, names = _with_store(fetch)
    table = Table("id", "tenant", "name", "agent", "prefix", "hosts", "created", "revoked")
    for connector in found:
        table.add_row(
            connector.id,
            escape(names.get(connector.tenant_id, connector.tenant_id)),
            escape(connector.name),
            escape(connector.agent_id),
            escape(connector.prefix) + "…",
            _hosts_cell(connector),
            _when(connector.created_at),
            _when(connector.revoked_at),
        )
    _stdout().print(table)
    _status().print(f"{len(found)} connector(s)")


@connectors.command("revoke")
@click.argument("connector_id")
def connectors_revoke(connector_id: str) -> None:
    """Revoke a connector: its token, access tokens and sessions are refused from now on."""

    async def revoke(store: Store) -> bool:
        return await store.revoke_connector(connector_id)

    if not _with_store(revoke):
        raise click.ClickException(f"no active connector with id {connector_id!r}")
    _status().print(f"Revoked connector [bold]{escape(connector_id)}[/].")


@main.group()
def hosts() -> None:
    """Register the web domains and app bundle ids a connector serves (X-Host)."""


@hosts.command("add")
@click.argument("connector_id")
@click.argument("host")
@click.option(
    "--domain",
    "kind",
    flag_value="domain",
    help="HOST is a web domain: it admits its subdomains too.",
)
@click.option(
    "--bundle", "kind", flag_value="bundle", help="HOST is an app bundle id: matched exactly."
)
def hosts_add(connector_id: str, host: str, kind: HostKind | None) -> None:
    """Let CONNECTOR_ID be used from HOST: a domain (example.com, which also admits
    chat.example.com) or an app bundle id (com.example.app, exact). Without --domain or
    --bundle, HOST is a bundle id when it starts with com., org., net., edu., gov. or io.
    or has an underscore."""

    async def add(store: Store) -> Connector | None:
        await store.add_connector_host(connector_id, host, kind=kind)
        return await store.get_connector(connector_id)

    try:
        connector = _with_store(add)
    except (ValueError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    assert connector is not None
    added = normalize_host(host)
    what = "app bundle id" if added in connector.bundle_ids else "domain and its subdomains"
    _status().print(f"Connector [bold]{escape(connector_id)}[/] serves {escape(added)} ({what}).")


@hosts.command("remove")
@click.argument("connector_id")
@click.argument("host")
def hosts_remove(connector_id: str, host: str) -> None:
    """Stop CONNECTOR_ID being used from HOST. Access tokens issued for it are refused."""

    async def remove(store: Store) -> bool:
        return await store.remove_connector_host(connector_id, host)

    if not _with_store(remove):
        raise click.ClickException(f"{host!r} is not registered for connector {connector_id!r}")
    _status().print(f"Connector [bold]{escape(connector_id)}[/] no longer serves {escape(host)}.")


@hosts.command("list")
@click.argument("connector_id")
def hosts_list(connector_id: str) -> None:
    """The hosts CONNECTOR_ID serves, one a line: host and kind (domain or bundle)."""

    async def fetch(store: Store) -> Connector | None:
        return await store.get_connector(connector_id)

    connector = _with_store(fetch)
    if connector is None:
        raise click.ClickException(f"no connector with id {connector_id!r}")
    for host in connector.hosts:
        click.echo(f"{host}\t{'bundle' if host in connector.bundle_ids else 'domain'}")


@main.group("console-users")
def console_users() -> None:
    """Create, list and delete live agents of the messaging console."""


@console_users.command("create")
@click.option(
    "--tenant", default="default", show_default=True, help="Tenant name (created if new)."
)
@click.option("--username", required=True, help="Login name (lower case, unique).")
@click.option("--display-name", required=True, help="The name users see in the chat.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    required=True,
    help="Handoff queue this user takes chats from; repeat for several.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
def console_users_create(
    tenant: str, username: str, display_name: str, queues: tuple[str, ...], password_stdin: bool
) -> None:
    """Create a console user. The password is asked for twice (hidden) unless given on
    stdin; it needs at least 8 characters."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)

    async def create(store: Store) -> ConsoleUser:
        tenant_id = await store.ensure_tenant(tenant)
        return await store.create_console_user(
            tenant_id,
            username=username,
            password=password,
            display_name=display_name,
            queues=list(queues),
        )

    try:
        user = _with_store(create)
    except (ValueError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    _status().print(
        f"Created console user [bold]{escape(user.username)}[/] of tenant "
        f"[bold]{escape(tenant)}[/] for queue(s) {escape(', '.join(user.queues))}."
    )
    click.echo(user.id)


@console_users.command("list")
@click.option("--tenant", default=None, help="Only this tenant's users.")
def console_users_list(tenant: str | None) -> None:
    """List console users (times in UTC)."""

    async def fetch(store: Store) -> tuple[list[ConsoleUser], dict[str, str]]:
        names = {t.id: t.name for t in await store.list_tenants()}
        if tenant is None:
            return await store.list_console_users(), names
        return await store.list_console_users(await _tenant_id(store, tenant)), names

    found, names = _with_store(fetch)
    table = Table("id", "tenant", "username", "display name", "queues", "created")
    for user in found:
        table.add_row(
            user.id,
            escape(names.get(user.tenant_id, user.tenant_id)),
            escape(user.username),
            escape(user.display_name),
            escape(", ".join(user.queues)),
            _when(user.created_at),
        )
    _stdout().print(table)
    _status().print(f"{len(found)} console user(s)")


@console_users.command("delete")
@click.argument("user_id")
def console_users_delete(user_id: str) -> None:
    """Delete a console user; they can no longer log in."""

    async def delete(store: Store) -> bool:
        return await store.delete_console_user(user_id)

    if not _with_store(delete):
        raise click.ClickException(f"no console user with id {user_id!r}")
    _status().print(f"Deleted console user [bold]{escape(user_id)}[/].")


# -- conversations ----------------------------------------------------------------------


@main.group()
def conversations() -> None:
    """List, show and delete stored conversations (transcripts, timings, tool calls)."""


async def _tenant_id(store: Store, tenant: str) -> str:
    tenant_id = await store.tenant_id_by_name(tenant)
    if tenant_id is None:
        raise click.ClickException(f"no tenant named {tenant!r}")
    return tenant_id


_TENANT = click.option("--tenant", default="default", show_default=True, help="Tenant name.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON (as the REST API).")


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


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
        tenant_id = await _tenant_id(store, tenant)
        try:
            return await store.list_conversations(
                tenant_id, agent_id=agent_id, channel=channel, limit=limit, cursor=cursor
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    found, next_cursor = _with_store(fetch)
    if as_json:
        listing = ConversationList(
            data=[conversation_list_item(c) for c in found], next_cursor=next_cursor
        )
        _print_json(listing.model_dump(mode="json"))
    else:
        table = Table("id", "agent", "channel", "mode", "started", "ended", "reason", "turns")
        for conv in found:
            table.add_row(
                escape(conv.id),
                escape(conv.agent_id),
                escape(conv.channel),
                escape(conv.mode),
                _when(conv.started_at),
                _when(conv.ended_at) or "live",
                escape(conv.end_reason or ""),
                str(conv.turn_count),
            )
        _stdout().print(table)
    more = f"; more with --cursor {next_cursor}" if next_cursor else ""
    _status().print(f"{len(found)} conversation(s){more}", markup=False, soft_wrap=True)


@conversations.command("show")
@click.argument("conversation_id")
@_TENANT
@_JSON
def conversations_show(conversation_id: str, tenant: str, as_json: bool) -> None:
    """Show a conversation: its transcript with latencies, and its tool calls."""
    from voxgate.server.serialize import conversation_object

    async def fetch(store: Store) -> ConversationRecord:
        conv = await store.get_conversation(conversation_id, await _tenant_id(store, tenant))
        if conv is None:
            raise click.ClickException(f"no conversation {conversation_id!r} for tenant {tenant!r}")
        return conv

    conv = _with_store(fetch)
    if as_json:
        _print_json(conversation_object(conv).model_dump(mode="json"))
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
        return await store.delete_conversation(conversation_id, await _tenant_id(store, tenant))

    if not _with_store(delete):
        raise click.ClickException(f"no conversation {conversation_id!r} for tenant {tenant!r}")
    _status().print(f"Deleted conversation [bold]{escape(conversation_id)}[/].")


# -- serve ------------------------------------------------------------------------------

LOAD_STEPS = 6
"""Progress messages while the server loads (SpeechServices.load's five, then agents)."""


@main.command()
@click.option("--host", help="Interface to listen on (VOXGATE_HOST).")
@click.option("--port", type=int, help="Port to listen on (VOXGATE_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the server: load agents and models, then serve until SIGTERM/SIGINT."""
    import logging

    from rich.logging import RichHandler
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from voxgate.agents.spec import load_specs
    from voxgate.errors import ConfigError, MissingExtraError
    from voxgate.server.run import serve as run_server
    from voxgate.server.state import ServerState
    from voxgate.speech.tts import require_tts

    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    console = _status()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    for noisy in ("alembic", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # One step per model (VAD, STT, TTS, end-of-turn), warm-up, then the agents.
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    step = bar.add_task("starting voxgate", total=LOAD_STEPS)
    if console.is_terminal:
        bar.start()

    def progress(message: str) -> None:
        if console.is_terminal:
            done = bar.tasks[0].description != "starting voxgate"
            bar.update(step, description=message, advance=1 if done else 0)
        else:
            console.print(f"{message}…")

    def ready(state: ServerState) -> None:
        bar.update(step, completed=LOAD_STEPS)
        bar.stop()
        base = f"{settings.host}:{settings.port}"
        agent = "demo" if "demo" in state.agents else next(iter(state.agents), "AGENT")
        # A key given in the environment is not echoed (consoles end up in logs).
        key = state.dev_key
        if key is None and settings.dev_api_key is not None:
            key = "$VOXGATE_DEV_API_KEY"
        console.print(f"[bold green]voxgate is ready[/] on http://{base}")
        console.print(f"agents: {', '.join(sorted(state.agents)) or '(none)'}")
        if state.dev_key:
            console.print("development API key (stored hashed; shown only this once):")
            click.echo(state.dev_key)
        elif key is None:
            console.print(
                "development API key: created on an earlier start and shown then; "
                "set VOXGATE_DEV_API_KEY or run `voxgate keys create` for a new one"
            )
        shown_key = key or "KEY"
        console.print("talk to it:")
        for line in (
            f"http://{base}/  (in a browser; sign in with the key)",
            'voxgate say "When are you open on Sunday?" --out question.wav',
            f"voxgate talk --wav question.wav --out reply.wav --key {shown_key}",
            f"ws://{base}/atoms/v1/agent/connect?token={shown_key}"
            f"&agent_id={agent}&mode=webcall&sample_rate=24000",
        ):
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
        console.print("live agents and web chat:")
        for line in (
            f"http://{base}/console  (users: voxgate console-users create)",
            f"http://{base}/chat#token=vmc_…  (voxgate connectors create, hosts add)",
        ):
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)

    try:
        # Fail before binding the port, with a plain message, on what would stop startup.
        load_specs(settings.agents_dir)
        require_tts()
        run_server(settings, progress=progress, on_ready=ready)
    except (ConfigError, MissingExtraError) as exc:
        bar.stop()
        raise click.ClickException(str(exc)) from None
    finally:
        bar.stop()


# -- talk -------------------------------------------------------------------------------


_KEY = click.option(
    "--key",
    envvar=["VOXGATE_API_KEY", "VOXGATE_DEV_API_KEY"],
    required=True,
    help="API key (or VOXGATE_API_KEY / VOXGATE_DEV_API_KEY).",
)
_URL = click.option("--url", default=None, help="Server URL (default http://HOST:PORT).")


def _server_url(url: str | None) -> str:
    settings = Settings()
    return url or f"http://{settings.host}:{settings.port}"


@main.command()
@click.option(
    "--wav",
    "wav_in",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Say this 16-bit PCM WAV file instead of using the microphone.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --wav: write the agent's spoken reply here (WAV).",
)
@_URL
@_KEY
@click.option("--agent", default="demo", show_default=True)
@click.option(
    "--dialect", type=click.Choice(["atoms", "datagrid"]), default="atoms", show_default=True
)
@click.option(
    "--sample-rate",
    type=click.Choice(["8000", "16000", "24000", "48000"]),
    default="24000",
    show_default=True,
    help="Atoms session rate (Datagrid is 16 kHz in, 24 kHz out).",
)
@click.option(
    "--half-duplex",
    is_flag=True,
    help="Mute the microphone while the agent speaks (speakers without echo cancellation).",
)
@click.option("--no-greeting", is_flag=True, help="With --wav: speak at once.")
def talk(
    wav_in: Path | None,
    out: Path | None,
    url: str | None,
    key: str,
    agent: str,
    dialect: str,
    sample_rate: str,
    half_duplex: bool,
    no_greeting: bool,
) -> None:
    """Talk to an agent: microphone and speaker (the client-audio extra), or a WAV file.

    Shows the live transcript, a level meter while you speak, and when the agent speaks;
    with --wav, prints both transcripts and can save the spoken reply."""
    from voxgate.cli_talk import talk_command

    if out is not None and wav_in is None:
        raise click.UsageError("--out needs --wav")
    talk_command(
        console=_status(),
        url=_server_url(url),
        key=key,
        agent=agent,
        dialect=dialect,
        sample_rate=int(sample_rate),
        wav_in=wav_in,
        out=out,
        half_duplex=half_duplex,
        greeting=not no_greeting,
    )


@main.command()
@_URL
@click.option(
    "--key",
    envvar=["VOXGATE_API_KEY", "VOXGATE_DEV_API_KEY"],
    help="API key: chat over the Atoms socket (or VOXGATE_API_KEY / VOXGATE_DEV_API_KEY).",
)
@click.option("--agent", default="demo", show_default=True, help="With --key.")
@click.option(
    "--connector",
    envvar="VOXGATE_CONNECTOR_TOKEN",
    help="Connector token (vmc_…): chat over the messaging API as an app would, with "
    "suggestions and handoff to a human (or VOXGATE_CONNECTOR_TOKEN).",
)
@click.option(
    "--host", "app_host", default="localhost", show_default=True, help="With --connector: X-Host."
)
def chat(
    url: str | None, key: str | None, agent: str, connector: str | None, app_host: str
) -> None:
    """Chat with an agent in the terminal; replies stream as they are written.

    Type a line and press Enter; a number picks a suggested reply; /quit (or Ctrl-D)
    ends the chat."""
    from voxgate.cli_talk import chat_command, messaging_chat_command

    if connector:
        messaging_chat_command(
            url=_server_url(url), connector=connector, host=app_host, console=_status()
        )
    elif key:
        chat_command(url=_server_url(url), key=key, agent=agent, console=_status())
    else:
        raise click.UsageError("give --key (Atoms chat) or --connector (messaging API)")


# -- agents -----------------------------------------------------------------------------


@main.group()
def agents() -> None:
    """Agent definitions (YAML files)."""


@agents.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def agents_validate(paths: tuple[str, ...]) -> None:
    """Check agent files or folders (default: the configured agents folder)."""
    from pathlib import Path

    from voxgate.agents.spec import load_spec, load_specs
    from voxgate.errors import ConfigError

    targets = [Path(p) for p in paths] or [Settings().agents_dir]
    failed = False
    for target in targets:
        try:
            if target.is_dir():
                found = load_specs(target)
                names = ", ".join(sorted(found)) or "no agents"
                _status().print(f"[green]ok[/] {target}: {names}")
            else:
                spec = load_spec(target)
                _status().print(f"[green]ok[/] {target}: {spec.id}")
        except ConfigError as exc:
            failed = True
            click.echo(str(exc), err=True)
    if failed:
        raise SystemExit(1)


@agents.command("list")
@click.option("--dir", "folder", type=click.Path(file_okay=False), help="Agents folder.")
def agents_list(folder: str | None) -> None:
    """List the agents of the configured folder."""
    from pathlib import Path

    from voxgate.agents.spec import load_specs
    from voxgate.errors import ConfigError

    try:
        specs = load_specs(Path(folder) if folder else Settings().agents_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    table = Table("id", "tenant", "name", "brain", "tools", "knowledge", "file")
    for agent_id, (spec, path) in sorted(specs.items()):
        table.add_row(
            escape(agent_id),
            escape(spec.tenant),
            escape(spec.name),
            spec.brain,
            escape(", ".join(spec.tool_names)),
            escape(", ".join(spec.knowledge)),
            escape(str(path)),
        )
    _stdout().print(table)


# -- say --------------------------------------------------------------------------------


@main.command()
@click.argument("text")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="WAV file to write.")
def say(text: str, out: str) -> None:
    """Speak TEXT with the embedded voice into a WAV file (a question for `voxgate talk`)."""
    from voxgate.audio.wav import write_wav
    from voxgate.errors import MissingExtraError
    from voxgate.speech.tts import PiperTTS

    if not text.strip():
        raise click.ClickException("TEXT must not be empty")
    try:
        tts = PiperTTS()
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from None
    audio = tts.synthesize(text, vary=False)
    write_wav(out, audio, tts.sample_rate)
    _status().print(f"{len(audio) / tts.sample_rate:.1f} s of speech written to {out}")
