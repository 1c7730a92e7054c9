"""The agent interface every brain implements, and what a reply is made of."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

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
    tenant_id: str = ""
    platform: str | None = None
    """The client platform (messaging: ``ios``, ``android``, ``web``…), when known."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    instructions: str | None = None
    """This session's system prompt, replacing the agent's (LLM brain)."""
    extra_context: str | None = None
    """Background the session was opened with (LLM brain)."""
    state: dict[str, Any] = field(default_factory=dict)
    """The brain's per-conversation memory (slots being filled…); the conversation keeps it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyText:
    """A piece of the reply's text; pieces concatenate into the reply."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndCall:
    """End the call once everything said before it has been played."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Handoff:
    """Hand the conversation to a human in ``queue`` once what was said has been played."""

    queue: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolStatus:
    """A tool the agent runs started, completed or failed (shown to dialects that can)."""

    tool_name: str
    status: Literal["started", "completed", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """Rich content shown with a text message (messaging only): a link or an image."""

    title: str
    content_url: str
    content_type: Literal["url", "image"] = "url"
    preview_image_url: str = ""
    call_to_action_text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyExtras:
    """What a text channel shows with the reply: response suggestions (tappable replies)
    and attachments. Voice ignores them."""

    suggestions: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


ReplyPart = ReplyText | EndCall | Handoff | ToolStatus | ReplyExtras


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
