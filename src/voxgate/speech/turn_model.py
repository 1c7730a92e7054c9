"""Smart Turn v3.2 (Daily, BSD-2-Clause): P(the user's turn is complete) from the last 8 s.

The model reads the audio itself (intonation, pace, the shape of the last words), so it can
end a turn after a short pause when the sentence sounds finished and hold on when it trails
off ("I'd like to book a table for"). It is right about 80 % of the time: use it as an
asymmetric gate. Call :meth:`SmartTurn.predict` once, when VAD has seen a short pause; a
high probability ends the turn early, anything else waits for the ordinary, longer silence
timeout. Never keep re-asking as the silence grows: fed more than ~200 ms of trailing
silence, the model calls fragments complete (it was trained on speech cut shortly after the
last word). Silero's speech probability falls 40-110 ms after the voice stops, so pass the
audio up to the end of the last VAD speech frame plus ~80 ms, not everything up to now.
Only ask after the user has spoken: a window of pure silence scores ~0.99.

Cost, measured on this project's 2-core Xeon (2.8 GHz) test VM with other jobs running:
features 5-7 ms, ONNX 56-60 ms with one intra-op thread, so 62-68 ms a call; two calls
from two worker threads ran at ~49 ms a call. Two intra-op threads made a lone call
faster (~35-40 ms) but cost throughput, so sessions use one thread and callers run calls
in parallel from a worker pool. The model file ships inside the package
(``voxgate/speech/models/``, see ``SMART_TURN_LICENSE.txt``).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from voxgate.audio.mel import SAMPLE_RATE, whisper_log_mel
from voxgate.errors import ConfigError

MODEL_NAME = "smart-turn-v3.2-cpu.onnx"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
WINDOW_SECONDS = 8
WINDOW_SAMPLES = WINDOW_SECONDS * SAMPLE_RATE
N_FRAMES = 800
_INPUT_NAME = "input_features"


def verify_model_file(path: str | Path | None = None) -> bytes:
    """Read the model file (the packaged one by default) and check its SHA-256.

    Returns the file's bytes, ready for ``onnxruntime.InferenceSession``. Raises
    :class:`~voxgate.errors.ConfigError` when the file is missing, unreadable or not the
    expected Smart Turn v3.2 build (a corrupted install or a swapped file: refuse to start).
    """
    try:
        if path is None:
            data = resources.files("voxgate.speech.models").joinpath(MODEL_NAME).read_bytes()
        else:
            data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the Smart Turn model {MODEL_NAME}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        where = path if path is not None else f"voxgate/speech/models/{MODEL_NAME}"
        raise ConfigError(
            f"Smart Turn model {where} has sha256 {digest}, expected {MODEL_SHA256}; "
            "reinstall voxgate"
        )
    return data


class SmartTurn:
    """The end-of-turn model, loaded once per process and shared by every conversation.

    Loading takes ~0.1 s (checksum included); run it in a thread if the event loop is up.
    :meth:`predict` is thread-safe (onnxruntime sessions allow concurrent ``run`` calls and
    the features are computed without shared state) and blocking: call it from the speech
    worker pool, never on the event loop. Raises :class:`~voxgate.errors.ConfigError` if the
    model file fails :func:`verify_model_file`.
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        model = verify_model_file(model_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def predict(self, samples16k: npt.NDArray[np.floating]) -> float:
        """P(turn complete) in [0, 1] for the end of ``samples16k``.

        ``samples16k``: mono float audio at 16 kHz in [-1, 1], ending now; only the last
        8 s are used and shorter audio is left zero-padded. Include the user's whole turn
        if it fits, and only ~150 ms (at most 200 ms) of silence after the last word. Raises
        ``ValueError``/``TypeError`` for audio that is not a 1-D floating array.
        """
        features = whisper_log_mel(samples16k, N_FRAMES)[np.newaxis]
        (probability,) = self._session.run(None, {_INPUT_NAME: features})
        return float(np.asarray(probability).reshape(-1)[0])

    def warm(self) -> None:
        """Run once on silence so the first real call is not slower."""
        self.predict(np.zeros(SAMPLE_RATE, dtype=np.float32))
