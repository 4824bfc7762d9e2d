"""systemd's watchdog, fed from the event loop without waking an idle agent for it.

A ping must come from the loop itself, so that a stalled loop goes quiet and systemd restarts the
agent. The loop wakes anyway for every advert sent and heard (``awake``); a ping rides on such a
wake-up once half the period has passed since the last one. A timer of its own pings only when
nothing woke the loop for a whole period (no router, or adverts slower than the period), so
consecutive pings are never further apart than the period the notifier asks for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Watchdog:
    def __init__(self, ping: Callable[[], object], period: float) -> None:
        self._ping, self._period = ping, period
        self._loop: asyncio.AbstractEventLoop | None = None  # set while running
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._feed()

    def awake(self) -> None:
        """The loop is running a callback (an advert sent or heard): ping if it is time."""
        loop = self._loop
        if loop is not None and loop.time() - self._last >= self._period / 2:
            self._feed()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._loop = self._timer = None

    def _feed(self) -> None:
        assert self._loop is not None
        self._ping()
        self._last = self._loop.time()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(self._last + self._period, self._expired)

    def _expired(self) -> None:
        self._timer = None
        if self._loop is not None:
            self._feed()
