"""Running one action on the configured store, for the commands that manage stored data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from voxgate.config import Settings
from voxgate.store import Store

T = TypeVar("T")


def with_store(action: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run ``action`` on it, close it.

    Raises click.ClickException when the database cannot be reached or fails (the URL is
    shown without its password)."""
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


async def require_tenant_id(store: Store, tenant: str) -> str:
    """The id of the tenant named ``tenant``; raises click.ClickException if there is none."""
    tenant_id = await store.tenant_id_by_name(tenant)
    if tenant_id is None:
        raise click.ClickException(f"no tenant named {tenant!r}")
    return tenant_id
