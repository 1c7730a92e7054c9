"""The live-agent console and the chat widget in real headless Chromium against a real
server. The console test is the full handoff: a messaging client (the SDK) asks the
virtual agent for a person, a console user signs in through the page, accepts the chat,
and both sides type and write until the human ends it. The widget test chats with the
greeter agent from ``/chat``. Screenshots land in ``test-artifacts/``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from voxgate.dialects.messaging import ServerEvent
from voxgate.messaging.hub import live_topic
from voxgate.messaging.service import MessagingService
from voxgate.store import ConsoleUser

from .chromium import LoopThread, Watched, chromium, watched_page
from .conftest import RunningServer
from .test_console_api import (
    PASSWORD,
    create_user,
    handed_over_call,
    wait_signed_out,
)
from .test_messaging_ws import client, final_agent_message, of_type, register, until

pytestmark = [pytest.mark.e2e, pytest.mark.models]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def background() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if not e["type"].startswith("CLIENT_")]


def test_full_handoff_in_chromium(
    browser: Any, server: RunningServer, background: LoopThread
) -> None:
    started = time.monotonic()
    user: ConsoleUser = create_user(server, ["default"])
    chat = client(server.http_url, register(server, "greeter"), platform="ios")
    call_id = handed_over_call(server, "default", "I'd rather talk to someone")
    try:
        with watched_page(browser, "console") as watch:
            page = watch.page
            page.goto(f"{server.http_url}/console")
            page.fill("#username", user.username)
            page.fill("#password", "a wrong password")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#login-error:has-text('Wrong username or password')")
            watch.problems.clear()  # the 401 of that try was meant
            watch.screenshot("login")
            page.fill("#password", PASSWORD)
            page.click("#login-form button[type=submit]")
            watch.wait("() => window.voxgateConsole?.state === 'online'")
            watch.wait("() => voxgateConsole.queues.length === 1")
            assert page.evaluate("document.cookie") == ""  # HttpOnly: out of the page's reach
            assert user.display_name in page.inner_text("#who-text")

            # The user asks the virtual agent for a person and waits in the queue.
            background.run(chat.start())
            background.run(until(chat, final_agent_message))
            background.run(chat.send("can I talk to a real person please"))
            status = background.run(until(chat, of_type("HANDOFF_QUEUE_STATUS")))[-1]
            assert status["payload"]["position_in_queue"] == 1
            sid = chat.session_id or ""
            row = page.locator(f'li.waiting[data-session-id="{sid}"]')
            row.wait_for()
            assert "ios" in row.inner_text().lower() and "real person" in row.inner_text()
            row.locator(".waited:has-text('waiting 0:01')").wait_for(timeout=3000)  # it counts
            watch.screenshot("queue")

            row.locator("button.accept").click()
            joined = background.run(until(chat, of_type("LIVE_AGENT_JOINED")))[-1]
            assert joined["payload"]["agent"] == {"id": user.id, "name": "Ann", "avatar_url": ""}
            hook = f"voxgateConsole.chats['{sid}']"
            # The history: greeting, the question, the handover message.
            watch.wait(f"() => {hook}?.messages.length >= 3")
            history = page.evaluate(f"{hook}.messages")
            assert history[0] == {"who": "bot", "text": "Hello , welcome back."}
            assert history[1] == {"who": "customer", "text": "can I talk to a real person please"}
            assert row.count() == 0  # no longer waiting

            # Typing, both ways.
            background.run(chat.typing(True))
            page.wait_for_selector("#user-typing", state="visible")
            page.locator("#text").press_sequentially("Hi, I'm Ann", delay=20)
            typing = background.run(until(chat, of_type("LIVE_AGENT_TYPING")))[-1]
            assert typing["payload"]["state"] == "TYPING_STATE_STARTED"
            page.fill("#suggestions", "Book a table, Opening hours")
            page.press("#text", "Enter")
            events = background.run(until(chat, of_type("LIVE_AGENT_MESSAGE")))
            states = [e["payload"]["state"] for e in events if e["type"] == "LIVE_AGENT_TYPING"]
            assert states[-1:] == ["TYPING_STATE_STOPPED"]  # stopped before sending
            message = events[-1]["payload"]
            assert message["text"] == "Hi, I'm Ann"
            assert message["response_suggestions"] == [
                {"message_text": "Book a table"},
                {"message_text": "Opening hours"},
            ]
            background.run(chat.typing(False))
            page.wait_for_selector("#user-typing", state="hidden")
            background.run(chat.tap(message["response_suggestions"][1]))
            watch.wait(f"() => {hook}.messages.at(-1).text === 'Opening hours'")
            background.run(chat.send("Do you open on Sundays?"))
            watch.wait(f"() => {hook}.messages.at(-1).text === 'Do you open on Sundays?'")
            page.fill("#text", "Yes, from noon to 10 pm.")
            page.click("#send")
            reply = background.run(until(chat, of_type("LIVE_AGENT_MESSAGE")))[-1]
            assert reply["payload"]["text"] == "Yes, from noon to 10 pm."
            watch.wait(f"() => {hook}.messages.at(-1).who === 'me'")
            watch.screenshot("chat")

            page.click("#end-chat")
            events = background.run(until(chat, of_type("SESSION_END")))
            assert types(events)[-2:] == ["LIVE_AGENT_LEFT", "SESSION_END"]
            assert events[-1]["payload"]["reason"] == "REASON_NATURAL_END"
            watch.wait(f"() => {hook}.ended")
            page.wait_for_selector("#ended-note", state="visible")
            assert page.locator("#composer").is_hidden()
            watch.screenshot("ended")

            # A voice call the agent handed over earlier: its transcript, read-only.
            page.click(f'li[data-conversation-id="{call_id}"] button')
            page.wait_for_selector("#chat-title:has-text('Voice call with greeter')")
            assert "I'd rather talk to someone" in page.inner_text("#messages")
            assert page.locator("#composer").is_hidden()
            watch.screenshot("call-transcript")
    finally:
        background.run(chat.close())
    wait_signed_out(server)
    assert time.monotonic() - started < 60


def test_chat_widget_in_chromium(browser: Any, server: RunningServer) -> None:
    store = server.state.store
    svc = server.state.messaging
    connector, token = server.call(
        store.create_connector(
            server.state.tenant_ids["default"], name="widget", agent_id="greeter"
        )
    )
    server.call(store.add_connector_host(connector.id, "127.0.0.1"))  # X-Host: the page's
    human = create_user(server, ["default"])
    server.loop.call_soon_threadsafe(svc.queues.sign_in, human)
    try:
        with watched_page(browser, "chat-widget", viewport=(480, 760)) as watch:
            chat_with_the_widget(server, watch, token, human)
    finally:
        server.loop.call_soon_threadsafe(svc.queues.sign_out, human)
    wait_signed_out(server)


def chat_with_the_widget(
    server: RunningServer, watch: Watched, token: str, human: ConsoleUser
) -> None:
    svc = server.state.messaging
    page = watch.page
    chat = "window.voxgateChat"
    page.goto(f"{server.http_url}/chat#token={token}")
    watch.wait(f"() => {chat}?.messages.some(m => m.from === 'agent' && m.complete)")
    assert page.evaluate(f"{chat}.messages")[0]["text"] == "Hello , welcome back."
    session_id = page.evaluate(f"{chat}.sessionId")
    assert session_id.startswith("msg_")
    assert page.inner_text("#title") == "greeter"

    page.fill("#text", "who am I?")
    page.press("#text", "Enter")
    watch.wait(f"() => {chat}.messages.at(-1).text === 'You are caller .'")
    assert "POLY_AGENT_MESSAGE_CHUNK" in page.evaluate(f"{chat}.types")  # streamed

    # Suggestions as buttons, a link and an image.
    page.fill("#text", "show me the menu")
    page.click("#send")
    watch.wait(f"() => {chat}.messages.at(-1).complete && {chat}.messages.at(-1).attachments")
    last = page.evaluate(f"{chat}.messages.at(-1)")
    assert last["text"] == "Here is our menu."
    assert last["suggestions"] == ["Book a table", "Opening hours"]
    assert last["attachments"] == 2
    assert page.locator("a.att-link").get_attribute("href") == "https://example.com/menu"
    page.wait_for_function("() => document.querySelector('a.att-image img').naturalWidth > 0")
    watch.screenshot("suggestions")
    page.click("button.suggestion:has-text('Book a table')")
    watch.wait(
        f"() => {chat}.messages.some(m => m.from === 'user' && m.text === 'Book a table')"
        f" && {chat}.messages.at(-1).text === 'You are caller .'"
    )
    assert page.locator("button.suggestion").count() == 0

    # A reload continues the same session from its cursor: the transcript comes from
    # storage, no event twice, no new greeting.
    count = len(page.evaluate(f"{chat}.messages"))
    page.reload()
    watch.wait(f"() => {chat}.state === 'online'")
    page.wait_for_timeout(300)
    assert page.evaluate(f"{chat}.sessionId") == session_id
    assert len(page.evaluate(f"{chat}.messages")) == count
    assert "SESSION_START" not in page.evaluate(f"{chat}.types")

    # Handoff: the place in the queue, then the human's name, typing both ways.
    page.fill("#text", "can I talk to a real person please")
    page.press("#text", "Enter")
    page.wait_for_selector('#status:has-text("You\'re number 1 in line")')
    watch.screenshot("queue")
    assert server.call(svc.queues.accept(human, session_id)) is not None
    page.wait_for_selector("#title:has-text('Ann')")
    assert "Ann joined the chat" in page.inner_text("#messages")
    assert page.locator("#status").is_hidden()
    server.call(svc.live_typing(human, session_id, True))
    page.wait_for_selector("#typing:has-text('Ann is typing')")
    typed = asyncio.run_coroutine_threadsafe(next_event(svc, live_topic(session_id)), server.loop)
    page.wait_for_timeout(100)  # subscribed
    page.locator("#text").press_sequentially("Sure", delay=20)
    assert typed.result(10).payload == {"state": "TYPING_STATE_STARTED"}
    page.fill("#text", "")
    server.call(svc.live_message(human, session_id, "Hi, I'm Ann. Shall I book?", ["Yes please"]))
    page.wait_for_selector("#typing", state="hidden")
    page.click("button.suggestion:has-text('Yes please')")
    watch.wait(
        f"() => {chat}.messages.at(-1).text === 'Yes please' && !{chat}.messages.at(-1).pending"
    )
    watch.screenshot("live")
    server.call(svc.live_end(human, session_id))
    watch.wait(f"() => {chat}.state === 'ended'")
    page.wait_for_selector("#ended", state="visible")
    assert "Ann left the chat" in page.inner_text("#messages")
    assert page.evaluate("localStorage.length") == 0
    watch.screenshot("ended")

    # A new chat: a new session and a new greeting; the visitor ends it.
    page.click("#restart")
    watch.wait(f"() => {chat}.sessionId !== '{session_id}' && {chat}.messages.length === 1")
    page.click("#end")
    watch.wait(f"() => {chat}.state === 'ended'")


async def next_event(svc: MessagingService, topic: str) -> ServerEvent:
    with svc.hub.subscribe(topic) as sub:
        async with asyncio.timeout(10):
            return await sub.queue.get()
