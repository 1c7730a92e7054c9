"""voxgate.client.backoff: when to reconnect and how long to wait."""

from __future__ import annotations

import random

import pytest

from voxgate.client.backoff import ReconnectPolicy, is_transient


@pytest.mark.parametrize(
    ("close_code", "http_status", "transient"),
    [
        (None, None, True),  # network error, no handshake
        (1006, None, True),
        (1011, None, True),
        (1012, None, True),  # server restart
        (1000, None, False),
        (4000, None, False),
        (4401, None, False),
        (4403, None, False),
        (None, 503, True),
        (None, 502, True),
        (None, 429, True),
        (None, 401, False),
        (None, 403, False),
        (None, 404, False),
        (None, 400, False),
    ],
)
def test_what_is_retried(close_code: int | None, http_status: int | None, transient: bool) -> None:
    assert is_transient(close_code=close_code, http_status=http_status) is transient


def test_delays_double_from_half_a_second_to_thirty_with_jitter() -> None:
    policy = ReconnectPolicy()
    rng = random.Random(7)
    ceilings = [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    for attempt, ceiling in enumerate(ceilings):
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not fixed
    assert policy.delay(10_000, rng) <= 30


def test_giving_up() -> None:
    assert not ReconnectPolicy().gives_up(1000)
    assert ReconnectPolicy(max_attempts=3).gives_up(3)
    assert not ReconnectPolicy(max_attempts=3).gives_up(2)
    assert ReconnectPolicy(enabled=False).gives_up(0)


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="initial_s"):
        ReconnectPolicy(initial_s=0)
    with pytest.raises(ValueError, match="initial_s"):
        ReconnectPolicy(initial_s=5, maximum_s=1)
    with pytest.raises(ValueError, match="factor"):
        ReconnectPolicy(factor=0.5)
