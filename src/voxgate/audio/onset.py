"""Sound onset: which VAD frames are loud enough to be the start of speech.

Silero is late on some word onsets: a fricative ("Sunday") is not speech to it until the
vowel, 200 ms in. The turn detector may date a turn's start back to where the sound began,
if the frames before the first speech frame were loud: well above the tracked noise floor
and not the agent's own echo (the echo canceller took little out of them).

Pure: numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from voxgate.audio.pcm import Float32Array

MIN_LEVEL_DB = -55.0
"""A frame quieter than this (dBFS) is never an onset."""
ABOVE_FLOOR_DB = 12.0
"""How far above the noise floor a frame must be."""
MAX_CANCELLED_DB = 3.0
"""A frame the echo canceller attenuated by more than this is echo, not the user."""
FLOOR_RISE_DB = 0.5
"""How fast (dB per frame) the floor follows a louder background."""


def level_db(frame: Float32Array) -> float:
    """RMS level of a float32 frame in dBFS (-120 for digital silence)."""
    mean_square = float(np.dot(frame, frame)) / max(1, frame.size)
    return 10.0 * math.log10(mean_square) if mean_square > 1e-12 else -120.0


class OnsetGate:
    """Feed every VAD frame (before and after echo cancellation) with :meth:`loud`."""

    __slots__ = ("floor_db",)

    def __init__(self) -> None:
        self.floor_db: float | None = None

    def loud(self, heard: Float32Array, residual: Float32Array | None = None) -> bool:
        """Whether this frame may be the user starting to speak. ``heard`` is the
        microphone frame, ``residual`` the same frame with the echo removed (if any)."""
        mic = level_db(heard)
        # Without echo to cancel, the engine passes the same frame twice: measure it once.
        level = mic if residual is None or residual is heard else level_db(residual)
        floor = level if self.floor_db is None else self.floor_db
        loud = (
            level >= MIN_LEVEL_DB
            and level >= floor + ABOVE_FLOOR_DB
            and mic - level <= MAX_CANCELLED_DB
        )
        # Minimum tracking: drops at once to a quieter frame, rises slowly.
        self.floor_db = min(level, floor + FLOOR_RISE_DB)
        return loud
