"""Listing (filters, keyset pagination) and deleting conversations, on both databases."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from voxgate.store import (
    ConversationSummary,
    NewBooking,
    NewConversation,
    NewToolCall,
    NewTurn,
    Store,
)
from voxgate.store.models import ToolCallRow, TurnRow

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _conv(
    tenant_id: str,
    call_id: str,
    started_at: datetime = T0,
    *,
    agent_id: str = "support",
    channel: str = "voice",
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
        started_at=started_at,
    )


def _turn(i: int) -> NewTurn:
    start = T0 + timedelta(seconds=i)
    return NewTurn(
        role="user" if i % 2 == 0 else "assistant",
        text=f"turn {i}",
        heard_text=None,
        interrupted=False,
        started_at=start,
        ended_at=start + timedelta(milliseconds=500),
    )


async def _all_pages(store: Store, tenant_id: str, limit: int, **filters: object) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = await store.list_conversations(
            tenant_id,
            limit=limit,
            cursor=cursor,
            **filters,  # type: ignore[arg-type]
        )
        pages += 1
        assert len(page) <= limit
        seen.extend(c.id for c in page)
        if cursor is None:
            return seen
        assert len(page) == limit
        assert pages < 100


async def test_summary_fields_and_newest_first(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    await store.create_conversation(_conv(tenant, "call_old", T0))
    await store.create_conversation(_conv(tenant, "call_new", T0 + timedelta(minutes=5)))
    for i in range(3):
        await store.add_turn("call_old", _turn(i))
    await store.end_conversation("call_old", "hangup", T0 + timedelta(minutes=1))

    page, cursor = await store.list_conversations(tenant)
    assert cursor is None
    assert [c.id for c in page] == ["call_new", "call_old"]
    assert page[1] == ConversationSummary(
        id="call_old",
        agent_id="support",
        channel="voice",
        dialect="atoms",
        mode="webcall",
        started_at=T0,
        ended_at=T0 + timedelta(minutes=1),
        end_reason="hangup",
        turn_count=3,
    )
    assert page[0].turn_count == 0
    assert page[0].ended_at is None and page[0].end_reason is None


async def test_filters(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    specs = [
        ("call_a", "support", "voice", T0),
        ("call_b", "support", "chat", T0 + timedelta(hours=1)),
        ("call_c", "sales", "voice", T0 + timedelta(hours=2)),
        ("call_d", "sales", "chat", T0 + timedelta(hours=3)),
    ]
    for call_id, agent, channel, started in specs:
        await store.create_conversation(
            _conv(tenant, call_id, started, agent_id=agent, channel=channel)
        )

    async def ids(**filters: object) -> list[str]:
        page, _ = await store.list_conversations(tenant, **filters)  # type: ignore[arg-type]
        return [c.id for c in page]

    assert await ids(agent_id="support") == ["call_b", "call_a"]
    assert await ids(channel="voice") == ["call_c", "call_a"]
    assert await ids(agent_id="sales", channel="chat") == ["call_d"]
    assert await ids(agent_id="nobody") == []
    # started_after is inclusive, started_before exclusive.
    assert await ids(started_after=T0 + timedelta(hours=1)) == ["call_d", "call_c", "call_b"]
    assert await ids(started_before=T0 + timedelta(hours=2)) == ["call_b", "call_a"]
    assert await ids(
        started_after=T0 + timedelta(hours=1), started_before=T0 + timedelta(hours=3)
    ) == ["call_c", "call_b"]
    # Any time zone: the instant counts.
    plus2 = timezone(timedelta(hours=2))
    assert await ids(started_after=(T0 + timedelta(hours=3)).astimezone(plus2)) == ["call_d"]
    with pytest.raises(ValueError, match="naive"):
        await store.list_conversations(tenant, started_after=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="limit"):
        await store.list_conversations(tenant, limit=0)


async def test_pagination_without_duplicates_or_gaps(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    expected: list[tuple[datetime, str]] = []
    # 23 rows; groups of equal start times straddle page boundaries.
    for i in range(23):
        started = T0 + timedelta(seconds=i // 4)
        call_id = f"call_{(i * 7) % 23:03d}"
        await store.create_conversation(_conv(tenant, call_id, started))
        expected.append((started, call_id))
    newest_first = [cid for _s, cid in sorted(expected, reverse=True)]

    for limit in (1, 3, 4, 5, 22, 23, 24, 50):
        assert await _all_pages(store, tenant, limit) == newest_first, limit

    # Filters hold on every page.
    after = T0 + timedelta(seconds=2)
    filtered = [cid for s, cid in sorted(expected, reverse=True) if s >= after]
    assert await _all_pages(store, tenant, 3, started_after=after) == filtered


async def test_last_page_exactly_full_has_no_cursor(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    for i in range(4):
        await store.create_conversation(_conv(tenant, f"call_{i}", T0 + timedelta(seconds=i)))
    page, cursor = await store.list_conversations(tenant, limit=2)
    assert [c.id for c in page] == ["call_3", "call_2"] and cursor is not None
    page, cursor = await store.list_conversations(tenant, limit=2, cursor=cursor)
    assert [c.id for c in page] == ["call_1", "call_0"]
    assert cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "",
        "YWJj",  # "abc": no separator
        base64.urlsafe_b64encode(b"2025-03-01T12:00:00|call_x").decode(),  # naive
        base64.urlsafe_b64encode(b"yesterday|call_x").decode(),
        base64.urlsafe_b64encode(b"2025-03-01T12:00:00+00:00|").decode(),
        base64.urlsafe_b64encode(b"2025-03-01T12:00:00+00:00|a\x00b").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
        base64.urlsafe_b64encode(b"9999-12-31T23:59:59-23:59|call_x").decode(),  # overflows
    ],
)
async def test_invalid_cursor(store: Store, cursor: str) -> None:
    tenant = await store.ensure_tenant("acme")
    with pytest.raises(ValueError, match="invalid cursor"):
        await store.list_conversations(tenant, cursor=cursor)


async def test_tenant_isolation(store: Store) -> None:
    acme = await store.ensure_tenant("acme")
    other = await store.ensure_tenant("other")
    await store.create_conversation(_conv(acme, "call_acme"))
    await store.create_conversation(_conv(other, "call_other"))

    page, _ = await store.list_conversations(acme)
    assert [c.id for c in page] == ["call_acme"]
    # A cursor does not open another tenant's rows.
    first, cursor = await store.list_conversations(other, limit=1)
    assert [c.id for c in first] == ["call_other"] and cursor is None

    assert await store.delete_conversation("call_acme", other) is False
    assert await store.get_conversation("call_acme", acme) is not None
    assert await store.delete_conversation("call_missing", acme) is False


async def test_delete_cascades_and_unlinks_bookings(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    await store.create_conversation(_conv(tenant, "call_gone"))
    await store.create_conversation(_conv(tenant, "call_kept"))
    for conv_id in ("call_gone", "call_kept"):
        await store.add_turn(conv_id, _turn(0))
        await store.add_turn(conv_id, _turn(1))
        await store.add_tool_call(
            conv_id,
            NewToolCall(
                name="lookup",
                arguments={"q": "x"},
                result={"ok": True},
                status="completed",
                error=None,
                started_at=T0,
                duration_ms=3.0,
            ),
        )
    booking = await store.create_booking(
        NewBooking(
            tenant_id=tenant,
            agent_id="support",
            conversation_id="call_gone",
            name="Ada",
            party_size=2,
            date=date(2025, 3, 2),
            time=time(19, 30),
        )
    )

    assert await store.delete_conversation("call_gone", tenant) is True
    assert await store.get_conversation("call_gone", tenant) is None
    assert await store.delete_conversation("call_gone", tenant) is False

    async with store.engine.connect() as conn:
        for table, expected in ((TurnRow, 2), (ToolCallRow, 1)):
            query = select(table.conversation_id, func.count()).group_by(table.conversation_id)
            rows = (await conn.execute(query)).all()
            assert [tuple(r) for r in rows] == [("call_kept", expected)]

    (kept,) = await store.list_bookings(tenant, "support")
    assert kept.reference == booking.reference
    assert kept.conversation_id is None
    kept_conv = await store.get_conversation("call_kept", tenant)
    assert kept_conv is not None and len(kept_conv.turns) == 2
    assert len(kept_conv.tool_calls) == 1
    page, _ = await store.list_conversations(tenant)
    assert [c.id for c in page] == ["call_kept"]


async def test_values_with_nul_find_nothing(store: Store) -> None:
    # PostgreSQL refuses NUL in text parameters: such lookups must not reach it.
    tenant = await store.ensure_tenant("acme")
    await store.create_conversation(_conv(tenant, "call_a"))
    assert await store.get_conversation("call_a\x00", tenant) is None
    assert await store.delete_conversation("call_a\x00", tenant) is False
    assert await store.list_conversations(tenant, agent_id="support\x00") == ([], None)
    assert await store.list_conversations(tenant, channel="\x00") == ([], None)
    assert await store.get_conversation("call_a", tenant) is not None
