"""``voxgate connectors`` and ``voxgate hosts``: the messaging connectors an app embeds,
and the web domains and app bundle ids each one serves."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from voxgate.cli.database import require_tenant_id, with_store
from voxgate.cli.output import status, stdout, when
from voxgate.config import Settings
from voxgate.store import Connector, HostKind, Store, StoreError, normalize_host


@click.group()
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
        status().print(
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
        connector, token = with_store(create)
    except (ValueError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    status().print(
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
        return await store.list_connectors(await require_tenant_id(store, tenant)), names

    found, names = with_store(fetch)
    table = Table("id", "tenant", "name", "agent", "prefix", "hosts", "created", "revoked")
    for connector in found:
        table.add_row(
            connector.id,
            escape(names.get(connector.tenant_id, connector.tenant_id)),
            escape(connector.name),
            escape(connector.agent_id),
            escape(connector.prefix) + "…",
            _hosts_cell(connector),
            when(connector.created_at),
            when(connector.revoked_at),
        )
    stdout().print(table)
    status().print(f"{len(found)} connector(s)")


@connectors.command("revoke")
@click.argument("connector_id")
def connectors_revoke(connector_id: str) -> None:
    """Revoke a connector: its token, access tokens and sessions are refused from now on."""

    async def revoke(store: Store) -> bool:
        return await store.revoke_connector(connector_id)

    if not with_store(revoke):
        raise click.ClickException(f"no active connector with id {connector_id!r}")
    status().print(f"Revoked connector [bold]{escape(connector_id)}[/].")


@click.group()
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
        connector = with_store(add)
    except (ValueError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    assert connector is not None
    added = normalize_host(host)
    what = "app bundle id" if added in connector.bundle_ids else "domain and its subdomains"
    status().print(f"Connector [bold]{escape(connector_id)}[/] serves {escape(added)} ({what}).")


@hosts.command("remove")
@click.argument("connector_id")
@click.argument("host")
def hosts_remove(connector_id: str, host: str) -> None:
    """Stop CONNECTOR_ID being used from HOST. Access tokens issued for it are refused."""

    async def remove(store: Store) -> bool:
        return await store.remove_connector_host(connector_id, host)

    if not with_store(remove):
        raise click.ClickException(f"{host!r} is not registered for connector {connector_id!r}")
    status().print(f"Connector [bold]{escape(connector_id)}[/] no longer serves {escape(host)}.")


@hosts.command("list")
@click.argument("connector_id")
def hosts_list(connector_id: str) -> None:
    """The hosts CONNECTOR_ID serves, one a line: host and kind (domain or bundle)."""

    async def fetch(store: Store) -> Connector | None:
        return await store.get_connector(connector_id)

    connector = with_store(fetch)
    if connector is None:
        raise click.ClickException(f"no connector with id {connector_id!r}")
    for host in connector.hosts:
        click.echo(f"{host}\t{'bundle' if host in connector.bundle_ids else 'domain'}")
