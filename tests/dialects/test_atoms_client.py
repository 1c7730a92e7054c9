"""The Atoms dialect's client side against its server side: what a client encodes, the
server decodes to the same thing, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voxgate.dialects import atoms
from voxgate.errors import SetupError
from voxgate.events import (
    AgentAudio,
    AgentTalking,
    AudioIn,
    ClientEvent,
    CloseRequested,
    Error,
    Interruption,
    PauseRequested,
    ResumeRequested,
    ServerEvent,
    SessionEnded,
    SessionStarted,
    TextIn,
    Transcript,
    TranscriptDelta,
)


def test_connect_query_round_trips_through_the_server_parser() -> None:
    query = atoms.connect_query(
        mode="chat",
        sample_rate=16000,
        agent_id="demo",
        variables={"name": "Ada", "vip": True, "visits": 3},
        token="vg_x",
    )
    assert query["token"] == "vg_x"
    assert atoms.parse_connect_params(query) == atoms.ConnectParams(
        agent_id="demo",
        mode="chat",
        sample_rate=16000,
        variables={"name": "Ada", "vip": True, "visits": 3},
    )


def test_connect_query_defaults_and_header_token() -> None:
    query = atoms.connect_query()
    assert query == {"mode": "webcall", "sample_rate": str(atoms.DEFAULT_SAMPLE_RATE)}
    assert atoms.parse_connect_params(query) == atoms.ConnectParams(
        agent_id=None, mode="webcall", sample_rate=atoms.DEFAULT_SAMPLE_RATE, variables={}
    )


def test_connect_query_does_not_check_what_the_server_refuses() -> None:
    query = atoms.connect_query(mode="video", sample_rate=44100)
    with pytest.raises(SetupError):
        atoms.parse_connect_params(query)


@pytest.mark.parametrize(
    "event",
    [
        AudioIn(pcm=b"\x01\x00\xff\x7f"),
        TextIn(text="When are you open? ünïcode"),
        CloseRequested(),
        PauseRequested(),
        ResumeRequested(),
    ],
)
def test_client_events_round_trip(event: ClientEvent) -> None:
    assert atoms.decode(atoms.encode_client(event)) == [event]


@pytest.mark.parametrize(
    "event",
    [
        SessionStarted(session_id="sess_1", call_id="call_1", sample_rate=24000, channels=1),
        AgentAudio(pcm=b"\x00\x01\x02\x03"),
        TranscriptDelta(role="assistant", text="We open"),
        Transcript(role="user", text="When are you open?"),
        AgentTalking(talking=True, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        Interruption(),
        SessionEnded(reason="client_requested"),
        Error(code="4401", message="invalid or revoked API key"),
    ],
)
def test_server_events_round_trip(event: ServerEvent) -> None:
    (frame,) = atoms.encode(event)
    assert atoms.decode_server(frame) == event
