"""Handoff to a human over the messaging API: the documented sequence, queue positions
and estimates, no human signed in, and the queue's time limit. The console side is driven
through the service (the console's socket and page have their own tests)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from voxgate.messaging.service import MessagingService
from voxgate.store import ConsoleUser

from .conftest import RunningServer
from .test_messaging_ws import client, final_agent_message, of_type, register, until

pytestmark = [pytest.mark.e2e, pytest.mark.models]


def service(server: RunningServer) -> MessagingService:
    return server.state.messaging


@pytest.fixture
def human(server: RunningServer) -> Iterator[ConsoleUser]:
    """A console user of the default queue, signed in for the test."""
    user = server.call(
        server.state.store.create_console_user(
            server.state.tenant_ids["default"],
            username="ann-" + uuid.uuid4().hex[:8],
            password="correct horse battery",
            display_name="Ann",
            queues=["default"],
        )
    )
    queues = service(server).queues
    server.loop.call_soon_threadsafe(queues.sign_in, user)
    yield user
    server.loop.call_soon_threadsafe(queues.sign_out, user)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if not e["type"].startswith("CLIENT_")]


async def test_full_handoff(server: RunningServer, human: ConsoleUser) -> None:
    svc = service(server)
    async with client(server.http_url, register(server, "greeter")) as chat:
        await until(chat, final_agent_message)
        await chat.send("can I talk to a real person please")
        events = await until(chat, of_type("HANDOFF_QUEUE_STATUS"))
        assert types(events)[-5:] == [
            "POLY_AGENT_MESSAGE",
            "POLY_AGENT_TRIGGERED_HANDOFF",
            "POLY_AGENT_LEFT",
            "HANDOFF_ACCEPTED",
            "HANDOFF_QUEUE_STATUS",
        ]
        status = events[-1]["payload"]
        assert status["queue_name"] == "default" and status["position_in_queue"] == 1
        assert status["estimated_wait_seconds"] > 0
        await chat.send("hello? anyone?")  # waiting: the bot no longer answers
        session_id = chat.session_id or ""
        accepted = server.call(svc.queues.accept(human, session_id))
        assert accepted is not None
        events = await until(chat, of_type("LIVE_AGENT_JOINED"))
        assert "POLY_AGENT_THINKING" not in types(events)
        assert events[-1]["payload"]["agent"]["name"] == "Ann"
        server.call(svc.live_typing(human, session_id, True))
        typing = await until(chat, of_type("LIVE_AGENT_TYPING"))
        assert typing[-1]["sequence"] is None
        assert typing[-1]["payload"]["state"] == "TYPING_STATE_STARTED"
        server.call(svc.live_message(human, session_id, "Hi, I'm Ann. How can I help?", ["Book"]))
        message = (await until(chat, of_type("LIVE_AGENT_MESSAGE")))[-1]["payload"]
        assert message["text"] == "Hi, I'm Ann. How can I help?"
        assert message["response_suggestions"] == [{"message_text": "Book"}]
        assert message["agent_id"] == human.id
        await chat.tap(message["response_suggestions"][0])  # tapping sends its text
        echo = (await until(chat, of_type("USER_MESSAGE")))[-1]
        assert echo["payload"]["text"] == "Book"
        server.call(svc.live_end(human, session_id))
        events = await until(chat, of_type("SESSION_END"))
        assert types(events)[-2:] == ["LIVE_AGENT_LEFT", "SESSION_END"]
        assert events[-1]["payload"]["reason"] == "REASON_NATURAL_END"
    with pytest.raises(LookupError):  # not a live chat any more
        server.call(svc.live_message(human, session_id, "still there?"))


async def test_three_waiting_get_positions_and_updates(
    server: RunningServer, human: ConsoleUser
) -> None:
    svc = service(server)
    token = register(server, "greeter")
    chats = [client(server.http_url, token) for _ in range(3)]
    for chat in chats:
        await chat.start()
    try:
        for chat in chats:
            await until(chat, final_agent_message)
            await chat.send("I want to speak to a human")
            status = (await until(chat, of_type("HANDOFF_QUEUE_STATUS")))[-1]["payload"]
            assert status["position_in_queue"] == chats.index(chat) + 1
        assert server.call(svc.queues.accept(human, chats[0].session_id or "")) is not None
        for chat, position in ((chats[1], 1), (chats[2], 2)):
            status = (await until(chat, of_type("HANDOFF_QUEUE_STATUS")))[-1]["payload"]
            assert status["position_in_queue"] == position
        # Someone else cannot take the chat Ann has.
        assert server.call(svc.queues.accept(human, chats[0].session_id or "")) is None
    finally:
        for chat in chats:
            await chat.end()
            await chat.close()


async def test_no_human_signed_in_fails_and_the_agent_comes_back(server: RunningServer) -> None:
    async with client(server.http_url, register(server, "greeter")) as chat:
        await until(chat, final_agent_message)
        await chat.send("real person please")
        events = await until(chat, of_type("HANDOFF_FAILED"))
        assert types(events)[-3:] == [
            "POLY_AGENT_TRIGGERED_HANDOFF",
            "POLY_AGENT_LEFT",
            "HANDOFF_FAILED",
        ]
        events = await until(chat, final_agent_message)
        assert "POLY_AGENT_JOINED" in types(events)
        assert "nobody is available" in events[-1]["payload"]["text"]
        await chat.send("who am I?")  # the virtual agent answers again
        assert (await until(chat, final_agent_message))[-1]["payload"]["text"] == "You are caller ."


async def test_nobody_accepts_in_time(server: RunningServer, human: ConsoleUser) -> None:
    async with client(server.http_url, register(server, "quick")) as chat:  # limit: 1.5 s
        await chat.send("operator")
        await until(chat, of_type("HANDOFF_QUEUE_STATUS"))
        events = await until(chat, of_type("HANDOFF_TIMEOUT"), timeout=10)
        assert events[-1]["payload"] == {"queue_name": "default"}
        events = await until(chat, final_agent_message)
        assert "in time" in events[-1]["payload"]["text"]
    view = server.call(_view(service(server), human))
    assert all(not q.waiting for q in view)


async def _view(svc: MessagingService, user: ConsoleUser) -> list[Any]:
    await asyncio.sleep(0)
    return svc.queues.view(user)
