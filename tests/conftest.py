"""Shared fixtures.

Database: ``store`` (and ``database_url``) run each test on SQLite and on PostgreSQL. The
PostgreSQL server comes from ``VOXGATE_TEST_POSTGRES_URL``; the tests get a temporary
database, dropped at the end, with an emptied schema per test. Unreachable PostgreSQL
skips those tests, or fails them when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from voxgate.store import Store

DEFAULT_TEST_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


# -- database ----------------------------------------------------------------------------


def _run_detached(coro: Coroutine[Any, Any, None]) -> None:
    """Run ``coro`` on a private loop in a thread: session setup must not touch test loops."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


async def _admin(url: URL, *statements: str) -> None:
    engine = create_async_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL | str]:
    """URL of a temporary PostgreSQL database for this session, or why there is none."""
    server = make_url(os.environ.get("VOXGATE_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))
    name = f"voxgate_test_{uuid.uuid4().hex[:12]}"
    try:
        _run_detached(_admin(server, f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as exc:
        shown = server.render_as_string(hide_password=True)
        yield f"PostgreSQL required in CI at {shown} ({type(exc).__name__}: {exc})"
        return
    try:
        yield server.set(database=name)
    finally:
        _run_detached(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest_asyncio.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, SQLite file or PostgreSQL, as a SQLAlchemy async URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'voxgate.db'}"
        return
    database: URL | str = request.getfixturevalue("postgres_database")
    if isinstance(database, str):
        if os.environ.get("CI") == "true":
            pytest.fail(database, pytrace=False)
        pytest.skip(database)
    await _admin(database, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
    yield database.render_as_string(hide_password=False)


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated, empty :class:`Store`, closed after the test."""
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
