"""The agent interface every brain implements, and what a reply is made of."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Channel = Literal["voice", "chat", "messaging"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryItem:
    role: Literal["user", "assistant"]
    text: str
    """For an interrupted assistant turn: what the user heard, not what was generated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentContext:
    """What the agent may look at when it answers."""

    call_id: str
    channel: Channel
    variables: Mapping[str, str | int | float | bool]
    history: tuple[HistoryItem, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyText:
    """A piece of the reply's text; pieces concatenate into the reply."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndCall:
    """End the call once everything said before it has been played."""


ReplyPart = ReplyText | EndCall


class Agent(Protocol):
    """One agent definition at run time, shared by all its conversations."""

    @property
    def id(self) -> str: ...

    @property
    def tenant(self) -> str: ...

    def greeting(self, context: AgentContext) -> str | None:
        """What to say when a session opens, or ``None`` to wait for the user."""
        ...

    def respond(self, context: AgentContext, user_text: str) -> AsyncIterator[ReplyPart]:
        """Stream the reply to ``user_text``. Cancelled when the user barges in."""
        ...
