"""What the running server holds: settings, store, models, agents, live sessions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voxgate.agents.demo import KeywordAgent
from voxgate.config import Settings
from voxgate.conversation.engine import Conversation
from voxgate.speech.services import SpeechServices
from voxgate.store import Store


@dataclass(slots=True)
class ServerState:
    settings: Settings
    store: Store
    agents: dict[str, KeywordAgent]
    tenant_ids: dict[str, str]
    """Tenant name → id, for the tenants that own agents."""
    services: SpeechServices | None = None
    ready: bool = False
    draining: bool = False
    failure: str | None = None
    """Why startup failed (models could not load), for /readyz."""
    dev_key: str | None = None
    """The development key's secret when this process created it (shown once)."""
    live: set[Conversation] = field(default_factory=set)
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    def agent_tenant_id(self, agent: KeywordAgent) -> str:
        return self.tenant_ids[agent.tenant]
