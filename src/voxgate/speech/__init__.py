"""Embedded speech models (VAD, STT, TTS): loaded once per process, shared by all calls."""

from voxgate.speech.services import SpeechServices

__all__ = ["SpeechServices"]
