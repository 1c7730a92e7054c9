"""The ``async with`` shape every client has: enter starts it, leaving closes it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class ClosedOnExit:
    """Base of the clients: ``async with client:`` awaits :meth:`start`, then
    :meth:`close` on the way out, whatever happened in the block."""

    async def start(self) -> None:
        """Connect; a client that is connected when created has nothing to do."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
