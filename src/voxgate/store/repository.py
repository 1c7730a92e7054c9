"""The store's async API: :class:`Store` and the frozen records it takes and returns.

Open one :class:`Store` per process with :meth:`Store.open` (it migrates the schema) and
:meth:`Store.close` it on shutdown. Every method runs in its own transaction.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``, so writers queue on the
busy timeout instead of failing when a read lock would have to be upgraded; an in-memory
database (one shared connection) runs its transactions one at a time. On PostgreSQL
concurrent writers are made safe per method (row locks, conditional updates).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy import Connection, and_, delete, event, func, or_, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from voxgate.conversation.latency import NO_LATENCY, STAGES, TurnLatency
from voxgate.store.common import AlreadyExistsError as AlreadyExistsError
from voxgate.store.common import NotFoundError as NotFoundError
from voxgate.store.common import StoreError as StoreError
from voxgate.store.common import hash_secret as hash_secret
from voxgate.store.common import require_aware as _require_aware
from voxgate.store.common import unmatchable as _unmatchable
from voxgate.store.common import utcnow as utcnow
from voxgate.store.messaging import MessagingStore
from voxgate.store.models import (
    ApiKeyRow,
    BookingRow,
    CallTokenRow,
    ConversationRow,
    TenantRow,
    ToolCallRow,
    TurnRow,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant: serializes `Store.open` migrations of several processes on PostgreSQL.
_PG_MIGRATION_LOCK = 0x766F78676174
_WRITE_OPTION = "voxgate_write"
# Booking references are read out over the phone: no 0/O, 1/I/L, 5/S, 8/B look-alikes.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY234679"
REFERENCE_PREFIX = "BK-"
REFERENCE_LENGTH = 4
"""Short enough to read out on a call (2 letters + 4, always with a digit): 26^4 codes."""
_REFERENCE_ATTEMPTS = 8

ToolCallState = Literal["completed", "failed"]
BookingState = Literal["confirmed", "cancelled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """An API key as shown to operators. The secret itself is never stored."""

    id: str
    tenant_id: str
    name: str
    prefix: str
    """First 10 characters of the secret, to recognize a key in listings."""
    agents: tuple[str, ...] | None
    """Agent ids this key may use; ``None`` means every agent of the tenant."""
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def allows_agent(self, agent_id: str) -> bool:
        return self.agents is None or agent_id in self.agents


@dataclass(frozen=True, slots=True, kw_only=True)
class CallToken:
    """What a consumed single-use call token (``wct_…``) grants."""

    tenant_id: str
    api_key_id: str
    agent_id: str
    mode: str
    variables: dict[str, Any]
    expires_at: datetime
    options: dict[str, Any] = field(default_factory=dict)
    """Session options baked in (``POST /v1/voice``: initial message, ephemeral, …)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewConversation:
    id: str
    tenant_id: str
    agent_id: str
    channel: str
    """``"voice"`` or ``"chat"``."""
    dialect: str
    mode: str
    sample_rate: int | None
    variables: dict[str, Any]
    started_at: datetime

    def __post_init__(self) -> None:
        _require_aware("started_at", self.started_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTurn:
    """One turn to append, with the latency of its stages."""

    role: str
    """``"user"`` or ``"assistant"``."""
    text: str
    heard_text: str | None
    """For an interrupted assistant turn: the part the user heard."""
    interrupted: bool
    started_at: datetime
    ended_at: datetime
    latency: TurnLatency = NO_LATENCY

    def __post_init__(self) -> None:
        _require_aware("started_at", self.started_at)
        _require_aware("ended_at", self.ended_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnRecord:
    seq: int
    role: str
    text: str
    heard_text: str | None
    interrupted: bool
    started_at: datetime
    ended_at: datetime
    latency: TurnLatency = NO_LATENCY


@dataclass(frozen=True, slots=True, kw_only=True)
class NewToolCall:
    """One finished tool call to append to a conversation."""

    name: str
    arguments: dict[str, Any]
    """The arguments as the agent gave them (JSON-serializable)."""
    result: dict[str, Any] | None
    """What the tool returned; ``None`` for a failed call."""
    status: ToolCallState
    error: str | None
    started_at: datetime
    duration_ms: float

    def __post_init__(self) -> None:
        _require_aware("started_at", self.started_at)
        if self.status not in get_args(ToolCallState):
            raise ValueError(f"status must be 'completed' or 'failed', got {self.status!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallRecord:
    seq: int
    name: str
    arguments: dict[str, Any]
    result: dict[str, Any] | None
    status: ToolCallState
    error: str | None
    started_at: datetime
    duration_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class NewBooking:
    """A booking to create; ``date`` and ``time`` are the agent's local wall-clock time."""

    tenant_id: str
    agent_id: str
    conversation_id: str | None
    name: str
    party_size: int
    date: date
    time: time
    notes: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a booking needs a name")
        if self.party_size < 1:
            raise ValueError(f"party_size must be at least 1, got {self.party_size}")
        if self.time.tzinfo is not None:
            raise ValueError("a booking time is local wall-clock time: pass a naive time")


@dataclass(frozen=True, slots=True, kw_only=True)
class Booking:
    id: int
    reference: str
    """Short human-friendly code like ``BK-7K3QX``, unique across tenants."""
    tenant_id: str
    agent_id: str
    conversation_id: str | None
    name: str
    party_size: int
    date: date
    time: time
    notes: str | None
    status: BookingState
    created_at: datetime
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRecord:
    id: str
    tenant_id: str
    agent_id: str
    channel: str
    dialect: str
    mode: str
    sample_rate: int | None
    variables: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    turns: tuple[TurnRecord, ...] = field(default=())
    tool_calls: tuple[ToolCallRecord, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationSummary:
    """A conversation as listed by :meth:`Store.list_conversations`: no turns, their count."""

    id: str
    agent_id: str
    channel: str
    dialect: str
    mode: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    turn_count: int


def encode_conversation_cursor(started_at: datetime, conversation_id: str) -> str:
    """The opaque cursor that continues a listing after this conversation."""
    raw = f"{started_at.astimezone(UTC).isoformat()}|{conversation_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_conversation_cursor(cursor: str) -> tuple[datetime, str]:
    """``(started_at, id)`` of a cursor from :func:`encode_conversation_cursor`.

    Raises ``ValueError`` for anything else.
    """
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        stamp, sep, conversation_id = raw.decode().partition("|")
        started_at = datetime.fromisoformat(stamp)
        if started_at.utcoffset() is None:
            raise ValueError("naive")
        started_at = started_at.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise ValueError("invalid cursor") from None
    if not sep or not 0 < len(conversation_id) <= 64 or "\x00" in conversation_id:
        raise ValueError("invalid cursor")
    return started_at, conversation_id


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        agents=None if row.agents is None else tuple(row.agents),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _turn(row: TurnRow) -> TurnRecord:
    return TurnRecord(
        seq=row.seq,
        role=row.role,
        text=row.text,
        heard_text=row.heard_text,
        interrupted=row.interrupted,
        started_at=row.started_at,
        ended_at=row.ended_at,
        latency=TurnLatency(**{stage.field: getattr(row, stage.field) for stage in STAGES}),
    )


def _tool_call(row: ToolCallRow) -> ToolCallRecord:
    status: ToolCallState = "completed" if row.status == "completed" else "failed"
    return ToolCallRecord(
        seq=row.seq,
        name=row.name,
        arguments=dict(row.arguments),
        result=None if row.result is None else dict(row.result),
        status=status,
        error=row.error,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
    )


def _booking(row: BookingRow) -> Booking:
    status: BookingState = "cancelled" if row.status == "cancelled" else "confirmed"
    return Booking(
        id=row.id,
        reference=row.reference,
        tenant_id=row.tenant_id,
        agent_id=row.agent_id,
        conversation_id=row.conversation_id,
        name=row.name,
        party_size=row.party_size,
        date=row.date,
        time=row.time,
        notes=row.notes,
        status=status,
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
    )


def new_booking_reference() -> str:
    """A fresh random reference such as ``BK-7K3Q`` (not checked for uniqueness)."""
    chars = [secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)]
    if not any(c.isdigit() for c in chars):  # a digit tells a reference from a word
        chars[secrets.randbelow(REFERENCE_LENGTH)] = secrets.choice("234679")
    body = "".join(chars)
    return REFERENCE_PREFIX + body


def normalize_booking_reference(reference: str) -> str:
    """How a reference is looked up: trimmed, upper case, prefix added when left out."""
    cleaned = reference.strip().upper().replace(" ", "")
    if not cleaned.startswith(REFERENCE_PREFIX):
        cleaned = REFERENCE_PREFIX + cleaned.removeprefix(REFERENCE_PREFIX[:-1])
    return cleaned


async def _next_seq(
    session: AsyncSession, conversation_id: str, table: type[TurnRow] | type[ToolCallRow]
) -> int:
    """The next sequence number of ``table``'s rows in a conversation, with the
    conversation locked (row lock on PostgreSQL; on SQLite BEGIN IMMEDIATE already
    serializes writers). Raises :class:`NotFoundError` for an unknown conversation."""
    locked = await session.scalar(
        select(ConversationRow.id).where(ConversationRow.id == conversation_id).with_for_update()
    )
    if locked is None:
        raise NotFoundError(f"no conversation {conversation_id!r}")
    last = await session.scalar(
        select(func.max(table.seq)).where(table.conversation_id == conversation_id)
    )
    return (last or 0) + 1


def _run_upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, busy timeout; and our own ``BEGIN`` (pysqlite's is not usable).

    See SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL" notes for
    pysqlite: the driver's implicit transactions are turned off and we emit ``BEGIN``.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class Store(MessagingStore):
    """Async repository over SQLite (``sqlite+aiosqlite``) or PostgreSQL (``postgresql+asyncpg``).

    Build with :meth:`open`; call :meth:`close` when done. Methods raise
    :class:`StoreError` subclasses for caller mistakes and SQLAlchemy errors when the
    database fails.
    """

    def __init__(self, engine: AsyncEngine, *, single_connection: bool = False) -> None:
        """Use :meth:`open`; this does not migrate the schema.

        ``single_connection``: the pool shares one connection (in-memory SQLite), so
        transactions must take turns.
        """
        self._engine = engine
        self._serial: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if single_connection else nullcontext()
        )
        write_engine = engine.execution_options(**{_WRITE_OPTION: True})
        self._read_sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect to ``url`` and migrate the schema to the newest revision.

        For a SQLite file, its folder is created. Raises when the database cannot be
        reached or migrated; nothing is left open then.
        """
        parsed = make_url(url)
        single_connection = False
        if parsed.get_backend_name() == "sqlite":
            path = _sqlite_file(parsed)
            if path is not None:
                path.expanduser().parent.mkdir(parents=True, exist_ok=True)
            single_connection = path is None
            engine = create_async_engine(parsed)
            _prepare_sqlite(engine)
        else:
            engine = create_async_engine(parsed, pool_pre_ping=True)
        try:
            async with engine.execution_options(**{_WRITE_OPTION: True}).begin() as conn:
                await conn.run_sync(_run_upgrade)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, single_connection=single_connection)

    @property
    def engine(self) -> AsyncEngine:
        """The underlying engine, for tests and maintenance tools."""
        return self._engine

    async def close(self) -> None:
        """Close all pooled connections. The store must not be used afterwards."""
        await self._engine.dispose()

    async def ping(self) -> None:
        """Round trip to the database (``SELECT 1``); raises when it is unreachable."""
        async with self._serial, self._engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._serial, self._read_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._serial, self._write_sessions() as session, session.begin():
            yield session

    # -- tenants -----------------------------------------------------------------------

    async def ensure_tenant(self, name: str) -> str:
        """Id of the tenant called ``name``, created if missing (safe to race)."""
        existing = await self.tenant_id_by_name(name)
        if existing is not None:
            return existing
        try:
            async with self._write() as session:
                tenant_id = uuid.uuid4().hex
                session.add(TenantRow(id=tenant_id, name=name, created_at=utcnow()))
            return tenant_id
        except IntegrityError:
            existing = await self.tenant_id_by_name(name)
            if existing is None:
                raise
            return existing

    async def tenant_id_by_name(self, name: str) -> str | None:
        async with self._read() as session:
            found = await session.scalar(select(TenantRow.id).where(TenantRow.name == name))
            return found

    async def list_tenants(self) -> list[Tenant]:
        """All tenants, by name."""
        async with self._read() as session:
            rows = await session.scalars(select(TenantRow).order_by(TenantRow.name))
            return [Tenant(id=r.id, name=r.name, created_at=r.created_at) for r in rows]

    # -- API keys ----------------------------------------------------------------------

    async def create_api_key(
        self,
        tenant_id: str,
        name: str,
        agents: list[str] | None = None,
        secret: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key; returns it and its plaintext secret, which the caller shows once.

        With ``secret`` given (a development key from configuration), an existing key with
        that secret is returned unchanged instead. Raises :class:`NotFoundError` for an
        unknown tenant.
        """
        if secret is None:
            secret = "vg_" + secrets.token_urlsafe(32)
        elif not secret:
            raise ValueError("an API key secret must not be empty")
        secret_hash = hash_secret(secret)
        found = await self._key_by_hash(secret_hash)
        if found is not None:
            return found, secret
        row = ApiKeyRow(
            id="key_" + secrets.token_hex(6),
            tenant_id=tenant_id,
            name=name,
            prefix=secret[:10],
            secret_hash=secret_hash,
            agents=None if agents is None else list(agents),
            created_at=utcnow(),
            revoked_at=None,
            last_used_at=None,
        )
        try:
            async with self._write() as session:
                if await session.get(TenantRow, tenant_id) is None:
                    raise NotFoundError(f"no tenant with id {tenant_id!r}")
                session.add(row)
        except IntegrityError:
            # Another process created the same explicit secret meanwhile.
            found = await self._key_by_hash(secret_hash)
            if found is None:
                raise
            return found, secret
        return _api_key(row), secret

    async def _key_by_hash(self, secret_hash: str) -> ApiKey | None:
        async with self._read() as session:
            row = await session.scalar(
                select(ApiKeyRow).where(ApiKeyRow.secret_hash == secret_hash)
            )
            return None if row is None else _api_key(row)

    async def list_api_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        """Keys, revoked ones included, oldest first; all tenants when ``tenant_id`` is None."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if tenant_id is not None:
            query = query.where(ApiKeyRow.tenant_id == tenant_id)
        async with self._read() as session:
            return [_api_key(row) for row in await session.scalars(query)]

    async def revoke_api_key(self, key_id: str) -> bool:
        """Revoke a key; False when it is unknown or already revoked."""
        async with self._write() as session:
            result = await session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .returning(ApiKeyRow.id)
            )
            return result.first() is not None

    async def authenticate_api_key(self, secret: str) -> ApiKey | None:
        """The live key with this secret, or None (unknown or revoked). Records the use."""
        async with self._write() as session:
            result = await session.scalars(
                update(ApiKeyRow)
                .where(
                    ApiKeyRow.secret_hash == hash_secret(secret),
                    ApiKeyRow.revoked_at.is_(None),
                )
                .values(last_used_at=utcnow())
                .returning(ApiKeyRow),
                execution_options={"synchronize_session": False},
            )
            row = result.first()
            return None if row is None else _api_key(row)

    # -- call tokens -------------------------------------------------------------------

    async def create_call_token(
        self,
        *,
        tenant_id: str,
        api_key_id: str,
        agent_id: str,
        mode: str,
        variables: dict[str, Any],
        ttl_s: int,
        options: dict[str, Any] | None = None,
        prefix: str = "wct_",
    ) -> tuple[str, datetime]:
        """Mint a single-use token (``wct_…`` by default); returns its secret and expiry."""
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        token = prefix + secrets.token_urlsafe(32)
        expires_at = utcnow() + timedelta(seconds=ttl_s)
        async with self._write() as session:
            session.add(
                CallTokenRow(
                    secret_hash=hash_secret(token),
                    tenant_id=tenant_id,
                    api_key_id=api_key_id,
                    agent_id=agent_id,
                    mode=mode,
                    variables=dict(variables),
                    options=dict(options) if options else None,
                    expires_at=expires_at,
                    used_at=None,
                )
            )
        return token, expires_at

    async def consume_call_token(self, secret: str) -> CallToken | None:
        """Use a call token up; None when it is unknown, already used or expired.

        Of concurrent consumers of one token exactly one gets it.
        """
        now = utcnow()
        async with self._write() as session:
            result = await session.scalars(
                update(CallTokenRow)
                .where(
                    CallTokenRow.secret_hash == hash_secret(secret),
                    CallTokenRow.used_at.is_(None),
                    CallTokenRow.expires_at > now,
                )
                .values(used_at=now)
                .returning(CallTokenRow),
                execution_options={"synchronize_session": False},
            )
            row = result.first()
            if row is None:
                return None
            return CallToken(
                tenant_id=row.tenant_id,
                api_key_id=row.api_key_id,
                agent_id=row.agent_id,
                mode=row.mode,
                variables=dict(row.variables),
                expires_at=row.expires_at,
                options=dict(row.options or {}),
            )

    async def purge_call_tokens(self, before: datetime) -> int:
        """Delete tokens that expired before ``before``; returns how many."""
        _require_aware("before", before)
        async with self._write() as session:
            result = await session.execute(
                delete(CallTokenRow)
                .where(CallTokenRow.expires_at < before)
                .returning(CallTokenRow.secret_hash)
            )
            return len(result.all())

    # -- conversations -----------------------------------------------------------------

    async def create_conversation(self, conv: NewConversation) -> None:
        """Record a new conversation; :class:`AlreadyExistsError` if its id is taken."""
        row = ConversationRow(
            id=conv.id,
            tenant_id=conv.tenant_id,
            agent_id=conv.agent_id,
            channel=conv.channel,
            dialect=conv.dialect,
            mode=conv.mode,
            sample_rate=conv.sample_rate,
            variables=dict(conv.variables),
            started_at=conv.started_at,
            ended_at=None,
            end_reason=None,
        )
        try:
            async with self._write() as session:
                session.add(row)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"conversation {conv.id!r} exists") from exc

    async def add_turn(self, conversation_id: str, turn: NewTurn) -> int:
        """Append a turn; returns its sequence number (1, 2, … per conversation).

        Raises :class:`NotFoundError` for an unknown conversation.
        """
        async with self._write() as session:
            seq = await _next_seq(session, conversation_id, TurnRow)
            session.add(
                TurnRow(
                    conversation_id=conversation_id,
                    seq=seq,
                    role=turn.role,
                    text=turn.text,
                    heard_text=turn.heard_text,
                    interrupted=turn.interrupted,
                    started_at=turn.started_at,
                    ended_at=turn.ended_at,
                    **dict(turn.latency.items()),
                )
            )
        return seq

    async def reopen_conversation(self, conversation_id: str) -> None:
        """A new session continues this conversation: it is live again until the next
        :meth:`end_conversation`. Raises :class:`NotFoundError` for an unknown id."""
        async with self._write() as session:
            result = await session.execute(
                update(ConversationRow)
                .where(ConversationRow.id == conversation_id)
                .values(ended_at=None, end_reason=None)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(f"no conversation {conversation_id!r}")

    async def end_conversation(self, conversation_id: str, reason: str, ended_at: datetime) -> None:
        """Mark the conversation ended. The first end wins; later calls change nothing.

        Raises :class:`NotFoundError` for an unknown conversation, ``ValueError`` for a
        naive ``ended_at``.
        """
        _require_aware("ended_at", ended_at)
        async with self._write() as session:
            result = await session.execute(
                update(ConversationRow)
                .where(ConversationRow.id == conversation_id, ConversationRow.ended_at.is_(None))
                .values(ended_at=ended_at, end_reason=reason)
                .returning(ConversationRow.id)
            )
            if result.first() is not None:
                return
            if await session.get(ConversationRow, conversation_id) is None:
                raise NotFoundError(f"no conversation {conversation_id!r}")

    async def get_conversation(
        self, conversation_id: str, tenant_id: str
    ) -> ConversationRecord | None:
        """The conversation with its turns in order; None if missing or another tenant's."""
        if _unmatchable(conversation_id, tenant_id):
            return None
        async with self._read() as session:
            conv = await session.scalar(
                select(ConversationRow).where(
                    ConversationRow.id == conversation_id,
                    ConversationRow.tenant_id == tenant_id,
                )
            )
            if conv is None:
                return None
            turns = await session.scalars(
                select(TurnRow)
                .where(TurnRow.conversation_id == conversation_id)
                .order_by(TurnRow.seq)
            )
            tool_calls = await session.scalars(
                select(ToolCallRow)
                .where(ToolCallRow.conversation_id == conversation_id)
                .order_by(ToolCallRow.seq)
            )
            return ConversationRecord(
                id=conv.id,
                tenant_id=conv.tenant_id,
                agent_id=conv.agent_id,
                channel=conv.channel,
                dialect=conv.dialect,
                mode=conv.mode,
                sample_rate=conv.sample_rate,
                variables=dict(conv.variables),
                started_at=conv.started_at,
                ended_at=conv.ended_at,
                end_reason=conv.end_reason,
                turns=tuple(_turn(t) for t in turns),
                tool_calls=tuple(_tool_call(c) for c in tool_calls),
            )

    async def list_conversations(
        self,
        tenant_id: str,
        *,
        agent_id: str | None = None,
        channel: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[ConversationSummary], str | None]:
        """One page of the tenant's conversations, newest first, and the cursor of the next
        page (None on the last one). Pass that cursor back, with the same filters, for the
        next page; pages neither repeat nor skip rows, also among equal start times.

        ``started_after`` is inclusive, ``started_before`` exclusive. Raises ``ValueError``
        for ``limit`` < 1, a naive datetime or a cursor this method did not make.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if _unmatchable(tenant_id, agent_id, channel):
            return [], None
        row = ConversationRow
        query = select(
            row,
            select(func.count(TurnRow.id))
            .where(TurnRow.conversation_id == row.id)
            .scalar_subquery()
            .label("turn_count"),
        ).where(row.tenant_id == tenant_id)
        if agent_id is not None:
            query = query.where(row.agent_id == agent_id)
        if channel is not None:
            query = query.where(row.channel == channel)
        if started_after is not None:
            _require_aware("started_after", started_after)
            query = query.where(row.started_at >= started_after)
        if started_before is not None:
            _require_aware("started_before", started_before)
            query = query.where(row.started_at < started_before)
        if cursor is not None:
            after_start, after_id = decode_conversation_cursor(cursor)
            query = query.where(
                or_(
                    row.started_at < after_start,
                    and_(row.started_at == after_start, row.id < after_id),
                )
            )
        query = query.order_by(row.started_at.desc(), row.id.desc()).limit(limit + 1)
        async with self._read() as session:
            found = [
                ConversationSummary(
                    id=conv.id,
                    agent_id=conv.agent_id,
                    channel=conv.channel,
                    dialect=conv.dialect,
                    mode=conv.mode,
                    started_at=conv.started_at,
                    ended_at=conv.ended_at,
                    end_reason=conv.end_reason,
                    turn_count=turn_count,
                )
                for conv, turn_count in (await session.execute(query)).tuples()
            ]
        if len(found) <= limit:
            return found, None
        page = found[:limit]
        return page, encode_conversation_cursor(page[-1].started_at, page[-1].id)

    async def delete_conversation(self, conversation_id: str, tenant_id: str) -> bool:
        """Delete the tenant's conversation with its turns and tool calls; its bookings
        stay, no longer linked to it. False when it is missing or another tenant's."""
        if _unmatchable(conversation_id, tenant_id):
            return False
        async with self._write() as session:
            deleted = await session.scalar(
                delete(ConversationRow)
                .where(
                    ConversationRow.id == conversation_id,
                    ConversationRow.tenant_id == tenant_id,
                )
                .returning(ConversationRow.id)
            )
            if deleted is None:
                return False
            await session.execute(
                update(BookingRow)
                .where(
                    BookingRow.conversation_id == conversation_id,
                    BookingRow.tenant_id == tenant_id,
                )
                .values(conversation_id=None)
            )
            return True

    # -- tool calls --------------------------------------------------------------------

    async def add_tool_call(self, conversation_id: str, call: NewToolCall) -> int:
        """Append a finished tool call; returns its sequence number (1, 2, … per conversation).

        Raises :class:`NotFoundError` for an unknown conversation.
        """
        async with self._write() as session:
            seq = await _next_seq(session, conversation_id, ToolCallRow)
            session.add(
                ToolCallRow(
                    conversation_id=conversation_id,
                    seq=seq,
                    name=call.name,
                    arguments=dict(call.arguments),
                    result=None if call.result is None else dict(call.result),
                    status=call.status,
                    error=call.error,
                    started_at=call.started_at,
                    duration_ms=call.duration_ms,
                )
            )
        return seq

    async def list_tool_calls(self, conversation_id: str) -> list[ToolCallRecord]:
        """The conversation's tool calls in order; empty for an unknown conversation."""
        async with self._read() as session:
            rows = await session.scalars(
                select(ToolCallRow)
                .where(ToolCallRow.conversation_id == conversation_id)
                .order_by(ToolCallRow.seq)
            )
            return [_tool_call(row) for row in rows]

    # -- bookings ----------------------------------------------------------------------

    async def create_booking(self, booking: NewBooking) -> Booking:
        """Store a confirmed booking under a fresh unique reference and return it."""
        for _ in range(_REFERENCE_ATTEMPTS):
            row = BookingRow(
                tenant_id=booking.tenant_id,
                agent_id=booking.agent_id,
                conversation_id=booking.conversation_id,
                reference=new_booking_reference(),
                name=booking.name.strip(),
                party_size=booking.party_size,
                date=booking.date,
                time=booking.time,
                notes=booking.notes,
                status="confirmed",
                created_at=utcnow(),
                cancelled_at=None,
            )
            try:
                async with self._write() as session:
                    session.add(row)
            except IntegrityError:
                # The reference is taken (about 1 in 10^7 per existing booking): draw again.
                continue
            return _booking(row)
        raise StoreError(f"no free booking reference after {_REFERENCE_ATTEMPTS} attempts")

    async def list_bookings(
        self,
        tenant_id: str,
        agent_id: str,
        *,
        name: str | None = None,
        on_date: date | None = None,
        include_cancelled: bool = False,
    ) -> list[Booking]:
        """The agent's bookings by date and time, optionally only those under ``name``
        (whole name, case-insensitive; SQLite folds ASCII letters only) or on ``on_date``.
        """
        query = select(BookingRow).where(
            BookingRow.tenant_id == tenant_id, BookingRow.agent_id == agent_id
        )
        if name is not None:
            query = query.where(func.lower(BookingRow.name) == name.strip().lower())
        if on_date is not None:
            query = query.where(BookingRow.date == on_date)
        if not include_cancelled:
            query = query.where(BookingRow.status == "confirmed")
        query = query.order_by(BookingRow.date, BookingRow.time, BookingRow.id)
        async with self._read() as session:
            return [_booking(row) for row in await session.scalars(query)]

    async def cancel_booking(self, tenant_id: str, reference: str) -> Booking | None:
        """Cancel the tenant's booking with ``reference`` and return it.

        The reference is matched as :func:`normalize_booking_reference` writes it. None
        when there is no such booking for this tenant. A booking already cancelled is
        returned unchanged (first cancellation time kept).
        """
        wanted = normalize_booking_reference(reference)
        async with self._write() as session:
            result = await session.scalars(
                update(BookingRow)
                .where(
                    BookingRow.tenant_id == tenant_id,
                    BookingRow.reference == wanted,
                    BookingRow.status == "confirmed",
                )
                .values(status="cancelled", cancelled_at=utcnow())
                .returning(BookingRow),
                execution_options={"synchronize_session": False},
            )
            row = result.first()
            if row is None:
                row = await session.scalar(
                    select(BookingRow).where(
                        BookingRow.tenant_id == tenant_id, BookingRow.reference == wanted
                    )
                )
            return None if row is None else _booking(row)
