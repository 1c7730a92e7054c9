from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from voxgate.store import Store
from voxgate.store.models import CallTokenRow
from voxgate.store.repository import hash_secret


async def _token(store: Store, ttl_s: int = 30) -> tuple[str, datetime]:
    tenant = await store.ensure_tenant("acme")
    key, _ = await store.create_api_key(tenant, "ci")
    return await store.create_call_token(
        tenant_id=tenant,
        api_key_id=key.id,
        agent_id="support",
        mode="webcall",
        variables={"name": "Ada", "vip": True, "n": 3},
        ttl_s=ttl_s,
    )


async def test_single_use(store: Store) -> None:
    before = datetime.now(UTC)
    secret, expires_at = await _token(store, ttl_s=30)
    assert secret.startswith("wct_")
    assert expires_at.tzinfo is UTC
    assert before + timedelta(seconds=29) < expires_at < before + timedelta(seconds=60)

    token = await store.consume_call_token(secret)
    assert token is not None
    assert token.agent_id == "support"
    assert token.mode == "webcall"
    assert token.variables == {"name": "Ada", "vip": True, "n": 3}
    assert token.expires_at == expires_at
    assert token.tenant_id == await store.tenant_id_by_name("acme")

    assert await store.consume_call_token(secret) is None


async def test_unknown(store: Store) -> None:
    assert await store.consume_call_token("wct_nope") is None


async def test_expired(store: Store) -> None:
    secret, _ = await _token(store)
    async with store.engine.begin() as conn:
        await conn.execute(
            update(CallTokenRow)
            .where(CallTokenRow.secret_hash == hash_secret(secret))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await store.consume_call_token(secret) is None


async def test_concurrent_consumers_one_wins(store: Store) -> None:
    secret, _ = await _token(store)
    results = await asyncio.gather(*(store.consume_call_token(secret) for _ in range(10)))
    assert sum(r is not None for r in results) == 1


async def test_purge(store: Store) -> None:
    old, _ = await _token(store)
    fresh, _ = await _token(store)
    async with store.engine.begin() as conn:
        await conn.execute(
            update(CallTokenRow)
            .where(CallTokenRow.secret_hash == hash_secret(old))
            .values(expires_at=datetime.now(UTC) - timedelta(hours=2))
        )
    assert await store.purge_call_tokens(datetime.now(UTC) - timedelta(hours=1)) == 1
    assert await store.consume_call_token(old) is None
    assert await store.consume_call_token(fresh) is not None
