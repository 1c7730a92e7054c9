"""The demo agent by voice: questions and bookings spoken with piper at test time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxgate.agents.embeddings import Embedder
from voxgate.client import AtomsClient, talk
from voxgate.speech.services import SpeechServices

from .conftest import RunningServer, make_settings, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.models]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_server(
    speech_services: SpeechServices, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path_factory.mktemp("demo"), agents_dir=ROOT / "agents")
    running = start_server(settings, speech_services, embedder=embedder)
    yield running
    running.stop()


async def ask(server: RunningServer, services: SpeechServices, question: str) -> tuple[str, str]:
    """Speak ``question`` (piper) to the demo agent; return both transcripts."""
    audio = services.tts.synthesize(question, vary=False)
    audio = np.concatenate([audio, np.zeros(services.tts.sample_rate // 2, dtype=np.int16)])
    client = await AtomsClient.connect(
        server.ws_url, token=server.dev_key, agent_id="demo", sample_rate=16000
    )
    try:
        result = await talk(client, audio, services.tts.sample_rate, timeout=60)
    finally:
        await client.close()
    return result.user_text, result.agent_text


async def test_spoken_question_about_hours(
    demo_server: RunningServer, speech_services: SpeechServices
) -> None:
    user, agent = await ask(demo_server, speech_services, "What time do you open on Sundays?")
    assert "sunday" in user.lower()
    assert "noon" in agent and "Tuesday to Sunday" in agent, agent


async def test_spoken_booking_creates_a_row(
    demo_server: RunningServer, speech_services: SpeechServices
) -> None:
    user, agent = await ask(
        demo_server,
        speech_services,
        "I would like to book a table for two tomorrow at seven p.m. under the name Jane Smith.",
    )
    state = demo_server.state
    bookings = demo_server.call(
        state.store.list_bookings(state.tenant_ids["default"], "demo", name="Jane Smith")
    )
    assert len(bookings) == 1, (user, agent)
    booking = bookings[0]
    assert booking.party_size == 2 and booking.time.hour == 19
    assert booking.reference in agent


async def test_a_resumed_conversation_can_cancel_an_earlier_booking(
    demo_server: RunningServer,
) -> None:
    from .test_datagrid_voice import open_voice, reply, send, start, until

    ws = await open_voice(demo_server)
    first = await start(ws, agent_id="demo")
    assert "Blue Door Bistro" in await reply(ws)  # the greeting, heard to the end
    await send(ws, "text", text="Book a table for 3 tomorrow at 8pm under the name Ada Byron.")
    booked = await reply(ws)
    assert "You're booked, Ada Byron" in booked, booked
    await send(ws, "stop")
    await until(ws, "ended")
    await ws.close()

    ws = await open_voice(demo_server)
    await start(ws, conversation_id=first["conversation_id"])
    await send(ws, "text", text="We can't come after all, please cancel my booking.")
    cancelled = await reply(ws)
    reference = booked.rsplit(" ", 1)[-1].rstrip(".")
    assert f"Your booking {reference} is cancelled" in cancelled, cancelled
    await send(ws, "stop")
    ended = await until(ws, "ended")
    assert len(ended["payload"]["transcript"]) >= 4
    await ws.close()


async def test_messaging_with_the_demo_agent(demo_server: RunningServer) -> None:
    """The same agent over the messaging API: streamed and whole replies match, answers
    carry the intent's suggestions and attachments, and tapping a suggestion sends it."""
    from voxgate.client.messaging import MessagingClient

    store = demo_server.state.store
    connector, token = demo_server.call(
        store.create_connector(demo_server.state.tenant_ids["default"], name="t", agent_id="demo")
    )
    demo_server.call(store.add_connector_host(connector.id, "com.example.bistro", kind="bundle"))
    replies: dict[bool, list[Any]] = {}
    for streaming in (False, True):
        async with MessagingClient(
            demo_server.http_url,
            connector_token=token,
            host="com.example.bistro",
            platform="ios",
            streaming=streaming,
        ) as chat:
            await _final(chat)  # the messaging greeting
            await chat.send("When are you open?")
            hours = await _final(chat)
            await chat.send("Where are you?")
            where = await _final(chat)
            replies[streaming] = [hours, where]
            suggestion = hours.suggestions[0]
            await chat.tap(suggestion)
            booking = await _final(chat)
            users = [m.text for m in chat.messages.values() if m.sender == "user"]
            assert users[-1] == suggestion == "I'd like to book a table"
            assert "how many people" in booking.text
    hours_whole, where_whole = replies[False]
    hours_streamed, where_streamed = replies[True]
    assert hours_streamed.text == hours_whole.text and "Tuesday" in hours_whole.text
    assert hours_whole.suggestions == ["I'd like to book a table", "What's on the menu?"]
    assert hours_streamed.suggestions == hours_whole.suggestions
    assert where_whole.attachments == where_streamed.attachments
    (attachment,) = where_whole.attachments
    assert attachment["content_type"] == "ATTACHMENT_CONTENT_TYPE_URL"
    assert attachment["call_to_action_text"] == "Open map"


async def _final(chat: Any) -> Any:
    """The next agent message once complete."""
    async with asyncio.timeout(30):
        async for event in chat:
            payload = event.get("payload") or {}
            if event["type"] == "POLY_AGENT_MESSAGE" or (
                event["type"] == "POLY_AGENT_MESSAGE_CHUNK" and payload.get("is_complete")
            ):
                return chat.messages[payload["message_id"]]
    raise AssertionError("the session ended")
