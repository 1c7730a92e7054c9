"""The built-in tools every agent may pick: end the call, transfer to a human, search the
knowledge base, and the restaurant bookings of :mod:`.bookings`."""

from __future__ import annotations

from typing import Any

from voxgate.agents.tools.bookings import booking_tools
from voxgate.agents.tools.runner import ToolContext, ToolDefinition, object_schema
from voxgate.errors import ToolError

KNOWLEDGE_RESULTS = 4
"""Passages ``search_knowledge`` returns."""


def builtin_tools(*, handoff_queue: str = "default") -> dict[str, ToolDefinition]:
    """Fresh definitions of the built-in tools (bookings included), by name.

    ``handoff_queue``: where ``transfer_to_human`` sends the caller when the model names
    no queue.
    """

    async def transfer_to_human(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return {"queue": args.get("queue") or handoff_queue}

    tools = [
        ToolDefinition(
            name="end_call",
            description=(
                "End the conversation and hang up. Call it only when the conversation is "
                "over: the user said goodbye, asked to hang up, or has nothing more to ask. "
                "Say your goodbye in the same reply, before calling this; nothing can be said "
                "after it."
            ),
            parameters=object_schema(
                {"reason": {"type": "string", "description": "Why the call ends, for the log."}}
            ),
            run=_end_call,
            effect="end_call",
        ),
        ToolDefinition(
            name="transfer_to_human",
            description=(
                "Hand the conversation over to a human colleague. Use it when the user asks "
                "for a person, when they are upset, or when you cannot help with the request. "
                "Tell the user you are transferring them in the same reply."
            ),
            parameters=object_schema(
                {
                    "queue": {
                        "type": "string",
                        "description": "Team to transfer to; leave out for the default team.",
                    },
                    "reason": {
                        "type": "string",
                        "description": "One sentence for the human: what the user needs.",
                    },
                }
            ),
            run=transfer_to_human,
            effect="handoff",
        ),
        ToolDefinition(
            name="search_knowledge",
            description=(
                "Search this business's knowledge base (opening hours, prices, policies, "
                "menus, FAQs). Call it before answering any factual question about the "
                "business, and answer only from the passages returned; if nothing relevant "
                "comes back, say you don't know."
            ),
            parameters=object_schema(
                {
                    "query": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The question, rephrased as a short search query.",
                    }
                },
                ("query",),
            ),
            run=_search_knowledge,
        ),
    ]
    return {**{tool.name: tool for tool in tools}, **booking_tools()}


async def _end_call(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return {"ending": True}


async def _search_knowledge(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    if ctx.knowledge is None:
        raise ToolError("this agent has no knowledge base to search")
    hits = await ctx.knowledge.asearch(args["query"], KNOWLEDGE_RESULTS)
    return {
        "passages": [
            {
                "text": str(hit.passage.text),
                "source": None if hit.passage.source is None else str(hit.passage.source),
                "score": round(float(hit.score), 4),
            }
            for hit in hits
        ]
    }
