"""The browser client in real headless Chromium (Debian's ``chromium``, driven by
Playwright) against a real server: Chromium's fake microphone plays a recorded sentence,
the page's transcript shows the words, the agent's reply is played (the page counts the
samples it played), and a screenshot lands in ``test-artifacts/``.

Chromium comes from ``make test`` (apt-get, as root). Without it, or without Playwright,
the test skips; with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voxgate.audio.resample import resample
from voxgate.audio.wav import write_wav
from voxgate.speech.services import SpeechServices

from .conftest import RunningServer, Utterance
from .helpers import word_errors

pytestmark = [pytest.mark.e2e, pytest.mark.models]

CHROMIUM = Path(os.environ.get("VOXGATE_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(
    os.environ.get("VOXGATE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)
FAKE_RATE = 48000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def fake_microphone(speech: list[Utterance], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ "drop the two when you add the figures" between silences, as a 48 kHz WAV for
    Chromium's fake capture device (which loops it: the silence after leaves the agent
    time to answer before the sentence comes again)."""
    u = next(u for u in speech if u.name == "spk1_snt2.wav")
    voice = resample(u.samples, u.rate, FAKE_RATE)
    quiet = np.zeros(int(FAKE_RATE * 1.5), dtype=np.int16)
    tail = np.zeros(FAKE_RATE * 8, dtype=np.int16)
    path = tmp_path_factory.mktemp("browser") / "speech.wav"
    write_wav(path, np.concatenate([quiet, voice, tail]), FAKE_RATE)
    return path


@pytest.fixture(scope="module")
def browser(fake_microphone: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={fake_microphone}",
                "--autoplay-policy=no-user-gesture-required",
                "--no-sandbox",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def reply_samples(speech_services: SpeechServices) -> int:
    """Samples of the quick agent's spoken reply at 48 kHz."""
    audio = speech_services.tts.synthesize("Got it.")
    return int(len(audio) * FAKE_RATE / speech_services.tts.sample_rate)


@dataclass
class Session:
    page: Any
    problems: list[str]
    """Script errors, console errors and failed requests (but the expected first 401)."""

    def wait(self, predicate: str, timeout: float = 10.0) -> None:
        """Wait for a JavaScript arrow function to be true (strings the page evaluated
        itself would be refused by its Content-Security-Policy)."""
        self.page.wait_for_function(predicate, timeout=timeout * 1000)

    def hook(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate("window.voxgateTest")
        return state


@contextlib.contextmanager
def logged_in(browser: Any, server: RunningServer, name: str) -> Iterator[Session]:
    """A fresh browser context, logged in with the dev key; screenshots on failure."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1180, "height": 820})
    page = context.new_page()
    session = Session(page, [])
    page.on("pageerror", lambda error: session.problems.append(f"page error: {error}"))

    def on_console(msg: Any) -> None:
        # Failed requests are logged as console errors too: checked below, one by one.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            session.problems.append(f"console: {msg.text}")

    def on_response(response: Any) -> None:
        first_check = response.url.endswith("/web/session") and response.request.method == "GET"
        if response.status >= 400 and not (first_check and response.status == 401):
            session.problems.append(f"{response.request.method} {response.url}: {response.status}")

    page.on("console", on_console)
    page.on("response", on_response)
    try:
        page.goto(server.http_url)
        session.wait("() => window.voxgateTest.state === 'login'")
        page.fill("#api-key", server.dev_key)
        page.click("#login-form button[type=submit]")
        session.wait("() => window.voxgateTest.state === 'ready'")
        assert page.input_value("#api-key") == ""
        assert server.dev_key not in page.content()
        assert page.evaluate("document.cookie") == ""  # HttpOnly: out of the page's reach
        yield session
        assert not session.problems, session.problems
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{name}-failed.png"), full_page=True)
        print(f"\npage problems: {session.problems}")
        raise
    finally:
        context.close()


def test_talk_to_an_agent_in_chromium(
    browser: Any, server: RunningServer, speech: list[Utterance], reply_samples: int
) -> None:
    expected = next(u.text for u in speech if u.name == "spk1_snt2.wav")
    started = time.monotonic()
    with logged_in(browser, server, "browser-call") as session:
        page = session.page
        page.select_option("#agent", "quick")
        page.click("#talk")
        session.wait("() => voxgateTest.transcript.some(e => e.role === 'user' && e.final)", 30)
        # The reply: its final transcript, then all of its audio played out.
        session.wait(
            "() => voxgateTest.transcript.some(e => e.role === 'assistant' && e.final)"
            " && voxgateTest.latencies.length > 0 && voxgateTest.state === 'listening'",
            20,
        )
        hook = session.hook()

        user = next(e for e in hook["transcript"] if e["role"] == "user")
        assert word_errors(user["text"], expected) <= 2, (user["text"], expected)
        assert user["text"] in page.inner_text("#transcript")
        agent = next(e for e in hook["transcript"] if e["role"] == "assistant")
        assert agent["text"] == "Got it."
        assert hook["sampleRate"] in (24000, 48000)
        played = hook["playedSamples"] * FAKE_RATE / hook["sampleRate"]
        assert played >= 0.9 * reply_samples, (hook["playedSamples"], reply_samples)
        row = hook["latencies"][0]
        assert 0 < row["transcriptToAudioMs"] < 5000, row
        assert row["voiceToVoiceMs"] > row["transcriptToAudioMs"], row
        assert page.locator("#latency tr").count() == 1

        # A typed turn: the same agent answers it aloud.
        page.fill("#say", "hello there")
        page.press("#say", "Enter")
        session.wait("() => voxgateTest.latencies.length === 2", 10)
        typed = session.hook()["latencies"][1]
        assert typed["typed"] and typed["voiceToVoiceMs"] is None, typed
        assert "hello there" in page.inner_text("#transcript")
        session.wait("() => voxgateTest.state === 'listening'", 5)
        screenshot = ARTIFACTS / "browser-call.png"
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"\nscreenshot: {screenshot}\nlatencies: {session.hook()['latencies']}")

        page.click("#talk")  # hang up: session.close
        session.wait("() => voxgateTest.state === 'ended'", 5)
        assert "session.closed" in session.hook()["events"]
    assert time.monotonic() - started < 60


def test_barge_in_flushes_playback(browser: Any, server: RunningServer) -> None:
    """The talker agent greets at length; the fake microphone talks over it: the page
    stops playing at once on ``interruption``."""
    with logged_in(browser, server, "browser-barge-in") as session:
        session.page.select_option("#agent", "talker")
        session.page.click("#talk")
        session.wait("() => voxgateTest.events.includes('interruption')", 20)
        at_interruption = session.hook()["playedSamples"]
        time.sleep(1.0)
        hook = session.hook()
        rate = hook["sampleRate"]
        assert at_interruption > 0.5 * rate  # the greeting was heard for a while
        # What the worklet had played but not yet reported (<= 50 ms), nothing more.
        assert hook["playedSamples"] - at_interruption < 0.1 * rate, hook["playedSamples"]
        greeting = next(e for e in hook["transcript"] if e["role"] == "assistant")
        assert greeting["interrupted"]
        session.page.screenshot(path=str(ARTIFACTS / "browser-barge-in.png"), full_page=True)
        session.page.click("#talk")
        session.wait("() => voxgateTest.state === 'ended'", 5)
