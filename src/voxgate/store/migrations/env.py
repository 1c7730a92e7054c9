"""Alembic environment of the voxgate store.

At runtime :meth:`voxgate.store.Store.open` passes its open connection in
``config.attributes["connection"]``. Run by the ``alembic`` command instead (to write a
revision), it connects to ``sqlalchemy.url`` or else to ``Settings().resolved_database_url``.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from voxgate.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from voxgate.config import Settings

    return Settings().resolved_database_url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
    else:
        asyncio.run(_run_standalone(_url()))
