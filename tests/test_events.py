"""voxgate.events: validated, frozen, keyword-only, slotted events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from voxgate.events import (
    AgentAudio,
    AgentTalking,
    AudioIn,
    CloseRequested,
    Error,
    Event,
    Ignored,
    Interruption,
    SessionEnded,
    SessionStarted,
    TextIn,
    ToolCallStatus,
    Transcript,
    TranscriptDelta,
    UserSpeechStarted,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)

ALL_EVENTS: list[Event] = [
    AudioIn(pcm=b"\x00\x00"),
    TextIn(text="hi"),
    CloseRequested(),
    Ignored(type="session.update"),
    SessionStarted(session_id="s", call_id="c", sample_rate=24000),
    AgentAudio(pcm=b"\x00\x00"),
    TranscriptDelta(role="assistant", text="Hel"),
    Transcript(role="user", text="Hello"),
    UserSpeechStarted(at=AT),
    AgentTalking(talking=True, at=AT),
    Interruption(),
    ToolCallStatus(tool_name="lookup", status="started"),
    SessionEnded(reason="client_requested"),
    Error(code="invalid_event", message="bad"),
]


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_empty_text_in_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        TextIn(text=text)


def test_text_in_keeps_surrounding_whitespace() -> None:
    assert TextIn(text=" hi ").text == " hi "


@pytest.mark.parametrize("cls", [TranscriptDelta, Transcript])
@pytest.mark.parametrize("role", ["bot", "system", "User", ""])
def test_bad_role_is_rejected(cls: type[Any], role: str) -> None:
    with pytest.raises(ValueError, match="bad role"):
        cls(role=role, text="x")


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_roles(role: Any) -> None:
    assert TranscriptDelta(role=role, text="").role == role
    assert Transcript(role=role, text="x").interrupted is False


def test_defaults() -> None:
    assert SessionStarted(session_id="s", call_id="c", sample_rate=8000).channels == 1


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_events_are_frozen(event: Event) -> None:
    fields = dataclasses.fields(event)
    name = fields[0].name if fields else "anything"
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        setattr(event, name, None)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_events_are_slotted_hashable_and_equal_by_value(event: Event) -> None:
    assert not hasattr(event, "__dict__")
    copy = dataclasses.replace(event)
    assert copy == event
    assert hash(copy) == hash(event)


def test_events_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        TextIn("hi")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Error("code", "message")  # type: ignore[misc]


def test_replace_revalidates() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        dataclasses.replace(TextIn(text="hi"), text="")
