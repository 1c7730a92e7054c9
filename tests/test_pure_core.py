"""The import rule of the pure core: no event loop, sockets, HTTP, storage or clock.

Events, errors, dialects, audio and the turn/transcript models must stay fuzzable and
unit-testable: time is passed in, never read. See DESIGN.md, "Pure core".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "voxgate"
PURE_FILES = [
    "events.py",
    "errors.py",
    "conversation/turns.py",
    "conversation/transcript.py",
    "agents/passages.py",
    "conversation/listen.py",
    "conversation/spec.py",
    "speech/base.py",
    "messaging/states.py",
]
PURE_DIRS = ["dialects", "audio", "agents/slots"]

FORBIDDEN_MODULES = frozenset(
    {
        "asyncio",
        "socket",
        "websockets",
        "fastapi",
        "starlette",
        "uvicorn",
        "httpx",
        "sqlalchemy",
        "time",
    }
)
CLOCK_METHODS = frozenset({"now", "utcnow", "today"})
TIME_FUNCTIONS = frozenset(
    {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"}
)


def pure_modules() -> list[Path]:
    paths = [PACKAGE / name for name in PURE_FILES]
    for folder in PURE_DIRS:
        paths.extend(sorted((PACKAGE / folder).rglob("*.py")))
    return paths


def violations(source: str) -> list[str]:
    """What in ``source`` breaks the rule, as ``line: reason`` strings."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{node.lineno}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module is not None:
                if node.module.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{node.lineno}: imports from {node.module}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr in CLOCK_METHODS:
                found.append(f"{node.lineno}: reads the clock with .{attr}()")
            elif (
                attr in TIME_FUNCTIONS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "time"
            ):
                found.append(f"{node.lineno}: reads the clock with time.{attr}()")
    return found


def test_the_pure_core_exists() -> None:
    """Guard against a rename silently emptying the rule."""
    modules = pure_modules()
    for path in modules:
        assert path.is_file(), path
    names = {p.relative_to(PACKAGE).as_posix() for p in modules}
    assert {
        "dialects/atoms.py",
        "dialects/console.py",
        "dialects/messaging.py",
        "messaging/states.py",
        "audio/pcm.py",
        "audio/resample.py",
        "audio/wav.py",
    } <= names
    assert {"agents/slots/__init__.py", "agents/slots/scanning.py"} <= names


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_pure_module_follows_the_import_rule(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "import time",
        "import time as t",
        "from time import monotonic",
        "import socket",
        "import websockets.asyncio.client",
        "from fastapi import FastAPI",
        "from starlette.websockets import WebSocket",
        "import uvicorn",
        "import httpx",
        "from sqlalchemy.ext.asyncio import AsyncSession",
        "def f():\n    import asyncio",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "x = time.monotonic()",
        "x = time.time()",
        "x = time.perf_counter()",
    ],
)
def test_the_checker_catches_violations(source: str) -> None:
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime, timezone\nx = datetime.fromisoformat('2026-01-01')",
        "import numpy as np",
        "from . import time",
        "from voxgate.events import AudioIn",
        "x = playback.played_ms(now_ms)",
        "import timeit_helpers",
    ],
)
def test_the_checker_allows_pure_code(source: str) -> None:
    assert violations(source) == []
