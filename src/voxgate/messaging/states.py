"""The states of a messaging session and the moves between them. Pure.

::

    agent ──handoff accepted──> queued ──a human takes it──> live
      ^                           │
      └──────timed out────────────┘
    agent, queued, live ──ended──> ended

A handoff that fails (nobody signed in) never leaves ``agent``. Whoever keeps the state
(the store today, Redis queues next) changes it only through :func:`transition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class SessionState(StrEnum):
    """Who answers the user; the values are what the store keeps."""

    AGENT = "agent"
    """The virtual agent answers (the state a session starts in)."""
    QUEUED = "queued"
    """Waiting in a handoff queue for a human."""
    LIVE = "live"
    """A human (a console user) answers."""
    ENDED = "ended"


TRANSITIONS: Mapping[SessionState, frozenset[SessionState]] = {
    SessionState.AGENT: frozenset({SessionState.QUEUED, SessionState.ENDED}),
    SessionState.QUEUED: frozenset({SessionState.AGENT, SessionState.LIVE, SessionState.ENDED}),
    SessionState.LIVE: frozenset({SessionState.ENDED}),
    SessionState.ENDED: frozenset(),
}


class IllegalTransition(ValueError):
    """A move :data:`TRANSITIONS` does not allow (a bug in the caller, not the peer)."""


def transition(current: str, to: SessionState) -> SessionState:
    """``to``, when a session in state ``current`` may move there. Raises
    :class:`IllegalTransition` otherwise (also for a ``current`` that is no state)."""
    try:
        start = SessionState(current)
    except ValueError:
        raise IllegalTransition(f"{current!r} is not a session state") from None
    if to not in TRANSITIONS[start]:
        raise IllegalTransition(f"a session cannot go from {start} to {to}")
    return to
