"""A small keyword-intent agent read from YAML: the embedded demo brain.

Definition (``agents/<id>.yaml``)::

    id: demo
    tenant: default            # optional
    name: Demo
    greeting: "Hi! ..."        # optional; {{variable}} placeholders are filled in
    fallback: "Sorry, ..."
    turn: {silence_ms: 600, ...}   # optional TurnSettings overrides
    intents:
      - name: hours
        keywords: ["open", "hours"]
        reply: "We're open ..."
        end_call: false
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from voxgate.agents.base import AgentContext, EndCall, ReplyPart, ReplyText
from voxgate.conversation.turns import TurnSettings
from voxgate.errors import ConfigError

_WORD = re.compile(r"[a-z0-9']+")
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def fill(template: str, variables: Mapping[str, object]) -> str:
    """Replace ``{{name}}`` with the variable's value (unknown names become empty)."""
    return _VAR.sub(lambda m: str(variables.get(m.group(1), "")), template)


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    name: str
    keywords: tuple[str, ...]
    reply: str
    end_call: bool = False

    def matches(self, words: set[str], text: str) -> bool:
        return any((k in text) if " " in k else (k in words) for k in self.keywords)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeywordAgent:
    """Matches the first intent whose keyword appears in the user's words."""

    id: str
    tenant: str
    name: str
    greeting_text: str | None
    fallback: str
    intents: tuple[Intent, ...]
    turn_settings: TurnSettings

    def greeting(self, context: AgentContext) -> str | None:
        return fill(self.greeting_text, context.variables) if self.greeting_text else None

    def match(self, user_text: str) -> Intent | None:
        text = " ".join(_WORD.findall(user_text.lower()))
        words = set(text.split())
        return next((i for i in self.intents if i.matches(words, text)), None)

    async def respond(self, context: AgentContext, user_text: str) -> AsyncIterator[ReplyPart]:
        intent = self.match(user_text)
        reply = intent.reply if intent else self.fallback
        yield ReplyText(text=fill(reply, {**context.variables, "user_text": user_text}))
        if intent and intent.end_call:
            yield EndCall()


def _require(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: '{key}' must be a {kind.__name__}")
    return value


def load_keyword_agent(path: Path) -> KeywordAgent:
    """Load and validate one agent file. Raises :class:`ConfigError` naming the file."""
    where = str(path)
    try:
        with path.open(encoding="utf-8") as f:
            doc = yaml.safe_load(f)  # marks name the file and line
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: an agent file must be a YAML mapping")
    turn_raw = doc.get("turn") or {}
    known = {f.name for f in fields(TurnSettings)}
    if not isinstance(turn_raw, dict) or not set(turn_raw) <= known:
        raise ConfigError(f"{where}: 'turn' may only set {', '.join(sorted(known))}")
    try:
        turn = TurnSettings(**turn_raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: turn: {exc}") from None
    intents = []
    for i, raw in enumerate(doc.get("intents") or []):
        at = f"{where}: intents[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{at} must be a mapping")
        keywords = _require(raw, "keywords", list, at)
        intents.append(
            Intent(
                name=str(raw.get("name", f"intent{i}")),
                keywords=tuple(str(k).lower() for k in keywords),
                reply=_require(raw, "reply", str, at),
                end_call=bool(raw.get("end_call", False)),
            )
        )
    greeting = doc.get("greeting")
    if greeting is not None and not isinstance(greeting, str):
        raise ConfigError(f"{where}: 'greeting' must be a string")
    return KeywordAgent(
        id=_require(doc, "id", str, where),
        tenant=str(doc.get("tenant", "default")),
        name=str(doc.get("name", doc["id"])),
        greeting_text=greeting,
        fallback=_require(doc, "fallback", str, where),
        intents=tuple(intents),
        turn_settings=turn,
    )


def load_agents(folder: Path) -> dict[str, KeywordAgent]:
    """Load every ``*.yaml`` in ``folder``; any broken file stops the load."""
    agents: dict[str, KeywordAgent] = {}
    for path in sorted(folder.glob("*.y*ml")):
        agent = load_keyword_agent(path)
        if agent.id in agents:
            raise ConfigError(f"{path}: duplicate agent id {agent.id!r}")
        agents[agent.id] = agent
    return agents
