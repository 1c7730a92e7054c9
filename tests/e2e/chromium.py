"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright's sync
API, screenshots into ``test-artifacts/``, and a page watcher that collects script
errors, console errors and failed requests.

Without Chromium or Playwright the tests skip; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

CHROMIUM = Path(os.environ.get("VOXGATE_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(
    os.environ.get("VOXGATE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``) with extra command-line ``args``."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", *args]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    page: Any
    name: str
    problems: list[str] = field(default_factory=list)
    """Script errors, console errors and failed requests (but those ``expected``)."""

    def wait(self, predicate: str, timeout: float = 10.0) -> None:
        """Wait for a JavaScript arrow function to be true (a string the page evaluated
        itself would be refused by its Content-Security-Policy)."""
        self.page.wait_for_function(predicate, timeout=timeout * 1000)

    def screenshot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextlib.contextmanager
def watched_page(
    browser: Any,
    name: str,
    *,
    expected: Callable[[Any], bool] = lambda _response: False,
    viewport: tuple[int, int] = (1280, 820),
) -> Iterator[Watched]:
    """A page in a fresh browser context; fails the test on page problems, and saves
    ``<name>-failed.png`` when the test fails."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    watched = Watched(page, name)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))

    def on_console(msg: Any) -> None:
        # Failed requests are logged as console errors too: checked below, one by one.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            watched.problems.append(f"console: {msg.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400 and not expected(response):
            watched.problems.append(f"{response.request.method} {response.url}: {response.status}")

    page.on("console", on_console)
    page.on("response", on_response)
    try:
        yield watched
        assert not watched.problems, watched.problems
    except BaseException:
        with contextlib.suppress(Exception):
            watched.screenshot("failed")
        print(f"\npage problems: {watched.problems}")
        raise
    finally:
        context.close()


class LoopThread:
    """An event loop in a thread, for async clients next to Playwright's sync API."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
