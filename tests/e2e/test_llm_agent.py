"""The llm brain end to end: a voice client, voxgate, and a REAL OpenAI-compatible server
(llama.cpp with SmolLM2-135M). Its answers are poor; the plumbing is what is tested."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from voxgate.agents.embeddings import Embedder
from voxgate.audio.pcm import rms_dbfs
from voxgate.client import AtomsClient, talk
from voxgate.speech.services import SpeechServices

from ..conftest import _free_port
from .conftest import RunningServer, Utterance, make_settings, start_server
from .test_atoms_voice import _conversation

pytestmark = [pytest.mark.e2e, pytest.mark.models]
APOLOGY = "Sorry, my thoughts are elsewhere. Please call again shortly."


class _Hours(BaseHTTPRequestHandler):
    """A real HTTP service behind a webhook tool; it records what it was asked."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hours.calls.append(body)
        payload = json.dumps({"day": body.get("day"), "hours": "noon to ten pm"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hours_service() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hours)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hours"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def llm_server(
    llama_server: str,
    hours_service: str,
    speech_services: SpeechServices,
    embedder: Embedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    agents = tmp_path_factory.mktemp("llm-agents")
    llm = {"base_url": llama_server, "model": "smollm2", "max_tokens": 40, "temperature": 0}
    (agents / "llm-bot.yaml").write_text(
        json.dumps(
            {
                "id": "llm-bot",
                "brain": "llm",
                "system_prompt": "You are a friendly receptionist. Answer in one sentence.",
                "llm": llm,
            }
        )
    )
    (agents / "llm-tools.yaml").write_text(
        json.dumps(
            {
                "id": "llm-tools",
                "brain": "llm",
                "system_prompt": "You answer questions about opening hours.",
                "tools": [
                    {
                        "name": "opening_hours",
                        "description": "The opening hours of the restaurant on a given day.",
                        "url": hours_service,
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "day": {"type": "string", "enum": ["saturday", "sunday"]}
                            },
                            "required": ["day"],
                        },
                    }
                ],
                "llm": {
                    **llm,
                    "tool_choice": "opening_hours",
                    "max_tool_rounds": 1,
                    "tool_results_as": "user",
                },
            }
        )
    )
    (agents / "llm-down.yaml").write_text(
        json.dumps(
            {
                "id": "llm-down",
                "brain": "llm",
                "llm": {
                    "base_url": f"http://127.0.0.1:{_free_port()}/v1",
                    "model": "none",
                    "retries": 1,
                    "apology": APOLOGY,
                },
            }
        )
    )
    settings = make_settings(tmp_path_factory.mktemp("llm"), agents_dir=agents)
    running = start_server(settings, speech_services, embedder=embedder)
    yield running
    running.stop()


async def _talk(server: RunningServer, agent: str, u: Utterance) -> tuple[str, bytes, str]:
    client = await AtomsClient.connect(
        server.ws_url, token=server.dev_key, agent_id=agent, sample_rate=16000
    )
    try:
        result = await talk(client, u.samples, u.rate, timeout=60)
        await client.close_session()
    finally:
        await client.close()
    return result.agent_text, bytes(result.agent_audio), client.session["call_id"]


async def test_streamed_reply_is_spoken(llm_server: RunningServer, speech: list[Utterance]) -> None:
    text, audio, call_id = await _talk(llm_server, "llm-bot", speech[4])
    assert text.strip() and text != APOLOGY
    assert len(audio) > 2 * 16000 * 0.3 and rms_dbfs(_array(audio)) > -35
    record = await _conversation(llm_server, call_id)
    assistant = record["transcript"][-1]
    assert assistant["role"] == "assistant" and assistant["latency"]["agent_first_text_ms"]


async def test_forced_tool_call_runs_and_its_result_goes_back(
    llm_server: RunningServer, speech: list[Utterance]
) -> None:
    _Hours.calls.clear()
    text, audio, call_id = await _talk(llm_server, "llm-tools", speech[4])
    assert _Hours.calls and _Hours.calls[0]["day"] in ("saturday", "sunday")
    record = await _conversation(llm_server, call_id)
    (call,) = record["tool_calls"]
    assert call["name"] == "opening_hours" and call["status"] == "completed"
    assert call["result"]["hours"] == "noon to ten pm"
    assert text.strip() and len(audio) > 0  # the answer after the tool round was spoken


async def test_endpoint_down_apologises_aloud(
    llm_server: RunningServer, speech: list[Utterance], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="voxgate.agents.llm")
    text, audio, _call_id = await _talk(llm_server, "llm-down", speech[0])
    assert text == APOLOGY
    assert rms_dbfs(_array(audio)) > -35
    assert any(r.levelno == logging.ERROR for r in caplog.records), caplog.text


def _array(audio: bytes) -> Any:
    import numpy as np

    return np.frombuffer(audio, dtype="<i2")
