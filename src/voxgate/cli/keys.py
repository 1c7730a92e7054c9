"""``voxgate keys``: create, list and revoke API keys."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from voxgate.cli.database import with_store
from voxgate.cli.output import status, stdout, when
from voxgate.store import ApiKey, Store


@click.group()
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

    key, secret = with_store(create)
    status().print(
        f"Created key [bold]{key.id}[/] for tenant [bold]{escape(tenant)}[/]. "
        "Its secret is shown only once; store it now."
    )
    click.echo(secret)


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

    found, names = with_store(fetch)
    table = Table("id", "tenant", "name", "prefix", "agents", "created", "revoked")
    for key in found:
        table.add_row(
            key.id,
            escape(names.get(key.tenant_id, key.tenant_id)),
            escape(key.name),
            escape(key.prefix) + "…",
            "all" if key.agents is None else escape(", ".join(key.agents)),
            when(key.created_at),
            when(key.revoked_at),
        )
    stdout().print(table)
    status().print(f"{len(found)} key(s)")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key; clients using it are refused from now on."""

    async def revoke(store: Store) -> bool:
        return await store.revoke_api_key(key_id)

    if not with_store(revoke):
        raise click.ClickException(f"no active key with id {key_id!r}")
    status().print(f"Revoked key [bold]{escape(key_id)}[/].")
