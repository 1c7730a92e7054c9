"""``voxgate connectors``, ``voxgate hosts`` and ``voxgate console-users``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner, Result

from voxgate.cli.main import main
from voxgate.store import Connector, ConsoleUser, Store

T = TypeVar("T")


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no stray voxgate.toml
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'voxgate.db'}"
    monkeypatch.setenv("VOXGATE_DATABASE_URL", url)
    monkeypatch.setenv("NO_COLOR", "1")
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "support.yaml").write_text('id: support\nflow:\n  fallback: "Hi."\n')
    return url


def _invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def _on_store(url: str, action: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = await Store.open(url)
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _authenticate(url: str, token: str, host: str) -> Connector | None:
    return _on_store(url, lambda s: s.authenticate_connector(token, host))


def _login(url: str, username: str, password: str) -> ConsoleUser | None:
    return _on_store(url, lambda s: s.authenticate_console_user(username, password))


def _create(url: str) -> tuple[str, Connector]:
    result = _invoke("connectors", "create", "--agent", "support")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    connectors = _on_store(url, lambda s: s.list_connectors())
    return token, connectors[-1]


def test_help() -> None:
    result = _invoke("--help")
    for group in ("connectors", "hosts", "console-users"):
        assert group in result.stdout


def test_connector_lifecycle(db_url: str) -> None:
    result = _invoke("connectors", "create", "--agent", "support", "--name", "web site")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("vmc_")
    assert "\n" not in token
    assert "shown only once" in result.stderr
    assert token not in result.stderr
    assert "Warning" not in result.stderr
    connector = _on_store(db_url, lambda s: s.list_connectors())[0]
    assert connector.name == "web site"
    assert connector.agent_id == "support"
    assert connector.id in result.stderr

    assert _authenticate(db_url, token, "example.com") is None
    added = _invoke("hosts", "add", connector.id, "Example.com")
    assert added.exit_code == 0, added.output
    assert "example.com (domain and its subdomains)" in added.stderr
    bundle = _invoke("hosts", "add", connector.id, "com.example.app")
    assert bundle.exit_code == 0, bundle.output
    assert "app bundle id" in bundle.stderr
    assert _authenticate(db_url, token, "chat.example.com") is not None
    assert _authenticate(db_url, token, "com.example.app") is not None
    assert _authenticate(db_url, token, "x.com.example.app") is None

    listed = _invoke("hosts", "list", connector.id)
    assert listed.stdout.splitlines() == ["com.example.app\tbundle", "example.com\tdomain"]

    table = _invoke("connectors", "list")
    assert table.exit_code == 0, table.output
    assert connector.id in table.stdout
    assert "com.example.app (bundle)" in table.stdout
    assert "web site" in table.stdout
    assert connector.prefix in table.stdout
    assert token not in table.stdout
    assert "1 connector(s)" in table.stderr

    removed = _invoke("hosts", "remove", connector.id, "example.com")
    assert removed.exit_code == 0, removed.output
    assert _authenticate(db_url, token, "example.com") is None
    again = _invoke("hosts", "remove", connector.id, "example.com")
    assert again.exit_code == 1
    assert "is not registered" in again.stderr

    revoked = _invoke("connectors", "revoke", connector.id)
    assert revoked.exit_code == 0, revoked.output
    assert _authenticate(db_url, token, "com.example.app") is None
    twice = _invoke("connectors", "revoke", connector.id)
    assert twice.exit_code == 1
    assert "no active connector" in twice.stderr


def test_connector_default_name_and_tenants(db_url: str) -> None:
    _token, connector = _create(db_url)
    assert connector.name == "support"
    other = _invoke("connectors", "create", "--agent", "bot", "--tenant", "acme")
    assert other.exit_code == 0, other.output
    assert "Warning" in other.stderr  # no agent 'bot' of tenant 'acme' in agents/
    only = _invoke("connectors", "list", "--tenant", "acme")
    assert "bot" in only.stdout
    assert connector.id not in only.stdout
    unknown = _invoke("connectors", "list", "--tenant", "nobody")
    assert unknown.exit_code == 1
    assert "no tenant named 'nobody'" in unknown.stderr


def test_host_options_and_errors(db_url: str) -> None:
    token, connector = _create(db_url)
    as_domain = _invoke("hosts", "add", connector.id, "com.example.net", "--domain")
    assert as_domain.exit_code == 0, as_domain.output
    assert _authenticate(db_url, token, "www.com.example.net") is not None
    as_bundle = _invoke("hosts", "add", connector.id, "shop.example.org", "--bundle")
    assert as_bundle.exit_code == 0, as_bundle.output
    assert _authenticate(db_url, token, "a.shop.example.org") is None

    url = _invoke("hosts", "add", connector.id, "https://example.com/chat")
    assert url.exit_code == 1
    assert "is a URL" in url.stderr
    missing = _invoke("hosts", "add", "con_nope", "example.com")
    assert missing.exit_code == 1
    assert "no connector 'con_nope'" in missing.stderr
    nothing = _invoke("hosts", "list", "con_nope")
    assert nothing.exit_code == 1


def test_console_users(db_url: str) -> None:
    created = _invoke(
        "console-users", "create", "--username", "Ann", "--display-name", "Ann Lee",
        "--queue", "support", "--queue", "sales", "--password-stdin",
        input="correct horse\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    user_id = created.stdout.strip()
    assert user_id.startswith("usr_")
    assert "support, sales" in created.stderr
    user = _login(db_url, "ann", "correct horse")
    assert user is not None
    assert user.id == user_id
    assert user.queues == ("support", "sales")
    assert _login(db_url, "ann", "correct horse\n") is None

    taken = _invoke(
        "console-users", "create", "--username", "ann", "--display-name", "Other",
        "--queue", "support", "--password-stdin", input="another pass\n",
    )  # fmt: skip
    assert taken.exit_code == 1
    assert "exists" in taken.stderr

    listed = _invoke("console-users", "list")
    assert listed.exit_code == 0, listed.output
    assert user_id in listed.stdout
    assert "Ann Lee" in listed.stdout
    assert "correct horse" not in listed.output

    deleted = _invoke("console-users", "delete", user_id)
    assert deleted.exit_code == 0, deleted.output
    assert _login(db_url, "ann", "correct horse") is None
    gone = _invoke("console-users", "delete", user_id)
    assert gone.exit_code == 1
    assert "no console user" in gone.stderr


def test_console_user_prompts_twice(db_url: str) -> None:
    args = ("console-users", "create", "--username", "bob", "--display-name", "Bob",
            "--queue", "support")  # fmt: skip
    result = _invoke(*args, input="long password\nlong password\n")
    assert result.exit_code == 0, result.output
    assert "long password" not in result.output
    assert _login(db_url, "bob", "long password") is not None

    mismatch = _invoke(*args[:3], "carl", *args[4:], input="first one1\nsecond one\n")
    assert mismatch.exit_code != 0
    assert _login(db_url, "carl", "first one1") is None


def test_console_user_validation(db_url: str) -> None:
    short = _invoke(
        "console-users", "create", "--username", "ann", "--display-name", "Ann",
        "--queue", "support", "--password-stdin", input="short\n",
    )  # fmt: skip
    assert short.exit_code == 1
    assert "8-1024 characters" in short.stderr
    no_queue = _invoke(
        "console-users", "create", "--username", "ann", "--display-name", "Ann",
        "--password-stdin", input="long enough\n",
    )  # fmt: skip
    assert no_queue.exit_code == 2
    assert "--queue" in no_queue.stderr
