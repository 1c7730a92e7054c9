from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner, Result

from voxgate.cli.main import main
from voxgate.conversation.latency import TurnLatency
from voxgate.store import NewConversation, NewToolCall, NewTurn, Store

T = TypeVar("T")
T0 = datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no stray voxgate.toml
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'voxgate.db'}"
    monkeypatch.setenv("VOXGATE_DATABASE_URL", url)
    monkeypatch.setenv("NO_COLOR", "1")
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


def _conv(
    tenant_id: str, call_id: str, minutes: int, agent_id: str = "support", channel: str = "voice"
) -> NewConversation:
    return NewConversation(
        id=call_id,
        tenant_id=tenant_id,
        agent_id=agent_id,
        channel=channel,
        dialect="atoms",
        mode="webcall" if channel == "voice" else "chat",
        sample_rate=24000 if channel == "voice" else None,
        variables={},
        started_at=T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def seeded(db_url: str) -> str:
    async def seed(store: Store) -> None:
        default = await store.ensure_tenant("default")
        acme = await store.ensure_tenant("acme")
        await store.create_conversation(_conv(default, "call_one", 0))
        await store.create_conversation(_conv(default, "call_two", 1, "sales", "chat"))
        await store.create_conversation(_conv(default, "call_three", 2))
        await store.create_conversation(_conv(acme, "call_acme", 3))
        await store.add_turn(
            "call_one",
            NewTurn(
                role="user",
                text="What are your opening hours?",
                heard_text=None,
                interrupted=False,
                started_at=T0 + timedelta(seconds=1),
                ended_at=T0 + timedelta(seconds=2),
                latency=TurnLatency(endpointing_ms=210.4, stt_ms=95.0),
            ),
        )
        await store.add_tool_call(
            "call_one",
            NewToolCall(
                name="lookup_hours",
                arguments={"day": "monday"},
                result={"open": "09:00"},
                status="completed",
                error=None,
                started_at=T0 + timedelta(seconds=2, milliseconds=100),
                duration_ms=12.0,
            ),
        )
        await store.add_turn(
            "call_one",
            NewTurn(
                role="assistant",
                text="We open at nine on Mondays and close at six.",
                heard_text="We open at nine",
                interrupted=True,
                started_at=T0 + timedelta(seconds=3),
                ended_at=T0 + timedelta(seconds=4),
                latency=TurnLatency(agent_first_text_ms=320.0, voice_to_voice_ms=780.6),
            ),
        )
        await store.end_conversation("call_one", "hangup", T0 + timedelta(seconds=30))

    _on_store(db_url, seed)
    return db_url


def test_list_table(seeded: str) -> None:
    result = _invoke("conversations", "list")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "call_" in line]
    assert [row.split()[1] for row in rows] == ["call_three", "call_two", "call_one"]
    assert "hangup" in rows[2] and "2025-03-01 12:00" in rows[2]
    assert "live" in rows[0]
    assert "call_acme" not in result.stdout
    assert "3 conversation(s)" in result.stderr
    assert "conversation(s)" not in result.stdout


def test_list_filters_and_json(seeded: str) -> None:
    result = _invoke("conversations", "list", "--agent", "support", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["object"] == "list" and listing["next_cursor"] is None
    assert [c["id"] for c in listing["data"]] == ["call_three", "call_one"]
    one = listing["data"][1]
    assert one["turn_count"] == 2 and one["status"] == "ended" and one["end_reason"] == "hangup"
    assert one["started_at"] == "2025-03-01T12:00:00.250000+00:00"

    chat = json.loads(_invoke("conversations", "list", "--channel", "chat", "--json").stdout)
    assert [c["id"] for c in chat["data"]] == ["call_two"]
    acme = json.loads(_invoke("conversations", "list", "--tenant", "acme", "--json").stdout)
    assert [c["id"] for c in acme["data"]] == ["call_acme"]


def test_list_pages_with_cursor(seeded: str) -> None:
    first = json.loads(_invoke("conversations", "list", "--limit", "2", "--json").stdout)
    assert [c["id"] for c in first["data"]] == ["call_three", "call_two"]
    cursor = first["next_cursor"]
    assert cursor
    rest = _invoke("conversations", "list", "--limit", "2", "--cursor", cursor, "--json")
    assert [c["id"] for c in json.loads(rest.stdout)["data"]] == ["call_one"]
    table = _invoke("conversations", "list", "--limit", "2")
    assert f"--cursor {cursor}" in table.stderr

    bad = _invoke("conversations", "list", "--cursor", "garbage!")
    assert bad.exit_code == 1 and "invalid cursor" in bad.stderr
    zero = _invoke("conversations", "list", "--limit", "0")
    assert zero.exit_code == 2


def test_unknown_tenant(seeded: str) -> None:
    for args in (["list"], ["show", "call_one"], ["delete", "call_one", "--yes"]):
        result = _invoke("conversations", *args, "--tenant", "nobody")
        assert result.exit_code == 1
        assert "no tenant named 'nobody'" in result.stderr


def test_show_transcript(seeded: str) -> None:
    result = _invoke("conversations", "show", "call_one")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "conversation call_one" in out
    assert "agent support · voice · webcall · atoms" in out
    assert "started 2025-03-01 12:00:00 UTC · ended 2025-03-01 12:00:30 UTC (hangup)" in out
    lines = out.splitlines()
    user = lines.index("[12:00:01.250] user: What are your opening hours?")
    assert lines[user + 1] == "    latency: endpointing 210 ms, stt 95 ms"
    assert lines[user + 2] == (
        '[12:00:02.350] tool lookup_hours({"day": "monday"}) completed in 12 ms'
    )
    assert lines[user + 3] == '    → {"open": "09:00"}'
    assert lines[user + 4] == (
        "[12:00:03.250] assistant: We open at nine on Mondays and close at six."
    )
    assert lines[user + 5] == "    (interrupted; heard: 'We open at nine')"
    assert lines[user + 6] == "    latency: first text 320 ms, voice-to-voice 781 ms"
    assert result.stderr == ""


def test_show_json_matches_the_rest_api(seeded: str) -> None:
    result = _invoke("conversations", "show", "call_one", "--json")
    assert result.exit_code == 0, result.output
    conv = json.loads(result.stdout)
    assert conv["object"] == "conversation" and conv["id"] == conv["call_id"] == "call_one"
    assert [t["role"] for t in conv["transcript"]] == ["user", "assistant"]
    assert conv["transcript"][0]["latency"]["stt_ms"] == 95.0
    assert conv["tool_calls"][0]["result"] == {"open": "09:00"}


def test_show_unknown_or_other_tenants(seeded: str) -> None:
    for args in (["call_missing"], ["call_acme"]):
        result = _invoke("conversations", "show", *args)
        assert result.exit_code == 1
        assert f"no conversation {args[0]!r} for tenant 'default'" in result.stderr
    assert _invoke("conversations", "show", "call_acme", "--tenant", "acme").exit_code == 0


def test_delete(seeded: str) -> None:
    declined = _invoke("conversations", "delete", "call_two", input="n\n")
    assert declined.exit_code == 1
    assert "Delete conversation 'call_two'" in declined.stderr
    assert _invoke("conversations", "show", "call_two").exit_code == 0

    confirmed = _invoke("conversations", "delete", "call_two", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "Deleted conversation call_two" in confirmed.stderr
    assert confirmed.stdout == ""
    assert _invoke("conversations", "show", "call_two").exit_code == 1

    again = _invoke("conversations", "delete", "call_two", "--yes")
    assert again.exit_code == 1 and "no conversation 'call_two'" in again.stderr
    other = _invoke("conversations", "delete", "call_acme", "--yes")
    assert other.exit_code == 1
    assert _invoke("conversations", "show", "call_acme", "--tenant", "acme").exit_code == 0
