"""The flow brain over scripted dialogues with the demo agent: real embeddings, a real
store (SQLite), the real tools."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from voxgate.agents.base import (
    AgentContext,
    EndCall,
    Handoff,
    HistoryItem,
    ReplyExtras,
    ReplyPart,
    ReplyText,
    ToolStatus,
)
from voxgate.agents.embeddings import Embedder
from voxgate.agents.flow import best_sentences, phrase_in, words
from voxgate.agents.runtime import AgentResources, AgentRuntime, build_agents
from voxgate.agents.spec import load_specs
from voxgate.store import NewConversation, Store

ROOT = Path(__file__).resolve().parents[2]
# A Wednesday, so "Friday" is two days later.
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    with Embedder() as loaded:
        yield loaded


@dataclass
class Dialogue:
    agent: AgentRuntime
    store: Store
    tenant_id: str
    call_id: str
    state: dict[str, Any] = field(default_factory=dict)
    history: list[HistoryItem] = field(default_factory=list)

    async def say(self, text: str) -> tuple[str, list[ReplyPart]]:
        context = AgentContext(
            call_id=self.call_id,
            channel="chat",
            variables={},
            history=tuple(self.history),
            tenant_id=self.tenant_id,
            now=NOW,
            state=self.state,
        )
        parts = [p async for p in self.agent.respond(context, text)]
        reply = "".join(p.text for p in parts if isinstance(p, ReplyText))
        self.history += [
            HistoryItem(role="user", text=text),
            HistoryItem(role="assistant", text=reply),
        ]
        return reply, [p for p in parts if not isinstance(p, ReplyText)]


@pytest_asyncio.fixture
async def demo(embedder: Embedder, tmp_path: Path) -> AsyncIterator[Dialogue]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'flow.db'}")
    tenant = await store.ensure_tenant("default")
    await store.create_conversation(
        NewConversation(
            id="call_flow",
            tenant_id=tenant,
            agent_id="demo",
            channel="chat",
            dialect="atoms",
            mode="chat",
            sample_rate=None,
            variables={},
            started_at=NOW,
        )
    )
    async with httpx.AsyncClient() as http:
        resources = AgentResources(
            store=store, http=http, embedder=embedder, cache_dir=tmp_path / "cache"
        )
        agents = await build_agents(load_specs(ROOT / "agents"), resources)
        yield Dialogue(agents["demo"], store, tenant, "call_flow")
    await store.close()


async def test_booking_with_slots_over_several_turns(demo: Dialogue) -> None:
    reply, _ = await demo.say("Hi, I'd like to book a table please.")
    assert reply == "Of course. For how many people?"
    reply, _ = await demo.say("For four.")
    assert reply == "Which day would you like to come?"
    reply, _ = await demo.say("Friday at 7pm.")
    assert reply == "Under what name should I book it?"
    reply, parts = await demo.say("Jane Smith.")
    assert reply.startswith(
        "You're booked, Jane Smith: a table for 4 on Friday 20 November at 7 pm."
    )
    assert parts == [
        ToolStatus(tool_name="create_booking", status="started"),
        ToolStatus(tool_name="create_booking", status="completed"),
    ]
    (booking,) = await demo.store.list_bookings(demo.tenant_id, "demo", name="jane smith")
    assert (booking.party_size, booking.date, booking.time.hour) == (4, date(2026, 11, 20), 19)
    assert booking.reference in reply
    calls = await demo.store.list_tool_calls("call_flow")
    assert [(c.name, c.status) for c in calls] == [("create_booking", "completed")]
    assert calls[0].arguments == {
        "name": "Jane Smith",
        "party_size": 4,
        "date": "2026-11-20",
        "time": "19:00",
    }


async def test_booking_in_one_sentence_then_list_and_cancel(demo: Dialogue) -> None:
    reply, _ = await demo.say(
        "Can I book a table for two on Saturday at 8pm under the name Ada Lovelace?"
    )
    assert "a table for 2 on Saturday 21 November at 8 pm" in reply
    (booking,) = await demo.store.list_bookings(demo.tenant_id, "demo")
    reply, _ = await demo.say("What bookings do I have?")
    assert reply == "Sure. What name is the booking under?"
    reply, _ = await demo.say("Ada Lovelace")
    assert booking.reference in reply and "Saturday 21 November" in reply
    # The reference was said earlier in the conversation: no need to ask for it.
    reply, parts = await demo.say("I need to cancel my booking.")
    assert f"Your booking {booking.reference} is cancelled" in reply
    assert ToolStatus(tool_name="cancel_booking", status="completed") in parts
    (cancelled,) = await demo.store.list_bookings(demo.tenant_id, "demo", include_cancelled=True)
    assert cancelled.status == "cancelled"


async def test_tool_failure_is_spoken(demo: Dialogue) -> None:
    reply, parts = await demo.say(
        "Book a table for 3 today at 9 in the morning under the name Sam Lee"
    )
    assert reply.startswith("I'm sorry, I couldn't book that")  # 9 am today is past
    assert ToolStatus(tool_name="create_booking", status="failed") in parts


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When are you open on Sunday?", "noon"),
        ("What are your opening hours?", "Tuesday to Sunday"),
        ("Where are you?", "Harbour Street"),
        ("Can I bring my dog?", "terrace"),
        ("Do you have vegan dishes?", "vegan"),
        ("Do you sell gift vouchers?", "voucher"),
    ],
)
async def test_knowledge_questions(demo: Dialogue, question: str, expected: str) -> None:
    reply, parts = await demo.say(question)
    assert expected.lower() in reply.lower(), reply
    assert all(isinstance(p, ReplyExtras) for p in parts)  # suggestions for text channels
    assert len(reply.split()) < 60, "a spoken answer must be short"


async def test_intents_carry_their_suggestions_and_attachments(demo: Dialogue) -> None:
    _, parts = await demo.say("What are your opening hours?")
    assert parts == [ReplyExtras(suggestions=("I'd like to book a table", "What's on the menu?"))]
    _, parts = await demo.say("Where are you?")
    (extras,) = parts
    assert isinstance(extras, ReplyExtras) and not extras.suggestions
    (attachment,) = extras.attachments
    assert attachment.title == "Blue Door Bistro on the map"
    assert attachment.content_type == "url" and attachment.call_to_action_text == "Open map"


@pytest.mark.parametrize(
    "text", ["The child almost hurt the small dog.", "Drop the two when you add the figures."]
)
async def test_unknown_request_gets_the_fallback(demo: Dialogue, text: str) -> None:
    reply, parts = await demo.say(text)
    assert reply == demo.agent.spec.flow.fallback
    assert parts == []


async def test_fallback_while_collecting_slots_asks_again(demo: Dialogue) -> None:
    await demo.say("I want to make a reservation")
    reply, _ = await demo.say("The child almost hurt the small dog.")
    assert reply.endswith("For how many people?")


async def test_handoff_request(demo: Dialogue) -> None:
    reply, parts = await demo.say("Can I talk to a real person please?")
    assert reply == "Of course, I'm putting you through to a member of our team now."
    assert parts[-1] == Handoff(queue="front-desk", reason="Can I talk to a real person please?")
    calls = await demo.store.list_tool_calls("call_flow")
    assert calls[-1].name == "transfer_to_human" and calls[-1].result == {"queue": "front-desk"}


async def test_goodbye_ends_the_call(demo: Dialogue) -> None:
    reply, parts = await demo.say("That's all, goodbye!")
    assert reply == "Thanks for calling the Blue Door Bistro. Goodbye!"
    assert parts == [EndCall()]


def test_greeting_per_channel(demo: Dialogue) -> None:
    context = AgentContext(call_id="c", channel="voice", variables={})
    assert demo.agent.greeting(context) == (
        "Hi, thanks for calling the Blue Door Bistro. How can I help you?"
    )


def test_helpers() -> None:
    assert phrase_in("real person", words("I want a REAL person, now"))
    assert not phrase_in("bye", words("goodbye"))
    passage = "Opening hours. We open at noon. We close at ten. Parking is free."
    assert best_sentences(passage, "when do you close", n=1) == "We close at ten."


async def test_cancel_asks_for_the_reference_when_none_was_said(demo: Dialogue) -> None:
    reply, _ = await demo.say("Please cancel my reservation.")
    assert reply == "I can cancel it. What is the booking reference?"
    reply, parts = await demo.say("It's BK-7K3Q.")
    assert ToolStatus(tool_name="cancel_booking", status="failed") in parts
    assert reply == "I couldn't find that booking. Could you check the reference?"
