"""What a call reports besides the server's own events (:mod:`voxgate.events`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected:
    """A socket is open and the session takes audio (after ``ready`` in Datagrid)."""

    session_id: str
    call_id: str
    """The call (Atoms) or conversation (Datagrid) id."""
    input_rate: int
    output_rate: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnecting:
    """The connection was lost; the next attempt starts in ``delay_s``."""

    attempt: int
    delay_s: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected:
    """Connected again. In Datagrid the same conversation goes on; an Atoms reconnect is a
    new call (``call_id`` differs), as that protocol cannot resume one."""

    attempt: int
    session_id: str
    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """The call cannot go on: the server refused (``code``: close code or HTTP status) or
    reconnecting was given up. No more attempts are made."""

    reason: str
    code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFlushed:
    """Agent audio not yet played was dropped (on ``interruption`` or pause)."""

    dropped_ms: float
    played_ms: float
    """All agent audio played in this call so far."""


ClientSideEvent = Connected | Reconnecting | Reconnected | Failed | PlaybackFlushed
