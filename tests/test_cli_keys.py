from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from voxgate.cli.main import main
from voxgate.store import ApiKey, Store


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no stray voxgate.toml
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'voxgate.db'}"
    monkeypatch.setenv("VOXGATE_DATABASE_URL", url)
    monkeypatch.setenv("NO_COLOR", "1")
    return url


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _authenticate(url: str, secret: str) -> ApiKey | None:
    async def run() -> ApiKey | None:
        store = await Store.open(url)
        try:
            return await store.authenticate_api_key(secret)
        finally:
            await store.close()

    return asyncio.run(run())


def test_help() -> None:
    result = _invoke("--help")
    assert result.exit_code == 0
    assert "voxgate: self-hosted realtime conversational agents." in result.stdout
    assert "keys" in result.stdout


def test_create_prints_secret_once(db_url: str) -> None:
    result = _invoke("keys", "create", "--name", "laptop")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("vg_")
    assert "\n" not in secret
    assert "shown only once" in result.stderr
    assert secret not in result.stderr

    key = _authenticate(db_url, secret)
    assert key is not None
    assert key.name == "laptop"
    assert key.agents is None


def test_create_with_agents_and_list(db_url: str) -> None:
    created = _invoke("keys", "create", "--tenant", "acme", "--agent", "a1", "--agent", "a2")
    assert created.exit_code == 0, created.output
    key = _authenticate(db_url, created.stdout.strip())
    assert key is not None
    assert key.agents == ("a1", "a2")
    _invoke("keys", "create")

    listed = _invoke("keys", "list")
    assert listed.exit_code == 0, listed.output
    assert key.id in listed.stdout
    assert "acme" in listed.stdout
    assert "a1, a2" in listed.stdout
    assert key.prefix in listed.stdout
    assert created.stdout.strip() not in listed.stdout

    only = _invoke("keys", "list", "--tenant", "default")
    assert only.exit_code == 0
    assert key.id not in only.stdout
    assert "default" in only.stdout

    unknown = _invoke("keys", "list", "--tenant", "nobody")
    assert unknown.exit_code == 1
    assert "no tenant named 'nobody'" in unknown.stderr


def test_revoke(db_url: str) -> None:
    secret = _invoke("keys", "create").stdout.strip()
    key = _authenticate(db_url, secret)
    assert key is not None

    result = _invoke("keys", "revoke", key.id)
    assert result.exit_code == 0, result.output
    assert key.id in result.stderr
    assert _authenticate(db_url, secret) is None

    again = _invoke("keys", "revoke", key.id)
    assert again.exit_code == 1
    assert "no active key" in again.stderr

    listed = _invoke("keys", "list")
    row = next(line for line in listed.stdout.splitlines() if key.id in line)
    assert row.count(str(key.created_at.year)) == 2  # created and revoked columns


def test_unreachable_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOXGATE_DATABASE_URL", "postgresql+asyncpg://nobody:pw@127.0.0.1:1/none")
    result = _invoke("keys", "list")
    assert result.exit_code == 1
    assert "database postgresql+asyncpg://nobody:***@127.0.0.1:1/none" in result.stderr
    assert "pw" not in result.stderr
