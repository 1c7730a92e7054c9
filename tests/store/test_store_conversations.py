from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from voxgate.conversation.latency import TurnLatency
from voxgate.store import (
    AlreadyExistsError,
    NewConversation,
    NewTurn,
    NotFoundError,
    Store,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _conversation(tenant_id: str, call_id: str = "call_" + "a" * 24) -> NewConversation:
    return NewConversation(
        id=call_id,
        tenant_id=tenant_id,
        agent_id="support",
        channel="voice",
        dialect="atoms",
        mode="webcall",
        sample_rate=24000,
        variables={"customer": {"name": "Ada"}},
        started_at=T0,
    )


def _turn(i: int, **changes: Any) -> NewTurn:
    start = T0 + timedelta(seconds=i)
    turn = NewTurn(
        role="user" if i % 2 == 0 else "assistant",
        text=f"turn {i}",
        heard_text=None,
        interrupted=False,
        started_at=start,
        ended_at=start + timedelta(milliseconds=800),
    )
    return replace(turn, **changes)


async def test_round_trip_in_order(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    conv = _conversation(tenant)
    await store.create_conversation(conv)
    seqs = [
        await store.add_turn(
            conv.id, _turn(0, latency=TurnLatency(endpointing_ms=210.5, stt_ms=95.0))
        ),
        await store.add_turn(
            conv.id,
            _turn(
                1,
                text="Let me tell you about our plans",
                heard_text="Let me tell",
                interrupted=True,
                latency=TurnLatency(
                    agent_first_text_ms=320.0,
                    tts_first_audio_ms=140.25,
                    first_byte_ms=3.5,
                    voice_to_voice_ms=780.0,
                ),
            ),
        ),
        await store.add_turn(conv.id, _turn(2)),
    ]
    assert seqs == [1, 2, 3]
    ended = T0 + timedelta(minutes=1)
    await store.end_conversation(conv.id, "hangup", ended)

    record = await store.get_conversation(conv.id, tenant)
    assert record is not None
    assert record.id == conv.id
    assert record.agent_id == "support"
    assert record.channel == "voice"
    assert record.dialect == "atoms"
    assert record.mode == "webcall"
    assert record.sample_rate == 24000
    assert record.variables == {"customer": {"name": "Ada"}}
    assert record.started_at == T0
    assert record.ended_at == ended
    assert record.end_reason == "hangup"
    assert [t.seq for t in record.turns] == [1, 2, 3]
    assert [t.text for t in record.turns] == ["turn 0", "Let me tell you about our plans", "turn 2"]

    user, assistant, _ = record.turns
    assert user.role == "user"
    assert user.latency.endpointing_ms == 210.5
    assert user.latency.stt_ms == 95.0
    assert user.latency.voice_to_voice_ms is None
    assert assistant.role == "assistant"
    assert assistant.interrupted is True
    assert assistant.heard_text == "Let me tell"
    assert assistant.latency.tts_first_audio_ms == 140.25
    assert assistant.started_at == T0 + timedelta(seconds=1)
    assert assistant.ended_at == T0 + timedelta(seconds=1, milliseconds=800)


async def test_concurrent_turns_get_distinct_seqs(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    conv = _conversation(tenant)
    await store.create_conversation(conv)
    seqs = await asyncio.gather(*(store.add_turn(conv.id, _turn(i)) for i in range(10)))
    assert sorted(seqs) == list(range(1, 11))


async def test_other_tenant_sees_nothing(store: Store) -> None:
    acme = await store.ensure_tenant("acme")
    other = await store.ensure_tenant("other")
    conv = _conversation(acme)
    await store.create_conversation(conv)
    await store.add_turn(conv.id, _turn(0))
    assert await store.get_conversation(conv.id, other) is None
    assert await store.get_conversation("call_missing", acme) is None
    assert await store.get_conversation(conv.id, acme) is not None


async def test_empty_conversation(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    conv = _conversation(tenant)
    await store.create_conversation(conv)
    record = await store.get_conversation(conv.id, tenant)
    assert record is not None
    assert record.turns == ()
    assert record.ended_at is None
    assert record.end_reason is None


async def test_duplicate_id(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    await store.create_conversation(_conversation(tenant))
    with pytest.raises(AlreadyExistsError):
        await store.create_conversation(_conversation(tenant))


async def test_unknown_conversation(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.add_turn("call_missing", _turn(0))
    with pytest.raises(NotFoundError):
        await store.end_conversation("call_missing", "hangup", T0)


async def test_first_end_wins(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    conv = _conversation(tenant)
    await store.create_conversation(conv)
    await store.end_conversation(conv.id, "hangup", T0 + timedelta(seconds=5))
    await store.end_conversation(conv.id, "shutdown", T0 + timedelta(seconds=9))
    record = await store.get_conversation(conv.id, tenant)
    assert record is not None
    assert record.end_reason == "hangup"
    assert record.ended_at == T0 + timedelta(seconds=5)


async def test_datetimes_are_aware_utc(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    india = timezone(timedelta(hours=5, minutes=30))
    local_start = datetime(2025, 3, 1, 17, 30, tzinfo=india)
    conv = _conversation(tenant)
    await store.create_conversation(replace(conv, started_at=local_start))
    await store.add_turn(conv.id, _turn(0))
    record = await store.get_conversation(conv.id, tenant)
    assert record is not None
    assert record.started_at == local_start
    assert record.started_at.tzinfo is UTC
    assert record.started_at.hour == 12
    for turn in record.turns:
        assert turn.started_at.tzinfo is UTC
        assert turn.ended_at.tzinfo is UTC
    key, _ = await store.create_api_key(tenant, "k")
    assert key.created_at.tzinfo is UTC
    listed = await store.list_api_keys()
    assert listed[0].created_at.tzinfo is UTC


async def test_naive_datetime_is_rejected(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    conv = _conversation(tenant)
    with pytest.raises(ValueError, match="naive datetime"):
        replace(conv, started_at=datetime(2025, 3, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        _turn(0, ended_at=datetime(2025, 3, 1))
    await store.create_conversation(conv)
    with pytest.raises(ValueError, match="naive datetime"):
        await store.end_conversation(conv.id, "hangup", datetime(2025, 3, 1))


async def test_reopen_makes_the_conversation_live_until_the_next_end(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    await store.create_conversation(_conversation(tenant))
    await store.add_turn("call_" + "a" * 24, _turn(1))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await store.end_conversation("call_" + "a" * 24, "ended", t0)
    await store.reopen_conversation("call_" + "a" * 24)
    record = await store.get_conversation("call_" + "a" * 24, tenant)
    assert record is not None and record.ended_at is None and record.end_reason is None
    await store.add_turn("call_" + "a" * 24, _turn(2))
    await store.end_conversation("call_" + "a" * 24, "client_requested", t0 + timedelta(hours=1))
    record = await store.get_conversation("call_" + "a" * 24, tenant)
    assert record is not None and record.end_reason == "client_requested"
    assert [t.seq for t in record.turns] == [1, 2]
    with pytest.raises(NotFoundError):
        await store.reopen_conversation("call_missing")
