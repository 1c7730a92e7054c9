"""When to reconnect, and how long to wait first (pure: the caller sleeps).

The mobile guides' rule: exponential backoff from 0.5 s to 30 s, with jitter, on transient
failures (network errors, an abnormal close 1006, HTTP 503 while a server drains); never
after a clean close (1000), an auth failure (4401, 4403, HTTP 401/403) or a fatal setup
error (4000).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CLEAN_CLOSE = 1000
FATAL_CLOSES = frozenset({1000, 1008, 1009, 4000, 4401, 4403})
"""Close codes after which trying again cannot help (policy violation and a message too
big are bugs in the app, not the network)."""
FATAL_STATUSES = frozenset({400, 401, 403, 404})


def is_transient(*, close_code: int | None = None, http_status: int | None = None) -> bool:
    """Whether a failure is worth retrying. ``None`` for both means a network error (no
    handshake, or the connection dropped without a close frame)."""
    if http_status is not None:
        return http_status not in FATAL_STATUSES and (
            http_status >= 500 or http_status in (408, 429)
        )
    if close_code is not None:
        return close_code not in FATAL_CLOSES
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """Exponential backoff with full jitter: the n-th wait (from 0) is uniform in
    ``[delay/2, delay]`` where ``delay = min(maximum, initial * factor**n)``."""

    initial_s: float = 0.5
    maximum_s: float = 30.0
    factor: float = 2.0
    max_attempts: int | None = None
    """Give up after this many failed reconnects in a row (``None``: never)."""
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.maximum_s:
            raise ValueError("need 0 < initial_s <= maximum_s")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError("max_attempts must not be negative")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect number ``attempt`` (0 for the first)."""
        ceiling = min(self.maximum_s, self.initial_s * self.factor ** min(attempt, 64))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def gives_up(self, attempt: int) -> bool:
        return not self.enabled or (self.max_attempts is not None and attempt >= self.max_attempts)


NO_RECONNECT = ReconnectPolicy(enabled=False)
