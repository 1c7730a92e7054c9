"""The reconnect loop the voice and messaging clients share: connect, serve the socket
until it drops, back off, announce the next attempt, try again, give up per the policy.

Each client supplies what differs: how to open a connection (raising
:class:`ConnectFailed`, transient or not, e.g. after renewing an expired token), how to
serve one, and how to announce and fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from voxgate.client.backoff import ReconnectPolicy
from voxgate.client.events import Reconnecting

C = TypeVar("C")


class ConnectFailed(Exception):
    """A connection attempt failed: ``transient`` ones are retried per the policy, others
    end the loop with ``message`` and ``code`` (a close code or HTTP status, if any)."""

    def __init__(self, message: str, code: int | None, *, transient: bool) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.transient = transient


async def reconnect_loop(
    policy: ReconnectPolicy,
    *,
    connect: Callable[[], Awaitable[C]],
    serve: Callable[[C, int | None], Awaitable[str | None]],
    announce: Callable[[Reconnecting], None],
    fail: Callable[[str, int | None], None],
    closing: Callable[[], bool],
) -> None:
    """Run connections until one ends for good.

    ``connect()`` opens one (or raises :class:`ConnectFailed`); ``serve(conn, attempt)``
    uses it until it drops, with ``attempt`` the failed reconnects before it (``None`` for
    the first connection), and returns why it was lost (reconnect) or ``None`` (stop; it
    calls ``fail`` itself if that is a failure). ``fail(reason, code)`` is called when a
    refusal is final or the policy gives up; ``closing()`` stops the loop before an attempt.
    """
    attempt = 0  # failed reconnects in a row
    lost: str | None = None  # why the last connection (attempt) ended
    connected_before = False
    while not closing():
        if lost is not None:
            if policy.gives_up(attempt):
                fail(f"gave up reconnecting after {attempt} attempts: {lost}", None)
                return
            delay = policy.delay(attempt)
            attempt += 1
            announce(Reconnecting(attempt=attempt, delay_s=delay, reason=lost))
            await asyncio.sleep(delay)
        try:
            conn = await connect()
        except ConnectFailed as failed:
            if not failed.transient:
                fail(failed.message, failed.code)
                return
            lost = failed.message
            continue
        lost = await serve(conn, attempt if connected_before else None)
        connected_before = True
        attempt = 0
        if lost is None:
            return
