"""Agents at run time: a definition (:class:`AgentSpec`) with its brain, tools and knowledge.

Build them all with :func:`build_agents` at start (embeds intent examples and knowledge
once); each :class:`AgentRuntime` implements :class:`~voxgate.agents.base.Agent` for every
channel and is shared by all its conversations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from voxgate.agents.base import AgentContext, EndCall, ReplyPart, ReplyText
from voxgate.agents.flow import FlowBrain, handoff_parts, phrase_in, words
from voxgate.agents.llm import LlmBrain
from voxgate.agents.spec import AgentSpec
from voxgate.agents.templating import builtins, fill
from voxgate.agents.tools.builtin import builtin_tools
from voxgate.agents.tools.runner import ToolContext, ToolDefinition, ToolRunner
from voxgate.agents.tools.webhook import webhook_tool
from voxgate.conversation.turns import TurnSettings
from voxgate.store import Store

log = logging.getLogger(__name__)
KNOWLEDGE_IN_PROMPT = 3
"""Passages retrieved for the LLM's system prompt each turn."""


class Brain(Protocol):
    def respond(
        self, context: AgentContext, user_text: str, values: Mapping[str, Any]
    ) -> AsyncIterator[ReplyPart]: ...


@dataclass(slots=True)
class AgentResources:
    """What agents share: the store, an HTTP client for webhooks and LLMs, the embedder,
    and where knowledge embeddings are cached."""

    store: Store
    http: httpx.AsyncClient
    embedder: Any | None
    cache_dir: Path | None


class AgentRuntime:
    """One agent, ready to answer on any channel."""

    def __init__(
        self,
        spec: AgentSpec,
        path: Path,
        *,
        resources: AgentResources,
        runner: ToolRunner,
        knowledge: Any | None,
    ) -> None:
        self.spec = spec
        self.path = path
        self.runner = runner
        self.knowledge = knowledge
        self.resources = resources
        self.turn_settings: TurnSettings = spec.turn.settings()
        self.brain: Brain | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def tenant(self) -> str:
        return self.spec.tenant

    def values(self, context: AgentContext) -> dict[str, Any]:
        """Template variables: agent defaults < session variables < built-ins."""
        now = context.now.astimezone(self.spec.tz)
        return {
            **self.spec.variables,
            **context.variables,
            **builtins(
                now,
                agent_name=self.spec.name or self.spec.id,
                call_id=context.call_id,
                channel=context.channel,
            ),
        }

    def tool_context(self, context: AgentContext) -> ToolContext:
        return ToolContext(
            tenant_id=context.tenant_id,
            agent_id=self.spec.id,
            conversation_id=context.call_id,
            variables=dict(context.variables),
            store=self.resources.store,
            http=self.resources.http,
            knowledge=self.knowledge,
            now=context.now.astimezone(self.spec.tz),
        )

    def greeting(self, context: AgentContext) -> str | None:
        template = self.spec.greeting_for(context.channel)
        return fill(template, self.values(context)) if template else None

    async def respond(self, context: AgentContext, user_text: str) -> AsyncIterator[ReplyPart]:
        values = self.values(context)
        said = words(user_text)
        if any(phrase_in(p, said) for p in self.spec.handoff.phrases):
            async for part in handoff_parts(
                self.spec, self.runner, self.tool_context(context), user_text, values
            ):
                yield part
            return
        if any(phrase_in(p, said) for p in self.spec.end_call.phrases):
            yield ReplyText(text=fill(self.spec.end_call.message, values))
            yield EndCall()
            return
        assert self.brain is not None, "build agents with build_agents()"
        async for part in self.brain.respond(context, user_text, values):
            yield part


def tools_for(spec: AgentSpec) -> dict[str, ToolDefinition]:
    """The agent's tools; ``transfer_to_human`` and ``end_call`` are always available to
    the runtime (handoff and goodbye phrases use them)."""
    available = builtin_tools()
    chosen: dict[str, ToolDefinition] = {
        name: available[name] for name in ("transfer_to_human", "end_call")
    }
    for tool in spec.tools:
        if isinstance(tool, str):
            chosen[tool] = available[tool]
        else:
            chosen[tool.name] = webhook_tool(tool)
    return chosen


async def build_agent(spec: AgentSpec, path: Path, resources: AgentResources) -> AgentRuntime:
    """Load the agent's knowledge and embed its examples. Raises ``ConfigError``."""
    from voxgate.agents.knowledge import KnowledgeBase

    knowledge = None
    if spec.knowledge:
        if resources.embedder is None:
            raise ValueError(f"agent {spec.id!r}: knowledge needs an embedder")
        sources = [path.parent / source for source in spec.knowledge]
        knowledge = await asyncio.to_thread(
            KnowledgeBase.load, sources, resources.embedder, resources.cache_dir
        )
    runtime = AgentRuntime(
        spec, path, resources=resources, runner=ToolRunner(tools_for(spec)), knowledge=knowledge
    )
    if spec.brain == "flow":
        runtime.brain = await FlowBrain.create(
            spec,
            embedder=resources.embedder,
            knowledge=knowledge,
            runner=runtime.runner,
            tool_context=runtime.tool_context,
        )
    else:
        runtime.brain = LlmAgentBrain(runtime)
    return runtime


class LlmAgentBrain:
    """The ``llm`` brain with the agent's system prompt, tools and knowledge."""

    def __init__(self, runtime: AgentRuntime) -> None:
        assert runtime.spec.llm is not None
        self._runtime = runtime
        self._llm = LlmBrain(runtime.spec.llm, runtime.resources.http)

    async def respond(
        self, context: AgentContext, user_text: str, values: Mapping[str, Any]
    ) -> AsyncIterator[ReplyPart]:
        runtime = self._runtime
        prompt = context.instructions or runtime.spec.system_prompt
        if context.extra_context:
            prompt = f"{prompt}\n\nContext for this conversation:\n{context.extra_context}"
        if runtime.knowledge is not None:
            hits = await runtime.knowledge.asearch(user_text, KNOWLEDGE_IN_PROMPT)
            if hits:
                facts = "\n".join(f"- {h.passage.text}" for h in hits)
                prompt = f"{prompt}\n\nFacts that may help (from the knowledge base):\n{facts}"
        async for part in self._llm.respond(
            context,
            user_text,
            system_prompt=prompt,
            values=values,
            tools=runtime.runner,
            tool_ctx=runtime.tool_context(context),
        ):
            yield part


def needs_embedder(specs: Mapping[str, tuple[AgentSpec, Path]]) -> bool:
    return any(
        spec.knowledge or any(i.examples for i in spec.flow.intents)
        for spec, _path in specs.values()
    )


async def build_agents(
    specs: Mapping[str, tuple[AgentSpec, Path]], resources: AgentResources
) -> dict[str, AgentRuntime]:
    agents: dict[str, AgentRuntime] = {}
    for agent_id, (spec, path) in specs.items():
        agents[agent_id] = await build_agent(spec, path, resources)
    return agents
