"""The messaging API's state: connectors (the token an app embeds) with the hosts they
serve, messaging sessions with their event log, and console users (live agents).

:class:`MessagingStore` is a base class of :class:`voxgate.store.Store`: call these methods
on the store. Every method runs in its own transaction.

Hosts
    A connector serves registered hosts of two kinds. A *domain* (``example.com``) admits
    itself and its subdomains (``chat.example.com``), never a look-alike
    (``badexample.com``). A *bundle id* (``com.example.app``) admits exactly itself. Both
    are kept lower case, and ``X-Host`` is compared lower case. When ``add_connector_host``
    is not told the kind, an entry is a bundle id when it has an underscore or when its
    first label is a generic top-level domain (``com``, ``org``, ``net``, ``edu``,
    ``gov``, ``io``; reverse-DNS order), otherwise a domain.

Event sequences
    Each session numbers its events 1, 2, 3, … with no gaps or repeats, also with
    concurrent writers: the session row's ``next_sequence`` is bumped by an ``UPDATE`` (a
    row lock on PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` serializes writers).

Console users
    Usernames are lower case and unique across all tenants (a login names no tenant).
    Passwords are kept as salted scrypt hashes with their parameters.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.store.common import (
    AlreadyExistsError,
    NotFoundError,
    hash_secret,
    require_aware,
    unmatchable,
    utcnow,
)
from voxgate.store.models import (
    ConnectorHostRow,
    ConnectorRow,
    ConsoleUserRow,
    ConversationRow,
    MessagingEventRow,
    MessagingSessionRow,
    TenantRow,
)

HostKind = Literal["domain", "bundle"]
Platform = Literal["web", "ios", "android", "ios-web", "android-web", "custom"]
PLATFORMS: tuple[str, ...] = get_args(Platform)
CONNECTOR_TOKEN_PREFIX = "vmc_"
MESSAGING_SESSION_PREFIX = "msg_"
MESSAGING_CHANNEL = "messaging"
MAX_DEVICE_TYPE_CHARS = 100
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
INITIAL_STATE = "agent"
ENDED_STATE = "ended"

_BUNDLE_FIRST_LABELS = frozenset({"com", "org", "net", "edu", "gov", "io"})
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,99}")

# scrypt: 16 MiB and ~50 ms per hash (OWASP's minimum is N=2^17 with r=8 at p=1, or
# N=2^14 with p=5+; this keeps a login fast on small machines). Stored with the hash,
# so raising them later keeps old hashes valid.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_MAX_N = 2**20
_SALT_BYTES = 16
_HASH_BYTES = 32


# -- records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Connector:
    """A messaging connector as shown to operators. Its token is never stored."""

    id: str
    tenant_id: str
    name: str
    agent_id: str
    """The agent every session opened with this connector talks to."""
    prefix: str
    """First 12 characters of the token (``vmc_…``), to recognize it in listings."""
    created_at: datetime
    revoked_at: datetime | None
    hosts: tuple[str, ...]
    """Registered domains and bundle ids, sorted."""
    bundle_ids: tuple[str, ...] = ()
    """Those of :attr:`hosts` that are bundle ids (matched exactly)."""

    def admits(self, host: str) -> bool:
        """Whether ``host`` (an ``X-Host`` value) is registered: equal to an entry, or a
        subdomain of a domain entry. Case-insensitive; malformed values are refused."""
        try:
            wanted = normalize_host(host)
        except ValueError:
            return False
        for entry in self.hosts:
            if wanted == entry:
                return True
            if entry not in self.bundle_ids and wanted.endswith("." + entry):
                return True
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagingSession:
    id: str
    """``msg_`` and 32 hex digits."""
    tenant_id: str
    connector_id: str
    agent_id: str
    conversation_id: str
    """The conversation row (channel ``messaging``) that holds its transcript."""
    platform: str
    streaming: bool
    device_type: str | None
    state: str
    """``"agent"`` when created; :meth:`MessagingStore.set_messaging_session_state` sets
    others; ``"ended"`` once ended."""
    queue_name: str | None
    live_agent_id: str | None
    created_at: datetime
    last_activity_at: datetime
    ended_at: datetime | None
    end_reason: str | None

    def idle_expired(self, now: datetime, idle_timeout_s: float) -> bool:
        """Whether nothing happened in the last ``idle_timeout_s`` seconds before ``now``."""
        return now - self.last_activity_at > timedelta(seconds=idle_timeout_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagingEvent:
    id: str
    """UUID4 string, unique across sessions (clients de-duplicate by it)."""
    session_id: str
    sequence: int
    """1, 2, 3, … per session."""
    type: str
    payload: dict[str, Any]
    metadata: dict[str, Any] | None
    timestamp: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleUser:
    """A live agent of the console. The password is never returned."""

    id: str
    tenant_id: str
    username: str
    display_name: str
    queues: tuple[str, ...]
    """Handoff queues this user takes chats from."""
    created_at: datetime
    disabled_at: datetime | None = None


# -- validation ------------------------------------------------------------------------


def normalize_host(value: str) -> str:
    """A domain name or bundle id as the store keeps it: trimmed, lower case, punycode,
    no trailing dot. Raises ``ValueError`` for anything else (URLs, ports, wildcards)."""
    host = value.strip().lower()
    if not host:
        raise ValueError("the host is empty")
    if "://" in host or any(c in host for c in "/?#@\\"):
        raise ValueError(
            f"{value!r} is a URL: give a bare domain or bundle id (example.com or com.example.app)"
        )
    if ":" in host:
        raise ValueError(f"{value!r} has a port: give a bare domain or bundle id")
    if "*" in host:
        raise ValueError(f"{value!r}: no wildcards; example.com already admits its subdomains")
    host = host.removesuffix(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{value!r} is not a valid domain name") from None
    if len(host) > 253 or not _HOST_RE.fullmatch(host):
        raise ValueError(f"{value!r} is not a domain name or an app bundle id")
    return host


def host_kind(host: str) -> HostKind:
    """The kind :meth:`MessagingStore.add_connector_host` gives a normalized ``host`` when
    not told: see the module's docstring."""
    first, dot, _rest = host.partition(".")
    if "_" in host or (dot and first in _BUNDLE_FIRST_LABELS):
        return "bundle"
    return "domain"


def _check_kind(host: str, kind: HostKind) -> None:
    if kind == "domain" and "_" in host:
        raise ValueError(f"{host!r} is not a domain name (it has an underscore)")
    if kind == "bundle" and "." not in host:
        raise ValueError(f"{host!r} is not a bundle id (like com.example.app)")
    if kind not in get_args(HostKind):
        raise ValueError(f"kind must be 'domain' or 'bundle', got {kind!r}")


def normalize_username(value: str) -> str:
    """Trimmed and lower case; ``ValueError`` unless 1-100 of ``a-z 0-9 . _ @ + -``
    starting with a letter or digit."""
    username = value.strip().lower()
    if not _USERNAME_RE.fullmatch(username):
        raise ValueError(
            f"{value!r} is not a valid username: 1-100 characters of a-z, 0-9, . _ @ + -"
        )
    return username


def _clean_queues(queues: Iterable[str]) -> list[str]:
    out: list[str] = []
    for queue in queues:
        name = queue.strip()
        if not name or len(name) > 200:
            raise ValueError(f"a queue name has 1-200 characters, got {queue!r}")
        if name not in out:
            out.append(name)
    return out


def _text(name: str, value: str, max_chars: int) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > max_chars:
        raise ValueError(f"{name} must have 1-{max_chars} characters, got {value!r}")
    return cleaned


# -- passwords -------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (base64) of ``password`` with a random salt.
    CPU-heavy (~50 ms): call it off the event loop."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _HASH_BYTES)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` value (constant-time compare).
    False for a malformed value. CPU-heavy: call it off the event loop."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        n_i, r_i, p_i = int(n), int(r), int(p)
        if not (2 <= n_i <= _SCRYPT_MAX_N and 1 <= r_i <= 32 and 1 <= p_i <= 16):
            return False
        salt_b = base64.b64decode(salt, validate=True)
        expected = base64.b64decode(digest, validate=True)
    except (ValueError, binascii.Error):
        return False
    if not expected:
        return False
    actual = _scrypt(password, salt_b, n_i, r_i, p_i, len(expected))
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    maxmem = 2 * 128 * n * r * p + (1 << 20)
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user is unknown, so that takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


# -- row → record ----------------------------------------------------------------------


def _connector(row: ConnectorRow, hosts: Sequence[ConnectorHostRow]) -> Connector:
    ordered = sorted(hosts, key=lambda h: h.host)
    return Connector(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        agent_id=row.agent_id,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        hosts=tuple(h.host for h in ordered),
        bundle_ids=tuple(h.host for h in ordered if h.kind == "bundle"),
    )


def _session(row: MessagingSessionRow) -> MessagingSession:
    return MessagingSession(
        id=row.id,
        tenant_id=row.tenant_id,
        connector_id=row.connector_id,
        agent_id=row.agent_id,
        conversation_id=row.conversation_id,
        platform=row.platform,
        streaming=row.streaming,
        device_type=row.device_type,
        state=row.state,
        queue_name=row.queue_name,
        live_agent_id=row.live_agent_id,
        created_at=row.created_at,
        last_activity_at=row.last_activity_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
    )


def _event(row: MessagingEventRow) -> MessagingEvent:
    return MessagingEvent(
        id=row.event_id,
        session_id=row.session_id,
        sequence=row.sequence,
        type=row.type,
        payload=dict(row.payload),
        metadata=None if row.metadata_ is None else dict(row.metadata_),
        timestamp=row.created_at,
    )


def _console_user(row: ConsoleUserRow) -> ConsoleUser:
    return ConsoleUser(
        id=row.id,
        tenant_id=row.tenant_id,
        username=row.username,
        display_name=row.display_name,
        queues=tuple(row.queues),
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


async def _hosts_of(session: AsyncSession, ids: list[str]) -> dict[str, list[ConnectorHostRow]]:
    found: dict[str, list[ConnectorHostRow]] = {i: [] for i in ids}
    if ids:
        rows = await session.scalars(
            select(ConnectorHostRow).where(ConnectorHostRow.connector_id.in_(ids))
        )
        for row in rows:
            found[row.connector_id].append(row)
    return found


class MessagingStore:
    """The messaging part of :class:`voxgate.store.Store` (a base class of it)."""

    def _read(self) -> AbstractAsyncContextManager[AsyncSession]:
        raise NotImplementedError  # Store's

    def _write(self) -> AbstractAsyncContextManager[AsyncSession]:
        raise NotImplementedError  # Store's

    # -- connectors --------------------------------------------------------------------

    async def create_connector(
        self, tenant_id: str, *, name: str, agent_id: str
    ) -> tuple[Connector, str]:
        """Create a connector for ``agent_id``; returns it and its token (``vmc_…``, 256
        random bits), which the caller shows once. It serves no host until
        :meth:`add_connector_host`. Raises :class:`NotFoundError` for an unknown tenant,
        ``ValueError`` for an empty name or agent id."""
        name = _text("name", name, 200)
        agent_id = _text("agent_id", agent_id, 200)
        token = CONNECTOR_TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ConnectorRow(
            id="con_" + secrets.token_hex(8),
            tenant_id=tenant_id,
            name=name,
            agent_id=agent_id,
            prefix=token[:12],
            token_hash=hash_secret(token),
            created_at=utcnow(),
            revoked_at=None,
        )
        async with self._write() as session:
            if unmatchable(tenant_id) or await session.get(TenantRow, tenant_id) is None:
                raise NotFoundError(f"no tenant with id {tenant_id!r}")
            session.add(row)
        return _connector(row, ()), token

    async def get_connector(self, connector_id: str) -> Connector | None:
        """The connector (revoked or not) with its hosts; None when unknown."""
        if unmatchable(connector_id):
            return None
        async with self._read() as session:
            row = await session.get(ConnectorRow, connector_id)
            if row is None:
                return None
            hosts = await _hosts_of(session, [row.id])
            return _connector(row, hosts[row.id])

    async def list_connectors(self, tenant_id: str | None = None) -> list[Connector]:
        """Connectors with their hosts, revoked ones included, oldest first; all tenants'
        when ``tenant_id`` is None."""
        query = select(ConnectorRow).order_by(ConnectorRow.created_at, ConnectorRow.id)
        if tenant_id is not None:
            if unmatchable(tenant_id):
                return []
            query = query.where(ConnectorRow.tenant_id == tenant_id)
        async with self._read() as session:
            rows = list(await session.scalars(query))
            hosts = await _hosts_of(session, [r.id for r in rows])
            return [_connector(r, hosts[r.id]) for r in rows]

    async def revoke_connector(self, connector_id: str) -> bool:
        """Revoke a connector: its token, access tokens and sessions are refused from now
        on. False when it is unknown or already revoked."""
        if unmatchable(connector_id):
            return False
        async with self._write() as session:
            result = await session.execute(
                update(ConnectorRow)
                .where(ConnectorRow.id == connector_id, ConnectorRow.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .returning(ConnectorRow.id)
            )
            return result.first() is not None

    async def add_connector_host(
        self, connector_id: str, host: str, *, kind: HostKind | None = None
    ) -> None:
        """Register a web domain (admits its subdomains) or app bundle id (exact) for the
        connector; ``kind`` None infers it (see the module's docstring). Adding a host
        again changes nothing, unless ``kind`` is given: then that kind is kept.

        Raises :class:`NotFoundError` for an unknown connector, ``ValueError`` for a host
        that is not a bare domain name or bundle id (a URL, a port, a wildcard)."""
        normalized = normalize_host(host)
        wanted: HostKind = host_kind(normalized) if kind is None else kind
        _check_kind(normalized, wanted)
        if unmatchable(connector_id):
            raise NotFoundError(f"no connector {connector_id!r}")
        try:
            async with self._write() as session:
                if await session.get(ConnectorRow, connector_id) is None:
                    raise NotFoundError(f"no connector {connector_id!r}")
                existing = await session.get(ConnectorHostRow, (connector_id, normalized))
                if existing is None:
                    session.add(
                        ConnectorHostRow(
                            connector_id=connector_id,
                            host=normalized,
                            kind=wanted,
                            created_at=utcnow(),
                        )
                    )
                elif kind is not None:
                    existing.kind = kind
        except IntegrityError:
            pass  # added by a concurrent writer meanwhile

    async def remove_connector_host(self, connector_id: str, host: str) -> bool:
        """Unregister a host; False when it was not registered (or is malformed)."""
        try:
            normalized = normalize_host(host)
        except ValueError:
            return False
        if unmatchable(connector_id):
            return False
        async with self._write() as session:
            result = await session.execute(
                delete(ConnectorHostRow)
                .where(
                    ConnectorHostRow.connector_id == connector_id,
                    ConnectorHostRow.host == normalized,
                )
                .returning(ConnectorHostRow.host)
            )
            return result.first() is not None

    async def authenticate_connector(self, secret: str, host: str) -> Connector | None:
        """The live connector with token ``secret`` that serves ``host`` (see
        :meth:`Connector.admits`), or None: unknown or revoked token, tenant gone, or host
        not registered. Never logs the token."""
        async with self._read() as session:
            row = await session.scalar(
                select(ConnectorRow)
                .join(TenantRow, TenantRow.id == ConnectorRow.tenant_id)
                .where(
                    ConnectorRow.token_hash == hash_secret(secret),
                    ConnectorRow.revoked_at.is_(None),
                )
            )
            if row is None:
                return None
            hosts = await _hosts_of(session, [row.id])
        connector = _connector(row, hosts[row.id])
        return connector if connector.admits(host) else None

    # -- sessions ----------------------------------------------------------------------

    async def create_messaging_session(
        self,
        *,
        tenant_id: str,
        connector_id: str,
        agent_id: str,
        platform: str,
        streaming: bool,
        device_type: str | None,
    ) -> MessagingSession:
        """Open a session (state ``"agent"``, no events yet) and, in the same transaction,
        its conversation row (same id; channel and dialect ``messaging``, mode ``chat``,
        variables ``platform`` and ``device_type``).

        Raises :class:`NotFoundError` for an unknown connector, ``ValueError`` for an
        unknown platform, a device type over 100 characters, or a connector of another
        tenant."""
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}; got {platform!r}")
        if device_type is not None and len(device_type) > MAX_DEVICE_TYPE_CHARS:
            raise ValueError(f"device_type has more than {MAX_DEVICE_TYPE_CHARS} characters")
        if unmatchable(connector_id, tenant_id, agent_id, device_type):
            raise ValueError("NUL characters are not allowed")
        now = utcnow()
        session_id = MESSAGING_SESSION_PREFIX + uuid.uuid4().hex
        variables: dict[str, Any] = {"platform": platform}
        if device_type is not None:
            variables["device_type"] = device_type
        row = MessagingSessionRow(
            id=session_id,
            tenant_id=tenant_id,
            connector_id=connector_id,
            agent_id=agent_id,
            conversation_id=session_id,
            platform=platform,
            streaming=streaming,
            device_type=device_type,
            state=INITIAL_STATE,
            queue_name=None,
            live_agent_id=None,
            created_at=now,
            last_activity_at=now,
            ended_at=None,
            end_reason=None,
            next_sequence=1,
        )
        async with self._write() as session:
            connector = await session.get(ConnectorRow, connector_id)
            if connector is None:
                raise NotFoundError(f"no connector {connector_id!r}")
            if connector.tenant_id != tenant_id:
                raise ValueError(f"connector {connector_id!r} belongs to another tenant")
            session.add(
                ConversationRow(
                    id=session_id,
                    tenant_id=tenant_id,
                    agent_id=agent_id,
                    channel=MESSAGING_CHANNEL,
                    dialect=MESSAGING_CHANNEL,
                    mode="chat",
                    sample_rate=None,
                    variables=variables,
                    started_at=now,
                    ended_at=None,
                    end_reason=None,
                )
            )
            await session.flush()  # the session row refers to it
            session.add(row)
        return _session(row)

    async def get_messaging_session(self, session_id: str) -> MessagingSession | None:
        """The session, ended or not; None when unknown. Check tenant, connector and
        expiry yourself (``voxgate.server.messaging_auth.session_for`` does)."""
        if unmatchable(session_id):
            return None
        async with self._read() as session:
            row = await session.get(MessagingSessionRow, session_id)
            return None if row is None else _session(row)

    async def touch_messaging_session(self, session_id: str, at: datetime) -> None:
        """Record activity at ``at`` (never moves ``last_activity_at`` back). Raises
        :class:`NotFoundError` for an unknown session."""
        require_aware("at", at)
        if unmatchable(session_id):
            raise NotFoundError(f"no messaging session {session_id!r}")
        async with self._write() as session:
            await session.execute(
                update(MessagingSessionRow)
                .where(
                    MessagingSessionRow.id == session_id,
                    MessagingSessionRow.last_activity_at < at,
                )
                .values(last_activity_at=at)
            )
            await self._require_session(session, session_id)

    async def set_messaging_session_state(
        self,
        session_id: str,
        *,
        state: str,
        queue_name: str | None = None,
        live_agent_id: str | None = None,
    ) -> None:
        """Set the handoff state (e.g. ``"agent"``, ``"queued"``, ``"live"``) with its
        queue and live agent; both are overwritten, None clears them. Raises
        :class:`NotFoundError` for an unknown session, ``ValueError`` for an empty or
        over-long state (32)."""
        _text("state", state, 32)
        if unmatchable(session_id, queue_name, live_agent_id):
            raise NotFoundError(f"no messaging session {session_id!r}")
        async with self._write() as session:
            result = await session.execute(
                update(MessagingSessionRow)
                .where(MessagingSessionRow.id == session_id)
                .values(state=state, queue_name=queue_name, live_agent_id=live_agent_id)
                .returning(MessagingSessionRow.id)
            )
            if result.first() is None:
                raise NotFoundError(f"no messaging session {session_id!r}")

    async def end_messaging_session(self, session_id: str, reason: str, at: datetime) -> None:
        """End the session (state ``"ended"``) and its conversation. The first end wins;
        later calls change nothing. Raises :class:`NotFoundError` for an unknown session,
        ``ValueError`` for a naive ``at``."""
        require_aware("at", at)
        if unmatchable(session_id, reason):
            raise NotFoundError(f"no messaging session {session_id!r}")
        async with self._write() as session:
            await self._end(session, [session_id], reason, at)
            await self._require_session(session, session_id)

    async def expire_messaging_sessions(
        self, idle_before: datetime, *, reason: str, at: datetime
    ) -> list[str]:
        """End every live session with no activity since ``idle_before`` (and their
        conversations) at ``at``; returns their ids. For a periodic sweep."""
        require_aware("idle_before", idle_before)
        require_aware("at", at)
        async with self._write() as session:
            ids = list(
                await session.scalars(
                    select(MessagingSessionRow.id).where(
                        MessagingSessionRow.ended_at.is_(None),
                        MessagingSessionRow.last_activity_at < idle_before,
                    )
                )
            )
            return await self._end(session, ids, reason, at)

    @staticmethod
    async def _end(session: AsyncSession, ids: list[str], reason: str, at: datetime) -> list[str]:
        if not ids:
            return []
        result = await session.execute(
            update(MessagingSessionRow)
            .where(MessagingSessionRow.id.in_(ids), MessagingSessionRow.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason, state=ENDED_STATE)
            .returning(MessagingSessionRow.id, MessagingSessionRow.conversation_id),
            execution_options={"synchronize_session": False},
        )
        ended = list(result.tuples())
        if ended:
            await session.execute(
                update(ConversationRow)
                .where(
                    ConversationRow.id.in_([conv for _id, conv in ended]),
                    ConversationRow.ended_at.is_(None),
                )
                .values(ended_at=at, end_reason=reason)
            )
        return [session_id for session_id, _conv in ended]

    @staticmethod
    async def _require_session(session: AsyncSession, session_id: str) -> None:
        found = await session.scalar(
            select(MessagingSessionRow.id).where(MessagingSessionRow.id == session_id)
        )
        if found is None:
            raise NotFoundError(f"no messaging session {session_id!r}")

    # -- events ------------------------------------------------------------------------

    async def append_messaging_event(
        self,
        session_id: str,
        type: str,
        payload: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> MessagingEvent:
        """Append an event with the session's next sequence number (1, 2, … with no gaps
        or repeats, also under concurrent writers) and a fresh UUID; it counts as
        activity. ``at`` defaults to now. Raises :class:`NotFoundError` for an unknown
        session, ``TypeError`` when ``payload`` or ``metadata`` is not JSON-able."""
        when = utcnow() if at is None else at
        require_aware("at", when)
        _text("type", type, 64)
        if unmatchable(session_id):
            raise NotFoundError(f"no messaging session {session_id!r}")
        async with self._write() as session:
            bumped = await session.scalar(
                update(MessagingSessionRow)
                .where(MessagingSessionRow.id == session_id)
                .values(
                    next_sequence=MessagingSessionRow.next_sequence + 1,
                    last_activity_at=when,
                )
                .returning(MessagingSessionRow.next_sequence),
                execution_options={"synchronize_session": False},
            )
            if bumped is None:
                raise NotFoundError(f"no messaging session {session_id!r}")
            row = MessagingEventRow(
                session_id=session_id,
                sequence=bumped - 1,
                event_id=str(uuid.uuid4()),
                type=type,
                payload=dict(payload),
                metadata_=None if metadata is None else dict(metadata),
                created_at=when,
            )
            session.add(row)
        return _event(row)

    async def list_messaging_events(
        self, session_id: str, after_sequence: int = 0, limit: int | None = None
    ) -> list[MessagingEvent]:
        """The session's events with a sequence above ``after_sequence``, in order, at most
        ``limit``; empty for an unknown session. ``ValueError`` for ``limit`` < 1."""
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if unmatchable(session_id):
            return []
        query = (
            select(MessagingEventRow)
            .where(
                MessagingEventRow.session_id == session_id,
                MessagingEventRow.sequence > after_sequence,
            )
            .order_by(MessagingEventRow.sequence)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self._read() as session:
            return [_event(row) for row in await session.scalars(query)]

    # -- console users -----------------------------------------------------------------

    async def create_console_user(
        self,
        tenant_id: str,
        *,
        username: str,
        password: str,
        display_name: str,
        queues: list[str],
    ) -> ConsoleUser:
        """Create a live agent who takes chats from ``queues``. Raises
        :class:`AlreadyExistsError` when the username is taken (by any tenant),
        :class:`NotFoundError` for an unknown tenant, ``ValueError`` for a bad username
        (see :func:`normalize_username`), an empty display name, a password shorter than
        8 characters, or an empty queue name."""
        name = normalize_username(username)
        shown = _text("display_name", display_name, 200)
        if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise ValueError(
                f"a password needs {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters"
            )
        cleaned = _clean_queues(queues)
        password_hash = await asyncio.to_thread(hash_password, password)
        row = ConsoleUserRow(
            id="usr_" + secrets.token_hex(8),
            tenant_id=tenant_id,
            username=name,
            display_name=shown,
            password_hash=password_hash,
            queues=cleaned,
            created_at=utcnow(),
            disabled_at=None,
        )
        try:
            async with self._write() as session:
                if unmatchable(tenant_id) or await session.get(TenantRow, tenant_id) is None:
                    raise NotFoundError(f"no tenant with id {tenant_id!r}")
                taken = await session.scalar(
                    select(ConsoleUserRow.id).where(ConsoleUserRow.username == name)
                )
                if taken is not None:
                    raise AlreadyExistsError(f"console user {name!r} exists")
                session.add(row)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"console user {name!r} exists") from exc
        return _console_user(row)

    async def authenticate_console_user(self, username: str, password: str) -> ConsoleUser | None:
        """The enabled user with this username and password, or None. Takes about as long
        for an unknown user as for a wrong password."""
        try:
            name = normalize_username(username)
        except ValueError:
            name = None
        row = None
        if name is not None:
            async with self._read() as session:
                row = await session.scalar(
                    select(ConsoleUserRow).where(ConsoleUserRow.username == name)
                )
        if row is None or row.disabled_at is not None:
            await asyncio.to_thread(lambda: verify_password(password, _dummy_hash()))
            return None
        if not await asyncio.to_thread(verify_password, password, row.password_hash):
            return None
        return _console_user(row)

    async def get_console_user(self, user_id: str) -> ConsoleUser | None:
        if unmatchable(user_id):
            return None
        async with self._read() as session:
            row = await session.get(ConsoleUserRow, user_id)
            return None if row is None else _console_user(row)

    async def list_console_users(self, tenant_id: str | None = None) -> list[ConsoleUser]:
        """Users by username; all tenants' when ``tenant_id`` is None."""
        query = select(ConsoleUserRow).order_by(ConsoleUserRow.username)
        if tenant_id is not None:
            if unmatchable(tenant_id):
                return []
            query = query.where(ConsoleUserRow.tenant_id == tenant_id)
        async with self._read() as session:
            return [_console_user(row) for row in await session.scalars(query)]

    async def delete_console_user(self, user_id: str) -> bool:
        """Delete a user; False when unknown. Sessions keep their ``live_agent_id``."""
        if unmatchable(user_id):
            return False
        async with self._write() as session:
            result = await session.execute(
                delete(ConsoleUserRow)
                .where(ConsoleUserRow.id == user_id)
                .returning(ConsoleUserRow.id)
            )
            return result.first() is not None
