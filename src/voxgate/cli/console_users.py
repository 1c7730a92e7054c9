"""``voxgate console-users``: the live agents who sign in to the messaging console."""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table

from voxgate.cli.database import require_tenant_id, with_store
from voxgate.cli.output import status, stdout, when
from voxgate.store import ConsoleUser, Store, StoreError


@click.group("console-users")
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
        user = with_store(create)
    except (ValueError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    status().print(
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
        return await store.list_console_users(await require_tenant_id(store, tenant)), names

    found, names = with_store(fetch)
    table = Table("id", "tenant", "username", "display name", "queues", "created")
    for user in found:
        table.add_row(
            user.id,
            escape(names.get(user.tenant_id, user.tenant_id)),
            escape(user.username),
            escape(user.display_name),
            escape(", ".join(user.queues)),
            when(user.created_at),
        )
    stdout().print(table)
    status().print(f"{len(found)} console user(s)")


@console_users.command("delete")
@click.argument("user_id")
def console_users_delete(user_id: str) -> None:
    """Delete a console user; they can no longer log in."""

    async def delete(store: Store) -> bool:
        return await store.delete_console_user(user_id)

    if not with_store(delete):
        raise click.ClickException(f"no console user with id {user_id!r}")
    status().print(f"Deleted console user [bold]{escape(user_id)}[/].")
