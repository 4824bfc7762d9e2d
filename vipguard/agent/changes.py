"""Waiting for a condition that only changes when something is fed in (a router's input, a
tracker's result): every waiter re-checks after each change, bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Changes:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._waiting = 0

    def notify(self) -> None:
        """Something changed: wake every waiter (each re-checks its own condition). Most of the
        time nobody waits (every advert an idle router hears): then there is nothing to do."""
        if self._waiting:
            self._event.set()
            self._event = asyncio.Event()

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Whether ``condition`` held within ``timeout``."""
        self._waiting += 1
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    await self._event.wait()
        except TimeoutError:
            return condition()
        finally:
            self._waiting -= 1
        return True
