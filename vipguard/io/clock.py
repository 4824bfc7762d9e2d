"""Clocks for the agent.

Protocol timers run on the monotonic clock (the event loop's own). Authenticated adverts need a
wall clock for their sequence numbers; :class:`SteadyWallClock` reads the system clock once and then
advances with the monotonic clock, so a step of the system clock (an operator's ``date -s``, a bad
NTP server) never moves a sequence backwards or out of the peers' window.
"""

from __future__ import annotations

import time
from typing import Protocol

from ..proto.timers import Instant


class Clock(Protocol):
    """The agent's one clock: everything in the agent reads the time through it."""

    def now(self) -> Instant: ...
    def wall_ns(self) -> int: ...


class SteadyWallClock:
    def __init__(self) -> None:
        self._anchor_wall_ns = time.time_ns()
        self._anchor_monotonic_ns = time.monotonic_ns()

    def wall_ns(self) -> int:
        return self._anchor_wall_ns + time.monotonic_ns() - self._anchor_monotonic_ns

    def now(self) -> Instant:
        monotonic_ns = time.monotonic_ns()
        wall_ns = self._anchor_wall_ns + monotonic_ns - self._anchor_monotonic_ns
        return Instant(monotonic_ns / 1e9, wall_ns)


def monotonic() -> float:
    """Seconds on the monotonic clock, for parts made without the agent's clock (tests)."""
    return time.monotonic()


def wall() -> float:
    """Seconds since the epoch on the system clock, for parts made without the agent's clock."""
    return time.time()
