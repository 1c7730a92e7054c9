from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from voxgate.store import ApiKey, NotFoundError, Store, hash_secret


async def test_ensure_tenant_is_idempotent(store: Store) -> None:
    first = await store.ensure_tenant("acme")
    assert await store.ensure_tenant("acme") == first
    assert await store.tenant_id_by_name("acme") == first
    assert await store.tenant_id_by_name("nobody") is None
    assert [t.name for t in await store.list_tenants()] == ["acme"]


async def test_ensure_tenant_concurrently(store: Store) -> None:
    ids = await asyncio.gather(*(store.ensure_tenant("acme") for _ in range(5)))
    assert len(set(ids)) == 1


async def test_create_and_authenticate(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    key, secret = await store.create_api_key(tenant, "ci")
    assert secret.startswith("vg_")
    assert key.id.startswith("key_")
    assert key.prefix == secret[:10]
    assert key.tenant_id == tenant
    assert key.agents is None
    assert key.last_used_at is None

    found = await store.authenticate_api_key(secret)
    assert found is not None
    assert found.id == key.id
    assert found.last_used_at is not None
    assert found.last_used_at >= key.created_at
    assert await store.authenticate_api_key(secret + "x") is None
    assert await store.authenticate_api_key("") is None


async def test_unknown_tenant(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.create_api_key("0" * 32, "ci")


async def test_revoke(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    key, secret = await store.create_api_key(tenant, "ci")
    other, other_secret = await store.create_api_key(tenant, "other")

    assert await store.revoke_api_key(key.id) is True
    assert await store.revoke_api_key(key.id) is False
    assert await store.revoke_api_key("key_unknown") is False
    assert await store.authenticate_api_key(secret) is None
    assert await store.authenticate_api_key(other_secret) is not None

    listed = {k.id: k for k in await store.list_api_keys(tenant)}
    assert listed[key.id].revoked_at is not None
    assert listed[other.id].revoked_at is None


async def test_secret_is_stored_only_as_hash(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    _, secret = await store.create_api_key(tenant, "ci")
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM api_keys"))).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["secret_hash"] == hash_secret(secret)
    assert len(row["secret_hash"]) == 64
    for value in row.values():
        assert secret not in str(value)


async def test_explicit_secret_is_idempotent(store: Store) -> None:
    tenant = await store.ensure_tenant("default")
    first, secret = await store.create_api_key(tenant, "dev", secret="dev-secret-123")
    again, again_secret = await store.create_api_key(tenant, "dev", secret="dev-secret-123")
    assert secret == again_secret == "dev-secret-123"
    assert again == first
    assert len(await store.list_api_keys()) == 1
    assert await store.authenticate_api_key("dev-secret-123") is not None


async def test_list_filters_by_tenant(store: Store) -> None:
    a = await store.ensure_tenant("a")
    b = await store.ensure_tenant("b")
    ka, _ = await store.create_api_key(a, "one")
    kb, _ = await store.create_api_key(b, "two", agents=["support"])
    assert [k.id for k in await store.list_api_keys(a)] == [ka.id]
    assert [k.id for k in await store.list_api_keys(b)] == [kb.id]
    assert {k.id for k in await store.list_api_keys()} == {ka.id, kb.id}


async def test_agents_round_trip(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    _, secret = await store.create_api_key(tenant, "ci", agents=["support", "sales"])
    key = await store.authenticate_api_key(secret)
    assert key is not None
    assert key.agents == ("support", "sales")
    assert key.allows_agent("sales")
    assert not key.allows_agent("billing")

    _, secret = await store.create_api_key(tenant, "none", agents=[])
    key = await store.authenticate_api_key(secret)
    assert key is not None
    assert key.agents == ()
    assert not key.allows_agent("support")


def _key(agents: tuple[str, ...] | None) -> ApiKey:
    return ApiKey(
        id="key_1",
        tenant_id="t",
        name="n",
        prefix="vg_abcdefg",
        agents=agents,
        created_at=datetime.now(UTC),
        revoked_at=None,
        last_used_at=None,
    )


def test_allows_agent() -> None:
    every = _key(None)
    some = _key(("a",))
    assert every.allows_agent("anything")
    assert some.allows_agent("a")
    assert not some.allows_agent("b")
