"""Failed sign-ins per client address in a sliding window (the console's sign-in)."""

from __future__ import annotations

import time
from collections import defaultdict, deque

MAX_FAILURES = 20
FAILURE_WINDOW_S = 600.0


class LoginThrottle:
    """Failed sign-ins per client address in a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str, now: float | None = None) -> int:
        """Seconds until ``key`` may try again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        times = self._recent(key, now)
        if len(times) < self.limit:
            return 0
        return max(1, int(times[0] + self.window_s - now) + 1)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._recent(key, now)
        self._failures[key].append(now)
