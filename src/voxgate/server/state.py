"""What the running server holds: settings, store, models, agents, live sessions."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import HTTPConnection

from voxgate.agents.runtime import AgentRuntime
from voxgate.agents.spec import AgentSpec
from voxgate.config import Settings
from voxgate.conversation.engine import Conversation
from voxgate.errors import ForbiddenError
from voxgate.messaging.service import MessagingService
from voxgate.server.metrics import Metrics
from voxgate.server.signing import Signers
from voxgate.server.throttle import LoginThrottle
from voxgate.speech.services import SpeechServices
from voxgate.store import ApiKey, Store


@dataclass(slots=True)
class ServerState:
    settings: Settings
    store: Store
    specs: dict[str, tuple[AgentSpec, Path]]
    """Agent definitions by id (known at once; the runtimes are built while loading)."""
    tenant_ids: dict[str, str]
    http: httpx.AsyncClient
    secret: bytes
    """The server secret (:func:`~voxgate.server.signing.server_secret`), read once."""
    signers: Signers
    agents: dict[str, AgentRuntime] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    embedder: Any | None = None
    """Tenant name → id, for the tenants that own agents."""
    services: SpeechServices | None = None
    ready: bool = False
    draining: bool = False
    owns_services: bool = True
    owns_embedder: bool = True
    """Whether closing the state closes these (not when they were handed in, shared)."""
    failure: str | None = None
    """Why startup failed (models could not load), for /readyz."""
    dev_key: str | None = None
    """The development key's secret when this process created it (shown once)."""
    live: set[Conversation] = field(default_factory=set)
    handlers: set[asyncio.Task[None]] = field(default_factory=set)
    messaging: MessagingService = field(init=False)
    """Messaging sessions' shared service (built with the state)."""
    console_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    console_chats: defaultdict[str, dict[str, None]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """The chats each console user accepted (by user id, in order), so that a console
    opened again (a reload, a second tab) follows them too."""

    def __post_init__(self) -> None:
        self.messaging = MessagingService(self.store, self)

    def agent_tenant_id(self, spec: AgentSpec) -> str:
        return self.tenant_ids[spec.tenant]

    def agent_for_key(self, key: ApiKey, agent_id: str) -> AgentSpec:
        """The agent ``key`` may use. Unknown agents and other tenants' look the same:
        :class:`ForbiddenError` either way."""
        found = self.specs.get(agent_id)
        if (
            found is None
            or self.agent_tenant_id(found[0]) != key.tenant_id
            or not key.allows_agent(agent_id)
        ):
            raise ForbiddenError(
                f"agent {agent_id!r} does not exist or is not allowed for this key"
            )
        return found[0]

    def runtime(self, agent_id: str) -> AgentRuntime:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ForbiddenError(f"agent {agent_id!r} no longer exists")
        return agent


def state_of(conn: HTTPConnection) -> ServerState:
    """The server state of the app serving ``conn`` (a request or a WebSocket)."""
    state: ServerState = conn.app.state.voxgate
    return state
