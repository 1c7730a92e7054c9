"""voxgate.messaging.states: the session states and their transition table (pure)."""

from __future__ import annotations

import itertools

import pytest

from voxgate.messaging.states import TRANSITIONS, IllegalTransition, SessionState, transition


def test_the_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(SessionState)
    assert TRANSITIONS[SessionState.ENDED] == frozenset()


@pytest.mark.parametrize(("start", "to"), list(itertools.product(SessionState, repeat=2)))
def test_every_move_is_allowed_or_refused_by_the_table(
    start: SessionState, to: SessionState
) -> None:
    if to in TRANSITIONS[start]:
        assert transition(start.value, to) is to
    else:
        with pytest.raises(IllegalTransition):
            transition(start.value, to)


def test_the_documented_paths() -> None:
    path = [SessionState.QUEUED, SessionState.LIVE, SessionState.ENDED]
    current = SessionState.AGENT
    for to in path:
        current = transition(current, to)
    assert transition(transition("agent", SessionState.QUEUED), SessionState.AGENT) == "agent"
    with pytest.raises(IllegalTransition):
        transition("live", SessionState.AGENT)  # a human never hands back


def test_unknown_state_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="not a session state"):
        transition("paused", SessionState.ENDED)
