from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from voxgate.store import Store
from voxgate.store.models import Base


async def test_open_twice_is_idempotent(database_url: str) -> None:
    first = await Store.open(database_url)
    try:
        tenant = await first.ensure_tenant("acme")
    finally:
        await first.close()
    second = await Store.open(database_url)
    try:
        await second.ping()
        assert await second.tenant_id_by_name("acme") == tenant
        async with second.engine.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        assert version == "0004"
    finally:
        await second.close()


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_models(store: Store) -> None:
    async with store.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def test_in_memory_sqlite_serializes_transactions() -> None:
    store = await Store.open("sqlite+aiosqlite://")
    try:
        tenant = await store.ensure_tenant("acme")
        _, secret = await store.create_api_key(tenant, "ci")
        found = await asyncio.gather(*(store.authenticate_api_key(secret) for _ in range(5)))
        assert all(key is not None for key in found)
        await store.ping()
    finally:
        await store.close()
