"""Tool calls of conversations, bookings, and the 0001 → 0002 migration."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from voxgate.store import (
    NewBooking,
    NewConversation,
    NewToolCall,
    NotFoundError,
    Store,
    StoreError,
    normalize_booking_reference,
    repository,
)
from voxgate.store.repository import MIGRATIONS_DIR, REFERENCE_ALPHABET

T0 = datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
REFERENCE = re.compile(rf"^BK-[{REFERENCE_ALPHABET}]{{4}}$")


async def _conversation(store: Store, call_id: str = "call_tools") -> str:
    tenant = await store.ensure_tenant("acme")
    await store.create_conversation(
        NewConversation(
            id=call_id,
            tenant_id=tenant,
            agent_id="bistro",
            channel="voice",
            dialect="atoms",
            mode="webcall",
            sample_rate=16000,
            variables={},
            started_at=T0,
        )
    )
    return tenant


def _call(name: str = "create_booking", **changes: Any) -> NewToolCall:
    values: dict[str, Any] = {
        "name": name,
        "arguments": {"name": "Ada", "party_size": 2, "nested": {"a": [1, 2]}},
        "result": {"reference": "BK-ACDEF"},
        "status": "completed",
        "error": None,
        "started_at": T0,
        "duration_ms": 12.5,
    }
    values.update(changes)
    return NewToolCall(**values)


def _booking(tenant: str = "t1", **changes: Any) -> NewBooking:
    values: dict[str, Any] = {
        "tenant_id": tenant,
        "agent_id": "bistro",
        "conversation_id": "call_tools",
        "name": "Ada Lovelace",
        "party_size": 4,
        "date": date(2025, 3, 8),
        "time": time(19, 30),
        "notes": None,
    }
    values.update(changes)
    return NewBooking(**values)


# -- tool calls ---------------------------------------------------------------------------


async def test_tool_calls_numbered_in_order_and_read_back(store: Store) -> None:
    tenant = await _conversation(store)
    seqs = [
        await store.add_tool_call("call_tools", _call()),
        await store.add_tool_call(
            "call_tools",
            _call(
                "cancel_booking",
                arguments={"reference": "BK-XXXX"},
                result=None,
                status="failed",
                error="no booking with reference 'BK-XXXX'",
                started_at=T0 + timedelta(seconds=3),
                duration_ms=1.25,
            ),
        ),
    ]
    assert seqs == [1, 2]

    calls = await store.list_tool_calls("call_tools")
    assert [c.seq for c in calls] == [1, 2]
    first, second = calls
    assert first.name == "create_booking"
    assert first.arguments == {"name": "Ada", "party_size": 2, "nested": {"a": [1, 2]}}
    assert first.result == {"reference": "BK-ACDEF"}
    assert first.status == "completed" and first.error is None
    assert first.started_at == T0 and first.started_at.tzinfo is not None
    assert first.duration_ms == 12.5
    assert second.status == "failed" and second.result is None
    assert second.error == "no booking with reference 'BK-XXXX'"

    conv = await store.get_conversation("call_tools", tenant)
    assert conv is not None
    assert conv.tool_calls == tuple(calls)
    assert conv.turns == ()


async def test_tool_call_of_unknown_conversation(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.add_tool_call("nope", _call())
    assert await store.list_tool_calls("nope") == []


def test_new_tool_call_is_validated() -> None:
    with pytest.raises(ValueError, match="naive"):
        _call(started_at=datetime(2025, 3, 1, 12, 0))
    with pytest.raises(ValueError, match="status"):
        _call(status="started")


async def test_tool_calls_go_with_their_conversation(store: Store) -> None:
    await _conversation(store)
    await store.add_tool_call("call_tools", _call())
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM conversations WHERE id = 'call_tools'"))
    assert await store.list_tool_calls("call_tools") == []


# -- bookings -----------------------------------------------------------------------------


async def test_create_booking_round_trip(store: Store) -> None:
    booking = await store.create_booking(_booking(notes="window seat", name="  Ada Lovelace "))
    assert REFERENCE.match(booking.reference), booking.reference
    assert booking.name == "Ada Lovelace"
    assert booking.status == "confirmed" and booking.cancelled_at is None
    assert booking.created_at.tzinfo is not None

    [listed] = await store.list_bookings("t1", "bistro")
    assert listed == booking
    assert type(listed.date) is date and listed.date == date(2025, 3, 8)
    assert type(listed.time) is time and listed.time == time(19, 30)
    assert listed.notes == "window seat"
    assert listed.conversation_id == "call_tools"


async def test_references_are_distinct(store: Store) -> None:
    made = [await store.create_booking(_booking()) for _ in range(20)]
    assert len({b.reference for b in made}) == 20


async def test_taken_reference_is_drawn_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["BK-AAAAA", "BK-AAAAA", "BK-CCCCC"])
    monkeypatch.setattr(repository, "new_booking_reference", lambda: next(draws))
    first = await store.create_booking(_booking())
    second = await store.create_booking(_booking(name="Grace Hopper"))
    assert (first.reference, second.reference) == ("BK-AAAAA", "BK-CCCCC")
    assert len(await store.list_bookings("t1", "bistro")) == 2


async def test_gives_up_when_no_reference_is_free(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "new_booking_reference", lambda: "BK-AAAAA")
    await store.create_booking(_booking())
    with pytest.raises(StoreError, match="reference"):
        await store.create_booking(_booking())


async def test_list_bookings_filters_and_order(store: Store) -> None:
    late = await store.create_booking(_booking(time=time(21, 0)))
    early = await store.create_booking(_booking(name="ada lovelace", time=time(18, 0)))
    other_day = await store.create_booking(_booking(name="Grace", date=date(2025, 3, 9)))
    earlier_day = await store.create_booking(_booking(name="Grace", date=date(2025, 3, 7)))
    await store.create_booking(_booking(tenant="t2"))
    await store.create_booking(_booking(agent_id="salon"))

    everything = await store.list_bookings("t1", "bistro")
    assert [b.reference for b in everything] == [
        earlier_day.reference,
        early.reference,
        late.reference,
        other_day.reference,
    ]
    by_name = await store.list_bookings("t1", "bistro", name=" ADA LOVELACE")
    assert [b.reference for b in by_name] == [early.reference, late.reference]
    assert await store.list_bookings("t1", "bistro", name="Ada") == []
    on_day = await store.list_bookings("t1", "bistro", on_date=date(2025, 3, 9))
    assert [b.reference for b in on_day] == [other_day.reference]
    both = await store.list_bookings("t1", "bistro", name="grace", on_date=date(2025, 3, 7))
    assert [b.reference for b in both] == [earlier_day.reference]
    assert len(await store.list_bookings("t2", "bistro")) == 1


async def test_cancel_booking(store: Store) -> None:
    booking = await store.create_booking(_booking())
    kept = await store.create_booking(_booking(name="Grace"))

    cancelled = await store.cancel_booking("t1", booking.reference)
    assert cancelled is not None
    assert cancelled.reference == booking.reference
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at is not None and cancelled.cancelled_at.tzinfo is not None

    again = await store.cancel_booking("t1", booking.reference)
    assert again == cancelled

    assert [b.reference for b in await store.list_bookings("t1", "bistro")] == [kept.reference]
    with_cancelled = await store.list_bookings("t1", "bistro", include_cancelled=True)
    assert {b.reference: b.status for b in with_cancelled} == {
        booking.reference: "cancelled",
        kept.reference: "confirmed",
    }


async def test_cancel_booking_of_other_tenant_or_unknown(store: Store) -> None:
    booking = await store.create_booking(_booking())
    assert await store.cancel_booking("t2", booking.reference) is None
    assert await store.cancel_booking("t1", "BK-ZZZZZ") is None
    [still] = await store.list_bookings("t1", "bistro")
    assert still.status == "confirmed"


async def test_cancel_accepts_references_as_spoken(store: Store) -> None:
    booking = await store.create_booking(_booking())
    body = booking.reference.removeprefix("BK-")
    cancelled = await store.cancel_booking("t1", f" bk {body.lower()} ")
    assert cancelled is not None and cancelled.status == "cancelled"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("BK-7K3QX", "BK-7K3QX"),
        ("bk-7k3qx", "BK-7K3QX"),
        ("7K3QX", "BK-7K3QX"),
        ("BK7K3QX", "BK-7K3QX"),
        (" bk 7k3qx ", "BK-7K3QX"),
    ],
)
def test_normalize_booking_reference(given: str, expected: str) -> None:
    assert normalize_booking_reference(given) == expected


def test_new_booking_is_validated() -> None:
    with pytest.raises(ValueError, match="name"):
        _booking(name="  ")
    with pytest.raises(ValueError, match="party_size"):
        _booking(party_size=0)
    with pytest.raises(ValueError, match="naive"):
        _booking(time=time(19, 30, tzinfo=UTC))


# -- migration ----------------------------------------------------------------------------


def _alembic(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_from_0001_keeps_data(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_alembic, "upgrade", "0001")
            assert "bookings" not in await conn.run_sync(_tables)
            await conn.execute(
                text(
                    "INSERT INTO conversations (id, tenant_id, agent_id, channel, dialect, "
                    "mode, variables, started_at) VALUES ('call_old', 't1', 'bistro', "
                    "'voice', 'atoms', 'webcall', '{}', :t)"
                ),
                {"t": T0},
            )
    finally:
        await engine.dispose()

    store = await Store.open(database_url)
    try:
        assert await store.add_tool_call("call_old", _call()) == 1
        conv = await store.get_conversation("call_old", "t1")
        assert conv is not None and len(conv.tool_calls) == 1
        await store.create_booking(_booking())
        async with store.engine.begin() as conn:
            await conn.run_sync(_alembic, "downgrade", "0001")
            tables = await conn.run_sync(_tables)
            assert "bookings" not in tables and "tool_calls" not in tables
            assert "conversations" in tables
            await conn.run_sync(_alembic, "upgrade", "head")
            assert {"bookings", "tool_calls"} <= await conn.run_sync(_tables)
    finally:
        await store.close()
