"""The messaging API's store: connectors and hosts, sessions, the event log with its
sequences, console users; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from voxgate.store import (
    AlreadyExistsError,
    Connector,
    NotFoundError,
    Store,
    hash_secret,
    normalize_host,
)
from voxgate.store.messaging import hash_password, host_kind, verify_password

# -- hosts (pure) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("example.com", "example.com"),
        ("  Example.COM.  ", "example.com"),
        ("localhost", "localhost"),
        ("com.Example.App", "com.example.app"),
        ("com.example.my_app", "com.example.my_app"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_normalize_host(given: str, normalized: str) -> None:
    assert normalize_host(given) == normalized


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "https://example.com",
        "example.com/chat",
        "example.com:443",
        "*.example.com",
        "user@example.com",
        "exa mple.com",
        "-example.com",
        "example..com",
        ".example.com",
        "a" * 64 + ".com",
        "example.com?x=1",
        "exa\x00mple.com",
    ],
)
def test_normalize_host_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_host(bad)


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("example.com", "domain"),
        ("chat.example.co.uk", "domain"),
        ("app.example.com", "domain"),
        ("localhost", "domain"),
        ("com.example.app", "bundle"),
        ("io.example.chat", "bundle"),
        ("uk.co.example.app", "domain"),
        ("example.my_app", "bundle"),
    ],
)
def test_host_kind(host: str, kind: str) -> None:
    assert host_kind(host) == kind


def _connector(hosts: tuple[str, ...], bundle_ids: tuple[str, ...] = ()) -> Connector:
    now = datetime.now(UTC)
    return Connector(
        id="con_x",
        tenant_id="t",
        name="n",
        agent_id="a",
        prefix="vmc_",
        created_at=now,
        revoked_at=None,
        hosts=hosts,
        bundle_ids=bundle_ids,
    )


def test_admits() -> None:
    c = _connector(("com.example.app", "example.com"), ("com.example.app",))
    assert c.admits("example.com")
    assert c.admits("EXAMPLE.com")
    assert c.admits("chat.example.com")
    assert c.admits("a.b.example.com")
    assert not c.admits("badexample.com")
    assert not c.admits("example.com.evil.net")
    assert not c.admits("example.org")
    assert c.admits("com.example.app")
    assert not c.admits("x.com.example.app")
    assert not c.admits("com.example.app2")
    assert not c.admits("com.example")
    assert not c.admits("https://example.com")
    assert not c.admits("")


# -- connectors ---------------------------------------------------------------------------


async def test_create_connector_and_authenticate(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    connector, token = await store.create_connector(tenant, name="site", agent_id="support")
    assert token.startswith("vmc_")
    assert len(token) >= 4 + 43  # 32 random bytes, base64url
    assert connector.id.startswith("con_")
    assert connector.prefix == token[:12]
    assert connector.hosts == ()
    assert connector.agent_id == "support"
    assert connector.tenant_id == tenant

    # No host registered yet: refused.
    assert await store.authenticate_connector(token, "example.com") is None
    await store.add_connector_host(connector.id, "Example.com")
    await store.add_connector_host(connector.id, "com.example.app")
    await store.add_connector_host(connector.id, "example.com")  # again: no change

    found = await store.authenticate_connector(token, "example.com")
    assert found is not None
    assert found.id == connector.id
    assert found.hosts == ("com.example.app", "example.com")
    assert found.bundle_ids == ("com.example.app",)
    assert await store.authenticate_connector(token, "chat.example.com") is not None
    assert await store.authenticate_connector(token, "badexample.com") is None
    assert await store.authenticate_connector(token, "com.example.app") is not None
    assert await store.authenticate_connector(token, "beta.com.example.app") is None
    assert await store.authenticate_connector(token + "x", "example.com") is None
    assert await store.authenticate_connector("", "example.com") is None
    assert await store.authenticate_connector("vmc_\x00", "example.com") is None
    assert await store.authenticate_connector(token, "exa\x00mple.com") is None


async def test_host_kind_override(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    connector, token = await store.create_connector(tenant, name="site", agent_id="a")
    # com.example.net read as a bundle id unless told it is a domain.
    await store.add_connector_host(connector.id, "com.example.net")
    assert await store.authenticate_connector(token, "www.com.example.net") is None
    await store.add_connector_host(connector.id, "com.example.net", kind="domain")
    assert await store.authenticate_connector(token, "www.com.example.net") is not None
    await store.add_connector_host(connector.id, "shop.example.org", kind="bundle")
    assert await store.authenticate_connector(token, "shop.example.org") is not None
    assert await store.authenticate_connector(token, "a.shop.example.org") is None
    with pytest.raises(ValueError):
        await store.add_connector_host(connector.id, "my_app.example", kind="domain")
    with pytest.raises(ValueError):
        await store.add_connector_host(connector.id, "localhost", kind="bundle")


async def test_host_errors(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    connector, _ = await store.create_connector(tenant, name="site", agent_id="a")
    with pytest.raises(NotFoundError):
        await store.add_connector_host("con_unknown", "example.com")
    with pytest.raises(NotFoundError):
        await store.add_connector_host("con_\x00", "example.com")
    for bad in ("https://example.com", "example.com/path", "*.example.com", ""):
        with pytest.raises(ValueError):
            await store.add_connector_host(connector.id, bad)
    assert (await store.get_connector(connector.id)) == connector


async def test_remove_host(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    connector, token = await store.create_connector(tenant, name="site", agent_id="a")
    await store.add_connector_host(connector.id, "example.com")
    await store.add_connector_host(connector.id, "example.org")
    assert await store.remove_connector_host(connector.id, " EXAMPLE.com ") is True
    assert await store.remove_connector_host(connector.id, "example.com") is False
    assert await store.remove_connector_host(connector.id, "https://x") is False
    assert await store.remove_connector_host("con_unknown", "example.org") is False
    assert await store.authenticate_connector(token, "example.com") is None
    assert await store.authenticate_connector(token, "example.org") is not None


async def test_revoke_connector(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    connector, token = await store.create_connector(tenant, name="site", agent_id="a")
    other, other_token = await store.create_connector(tenant, name="app", agent_id="a")
    for c in (connector, other):
        await store.add_connector_host(c.id, "example.com")
    assert await store.revoke_connector(connector.id) is True
    assert await store.revoke_connector(connector.id) is False
    assert await store.revoke_connector("con_unknown") is False
    assert await store.authenticate_connector(token, "example.com") is None
    assert await store.authenticate_connector(other_token, "example.com") is not None
    revoked = await store.get_connector(connector.id)
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert revoked.hosts == ("example.com",)


async def test_list_connectors(store: Store) -> None:
    acme = await store.ensure_tenant("acme")
    beta = await store.ensure_tenant("beta")
    first, _ = await store.create_connector(acme, name="one", agent_id="a")
    second, _ = await store.create_connector(beta, name="two", agent_id="b")
    await store.add_connector_host(second.id, "beta.example")
    assert [c.id for c in await store.list_connectors()] == [first.id, second.id]
    only = await store.list_connectors(beta)
    assert [(c.id, c.hosts) for c in only] == [(second.id, ("beta.example",))]
    assert await store.list_connectors("\x00") == []
    assert await store.get_connector("con_unknown") is None


async def test_connector_errors(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.create_connector("0" * 32, name="x", agent_id="a")
    tenant = await store.ensure_tenant("acme")
    with pytest.raises(ValueError):
        await store.create_connector(tenant, name=" ", agent_id="a")
    with pytest.raises(ValueError):
        await store.create_connector(tenant, name="x", agent_id="")


async def test_token_is_stored_only_as_hash(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    _, token = await store.create_connector(tenant, name="site", agent_id="a")
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM connectors"))).mappings().all()
    assert rows[0]["token_hash"] == hash_secret(token)
    for value in rows[0].values():
        assert token not in str(value)


async def test_deleting_tenant_drops_its_connectors(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    connector, token = await store.create_connector(tenant, name="site", agent_id="a")
    await store.add_connector_host(connector.id, "example.com")
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant})
    assert await store.authenticate_connector(token, "example.com") is None
    assert await store.list_connectors() == []


# -- sessions -----------------------------------------------------------------------------


async def _session_setup(store: Store) -> tuple[str, Connector]:
    tenant = await store.ensure_tenant("acme")
    connector, _ = await store.create_connector(tenant, name="site", agent_id="support")
    return tenant, connector


async def test_create_session_with_conversation(store: Store) -> None:
    tenant, connector = await _session_setup(store)
    session = await store.create_messaging_session(
        tenant_id=tenant,
        connector_id=connector.id,
        agent_id="support",
        platform="ios",
        streaming=True,
        device_type="iPhone15,2",
    )
    assert session.id.startswith("msg_")
    assert len(session.id) == 36
    assert session.conversation_id == session.id
    assert session.state == "agent"
    assert session.streaming is True
    assert session.platform == "ios"
    assert session.device_type == "iPhone15,2"
    assert session.ended_at is None
    assert session.last_activity_at == session.created_at
    assert await store.get_messaging_session(session.id) == session
    assert await store.get_messaging_session("msg_unknown") is None
    assert await store.get_messaging_session("msg_\x00") is None

    conv = await store.get_conversation(session.conversation_id, tenant)
    assert conv is not None
    assert (conv.channel, conv.dialect, conv.mode) == ("messaging", "messaging", "chat")
    assert conv.agent_id == "support"
    assert conv.variables == {"platform": "ios", "device_type": "iPhone15,2"}
    assert conv.ended_at is None
    page, _ = await store.list_conversations(tenant, channel="messaging")
    assert [c.id for c in page] == [session.id]


async def test_create_session_errors(store: Store) -> None:
    tenant, connector = await _session_setup(store)
    base = {
        "tenant_id": tenant,
        "connector_id": connector.id,
        "agent_id": "support",
        "platform": "web",
        "streaming": False,
        "device_type": None,
    }
    with pytest.raises(ValueError):
        await store.create_messaging_session(**{**base, "platform": "windows"})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await store.create_messaging_session(**{**base, "device_type": "x" * 101})  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await store.create_messaging_session(**{**base, "connector_id": "con_unknown"})  # type: ignore[arg-type]
    other = await store.ensure_tenant("other")
    with pytest.raises(ValueError):
        await store.create_messaging_session(**{**base, "tenant_id": other})  # type: ignore[arg-type]
    page, _ = await store.list_conversations(tenant)
    assert page == []


async def _new_session(store: Store) -> tuple[str, str]:
    tenant, connector = await _session_setup(store)
    session = await store.create_messaging_session(
        tenant_id=tenant,
        connector_id=connector.id,
        agent_id="support",
        platform="web",
        streaming=False,
        device_type=None,
    )
    return tenant, session.id


async def test_touch_state_and_end(store: Store) -> None:
    tenant, sid = await _new_session(store)
    created = await store.get_messaging_session(sid)
    assert created is not None
    later = created.created_at + timedelta(minutes=5)
    await store.touch_messaging_session(sid, later)
    await store.touch_messaging_session(sid, created.created_at)  # never moves back
    touched = await store.get_messaging_session(sid)
    assert touched is not None
    assert touched.last_activity_at == later
    assert not touched.idle_expired(later + timedelta(seconds=600), 600)
    assert touched.idle_expired(later + timedelta(seconds=601), 600)

    await store.set_messaging_session_state(sid, state="queued", queue_name="support")
    await store.set_messaging_session_state(
        sid, state="live", queue_name="support", live_agent_id="usr_1"
    )
    live = await store.get_messaging_session(sid)
    assert live is not None
    assert (live.state, live.queue_name, live.live_agent_id) == ("live", "support", "usr_1")
    with pytest.raises(ValueError):
        await store.set_messaging_session_state(sid, state="")

    end = later + timedelta(minutes=1)
    await store.end_messaging_session(sid, "user_end", end)
    await store.end_messaging_session(sid, "other", end + timedelta(seconds=1))  # first wins
    ended = await store.get_messaging_session(sid)
    assert ended is not None
    assert (ended.state, ended.end_reason, ended.ended_at) == ("ended", "user_end", end)
    conv = await store.get_conversation(sid, tenant)
    assert conv is not None
    assert (conv.ended_at, conv.end_reason) == (end, "user_end")

    for call in (
        store.touch_messaging_session("msg_unknown", later),
        store.set_messaging_session_state("msg_unknown", state="live"),
        store.end_messaging_session("msg_unknown", "x", later),
        store.touch_messaging_session("msg_\x00", later),
    ):
        with pytest.raises(NotFoundError):
            await call
    with pytest.raises(ValueError):
        await store.touch_messaging_session(sid, datetime(2025, 1, 1))  # naive


async def test_expire_idle_sessions(store: Store) -> None:
    tenant, idle = await _new_session(store)
    _, busy = await _new_session(store)
    now = datetime.now(UTC)
    await store.touch_messaging_session(busy, now + timedelta(minutes=20))
    expired = await store.expire_messaging_sessions(
        now + timedelta(minutes=10), reason="idle_timeout", at=now + timedelta(minutes=20)
    )
    assert expired == [idle]
    record = await store.get_messaging_session(idle)
    assert record is not None
    assert record.end_reason == "idle_timeout"
    assert (await store.get_messaging_session(busy)).ended_at is None  # type: ignore[union-attr]
    conv = await store.get_conversation(idle, tenant)
    assert conv is not None
    assert conv.end_reason == "idle_timeout"
    again = await store.expire_messaging_sessions(
        now + timedelta(minutes=10), reason="idle_timeout", at=now
    )
    assert again == []


async def test_deleting_conversation_deletes_session(store: Store) -> None:
    tenant, sid = await _new_session(store)
    await store.append_messaging_event(sid, "USER_MESSAGE", {"text": "hi"})
    assert await store.delete_conversation(sid, tenant) is True
    assert await store.get_messaging_session(sid) is None
    assert await store.list_messaging_events(sid) == []


# -- events -------------------------------------------------------------------------------


async def test_append_and_list_events(store: Store) -> None:
    _, sid = await _new_session(store)
    before = await store.get_messaging_session(sid)
    assert before is not None
    first = await store.append_messaging_event(sid, "SESSION_START", {"capabilities": {}})
    second = await store.append_messaging_event(
        sid,
        "USER_MESSAGE",
        {"text": "héllo ✓"},
        {"custom": {"client_event_id": "c1"}},
    )
    at = datetime(2030, 1, 1, tzinfo=UTC)
    third = await store.append_messaging_event(sid, "POLY_AGENT_MESSAGE", {"text": "hi"}, at=at)
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert len({first.id, second.id, third.id}) == 3
    assert len(first.id) == 36
    assert second.metadata == {"custom": {"client_event_id": "c1"}}
    assert first.metadata is None
    assert third.timestamp == at
    assert first.timestamp >= before.created_at

    after = await store.get_messaging_session(sid)
    assert after is not None
    assert after.last_activity_at == at

    listed = await store.list_messaging_events(sid)
    assert listed == [first, second, third]
    assert await store.list_messaging_events(sid, after_sequence=1) == [second, third]
    assert await store.list_messaging_events(sid, after_sequence=1, limit=1) == [second]
    assert await store.list_messaging_events(sid, after_sequence=3) == []
    assert await store.list_messaging_events("msg_unknown") == []
    assert await store.list_messaging_events("msg_\x00") == []
    with pytest.raises(ValueError):
        await store.list_messaging_events(sid, limit=0)
    with pytest.raises(NotFoundError):
        await store.append_messaging_event("msg_unknown", "X", {})
    with pytest.raises(ValueError):
        await store.append_messaging_event(sid, "", {})


async def test_sequences_are_per_session(store: Store) -> None:
    _, a = await _new_session(store)
    _, b = await _new_session(store)
    await store.append_messaging_event(a, "X", {})
    await store.append_messaging_event(a, "X", {})
    event = await store.append_messaging_event(b, "X", {})
    assert event.sequence == 1


async def test_concurrent_appends_have_no_gaps_or_repeats(store: Store) -> None:
    _, sid = await _new_session(store)
    writers, each = 8, 10

    async def writer(w: int) -> list[int]:
        out = []
        for i in range(each):
            event = await store.append_messaging_event(sid, "X", {"w": w, "i": i})
            out.append(event.sequence)
        return out

    results = await asyncio.gather(*(writer(w) for w in range(writers)))
    sequences = sorted(s for r in results for s in r)
    assert sequences == list(range(1, writers * each + 1))
    for r in results:  # each writer sees its own events in increasing order
        assert r == sorted(r)
    listed = await store.list_messaging_events(sid)
    assert [e.sequence for e in listed] == sequences
    # Each writer's events are stored in the order it wrote them.
    for w in range(writers):
        mine = [e.payload["i"] for e in listed if e.payload["w"] == w]
        assert mine == list(range(each))


async def test_concurrent_appends_from_two_stores(database_url: str) -> None:
    """Two processes' worth of connection pools on one database."""
    first = await Store.open(database_url)
    second = await Store.open(database_url)
    try:
        _, sid = await _new_session(first)
        tasks = [
            (first if i % 2 else second).append_messaging_event(sid, "X", {"i": i})
            for i in range(40)
        ]
        events = await asyncio.gather(*tasks)
        assert sorted(e.sequence for e in events) == list(range(1, 41))
    finally:
        await first.close()
        await second.close()


# -- console users ------------------------------------------------------------------------


def test_password_hash() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in stored
    assert hash_password("correct horse") != stored  # salted
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsf", stored)
    assert not verify_password("", stored)
    for broken in ("", "scrypt$", "bcrypt$1$1$1$AA==$AA==", "scrypt$x$8$1$AA==$AA==",
                   "scrypt$16384$8$1$!!$AA==", "scrypt$16384$8$1$AA==$",
                   "scrypt$4194304$8$1$AA==$AA=="):  # fmt: skip
        assert not verify_password("x", broken)


async def test_console_users(store: Store) -> None:
    acme = await store.ensure_tenant("acme")
    beta = await store.ensure_tenant("beta")
    ann = await store.create_console_user(
        acme,
        username=" Ann ",
        password="s3cret-pass",
        display_name="Ann Lee",
        queues=["support", " sales ", "support"],
    )
    assert ann.id.startswith("usr_")
    assert ann.username == "ann"
    assert ann.queues == ("support", "sales")
    assert ann.display_name == "Ann Lee"
    assert ann.tenant_id == acme
    bob = await store.create_console_user(
        beta, username="bob@example.com", password="another-pass", display_name="Bob", queues=[]
    )

    assert await store.authenticate_console_user("ann", "s3cret-pass") == ann
    assert await store.authenticate_console_user("ANN", "s3cret-pass") == ann
    assert await store.authenticate_console_user("ann", "s3cret-pasS") is None
    assert await store.authenticate_console_user("nobody", "s3cret-pass") is None
    assert await store.authenticate_console_user("", "") is None
    assert await store.authenticate_console_user("ann\x00", "s3cret-pass") is None

    assert await store.get_console_user(ann.id) == ann
    assert await store.get_console_user("usr_unknown") is None
    assert [u.username for u in await store.list_console_users()] == ["ann", "bob@example.com"]
    assert await store.list_console_users(beta) == [bob]

    with pytest.raises(AlreadyExistsError):
        await store.create_console_user(
            beta, username="ANN", password="whatever-1", display_name="Other", queues=["x"]
        )
    assert await store.delete_console_user(ann.id) is True
    assert await store.delete_console_user(ann.id) is False
    assert await store.authenticate_console_user("ann", "s3cret-pass") is None
    # The name is free again.
    await store.create_console_user(
        beta, username="ann", password="whatever-1", display_name="Ann", queues=["x"]
    )


async def test_console_user_password_stored_hashed(store: Store) -> None:
    tenant = await store.ensure_tenant("acme")
    await store.create_console_user(
        tenant, username="ann", password="s3cret-pass", display_name="Ann", queues=["q"]
    )
    async with store.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM console_users"))).mappings().one()
    assert row["password_hash"].startswith("scrypt$")
    for value in row.values():
        assert "s3cret-pass" not in str(value)


@pytest.mark.parametrize(
    "changes",
    [
        {"username": ""},
        {"username": "has space"},
        {"username": "-dash"},
        {"username": "x" * 101},
        {"password": "short"},
        {"display_name": "  "},
        {"queues": ["ok", " "]},
    ],
)
async def test_console_user_validation(store: Store, changes: dict[str, object]) -> None:
    tenant = await store.ensure_tenant("acme")
    values: dict[str, object] = {
        "username": "ann",
        "password": "long-enough",
        "display_name": "Ann",
        "queues": ["support"],
    }
    values.update(changes)
    with pytest.raises(ValueError):
        await store.create_console_user(tenant, **values)  # type: ignore[arg-type]


async def test_console_user_unknown_tenant(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.create_console_user(
            "0" * 32, username="ann", password="long-enough", display_name="Ann", queues=[]
        )
