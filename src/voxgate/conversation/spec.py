"""What one call is: the settings a :class:`~voxgate.conversation.engine.Conversation`
is built with, fixed for its whole life."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from voxgate.agents.base import Channel, HistoryItem
from voxgate.conversation.turns import TurnSettings

Mode = Literal["webcall", "chat"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSpec:
    """One call's identity and settings. Build it where the call is opened
    (``server/calls.py``); the engine only reads it."""

    call_id: str
    session_id: str
    tenant_id: str
    mode: Mode
    dialect: str
    """The wire protocol's name, as stored with the conversation."""
    channel: Channel = "voice"
    sample_rate: int
    """Rate of the client's audio (and of ours, unless ``output_rate`` is given)."""
    output_rate: int | None = None
    turn_settings: TurnSettings
    variables: Mapping[str, str | int | float | bool]
    resume: tuple[HistoryItem, ...] | None = None
    """The history of a stored conversation this call continues (no greeting then)."""
    lead_ms: float = 250.0
    """How far ahead of real time agent audio is sent."""
    greet: bool = True
    silence_timeout_s: float | None = None
    """End the call after this long without anyone speaking (None: never)."""
    instructions: str | None = None
    extra_context: str | None = None

    @property
    def playback_rate(self) -> int:
        """The rate of the agent audio sent to the client."""
        return self.output_rate or self.sample_rate
