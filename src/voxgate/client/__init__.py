"""Python client SDK for voxgate (and servers of the same wire protocols).

:class:`VoiceClient` is the one to use: a voice call in the Atoms or Datagrid dialect with
reconnects, a playback jitter buffer, capture resampling, half-duplex and pause/resume.
:class:`MessagingClient` holds a text conversation over the messaging API.
:class:`AtomsClient` is the bare Atoms socket (benchmarks and protocol tests use it).
"""

from voxgate.client.atoms import AtomsClient, AtomsConnectError, TalkResult, talk
from voxgate.client.backoff import NO_RECONNECT, ReconnectPolicy, is_transient
from voxgate.client.events import (
    ClientSideEvent,
    Connected,
    Failed,
    PlaybackFlushed,
    Reconnected,
    Reconnecting,
)
from voxgate.client.media import (
    ArraySink,
    ArraySource,
    AudioDeviceError,
    AudioSink,
    AudioSource,
    IteratorSource,
    Microphone,
    NullSink,
    PacedSink,
    Speaker,
    WavSink,
    WavSource,
)
from voxgate.client.messaging import ChatMessage, MessagingClient, MessagingError
from voxgate.client.playback import CaptureResampler, JitterBuffer
from voxgate.client.voice import CallEvent, VoiceClient, VoiceConnectError

__all__ = [
    "NO_RECONNECT",
    "ArraySink",
    "ArraySource",
    "AtomsClient",
    "AtomsConnectError",
    "AudioDeviceError",
    "AudioSink",
    "AudioSource",
    "CallEvent",
    "CaptureResampler",
    "ChatMessage",
    "ClientSideEvent",
    "Connected",
    "Failed",
    "IteratorSource",
    "JitterBuffer",
    "MessagingClient",
    "MessagingError",
    "Microphone",
    "NullSink",
    "PacedSink",
    "PlaybackFlushed",
    "ReconnectPolicy",
    "Reconnected",
    "Reconnecting",
    "Speaker",
    "TalkResult",
    "VoiceClient",
    "VoiceConnectError",
    "WavSink",
    "WavSource",
    "is_transient",
    "talk",
]
