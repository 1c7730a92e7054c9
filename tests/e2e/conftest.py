"""A real voxgate server on a real socket, with the real speech models, for e2e tests.

The server runs its own event loop in a thread (as it would in its own process); tests
talk to it over loopback with the SDK client. Models load once per test session.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import uvicorn
from pydantic import SecretStr

from voxgate.agents.embeddings import Embedder
from voxgate.audio.pcm import Int16Array
from voxgate.audio.wav import read_wav
from voxgate.config import Settings
from voxgate.server.app import create_app
from voxgate.server.state import ServerState
from voxgate.speech.services import SpeechServices

T = TypeVar("T")
SPEECH_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"
AGENTS_DIR = Path(__file__).parent / "agents"
DEV_KEY = "vg_test_dev_key_0123456789abcdef"


@dataclass
class Utterance:
    name: str
    samples: Int16Array
    rate: int
    text: str


def load_speech() -> list[Utterance]:
    lines = (SPEECH_DIR / "transcripts.tsv").read_text().splitlines()[1:]
    out = []
    for line in lines:
        name, text = line.split("\t")
        samples, rate = read_wav(SPEECH_DIR / name)
        out.append(Utterance(name, samples, rate, text))
    return out


@pytest.fixture(scope="session")
def speech() -> list[Utterance]:
    return load_speech()


@pytest.fixture(scope="session")
def speech_services() -> Iterator[SpeechServices]:
    services = SpeechServices.load(threads=2)
    yield services
    services.close()


@pytest.fixture(scope="session")
def embedder() -> Iterator[Embedder]:
    with Embedder() as loaded:
        yield loaded


@dataclass
class RunningServer:
    """A server in a thread. ``call`` runs a coroutine on the server's loop."""

    http_url: str
    ws_url: str
    state: ServerState
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server
    thread: threading.Thread
    dev_key: str = DEV_KEY

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(
    settings: Settings,
    services: SpeechServices | None,
    *,
    embedder: Embedder | None = None,
    load_models: bool = True,
) -> RunningServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ready: dict[str, Any] = {}
    started = threading.Event()

    def on_ready(state: ServerState) -> None:
        ready["state"] = state
        ready["loop"] = asyncio.get_running_loop()

    app = create_app(
        settings, services=services, embedder=embedder, load_models=load_models, on_ready=on_ready
    )
    config = uvicorn.Config(
        app,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))
        started.set()

    thread = threading.Thread(target=run, name="voxgate-test-server", daemon=True)
    thread.start()
    for _ in range(600):
        if server.started or started.is_set():
            break
        threading.Event().wait(0.05)
    if not server.started:
        raise RuntimeError("test server did not start")
    return RunningServer(
        http_url=f"http://127.0.0.1:{port}",
        ws_url=f"ws://127.0.0.1:{port}",
        state=ready["state"],
        loop=ready["loop"],
        server=server,
        thread=thread,
    )


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp,
        "agents_dir": AGENTS_DIR,
        "dev_api_key": SecretStr(DEV_KEY),
        "inference_threads": 2,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def server(
    speech_services: SpeechServices, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    running = start_server(
        make_settings(tmp_path_factory.mktemp("server")), speech_services, embedder=embedder
    )
    yield running
    running.stop()


def silence(rate: int, ms: float) -> Int16Array:
    return np.zeros(int(rate * ms / 1000), dtype=np.int16)
