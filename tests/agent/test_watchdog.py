"""systemd's watchdog is fed from the event loop, riding on the wake-ups the loop has anyway
(adverts sent and heard); a timer of its own wakes the loop only when nothing else did."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise

from vipguard.agent.watchdog import Watchdog

PERIOD = 0.2  # what the notifier asks for: half of systemd's timeout


def pinging(pings: list[float]) -> Watchdog:
    return Watchdog(lambda: pings.append(time.monotonic()), PERIOD)


def test_alone_it_pings_once_per_period() -> None:
    pings: list[float] = []

    async def scenario() -> None:
        watchdog = pinging(pings)
        watchdog.start()
        await asyncio.sleep(5.5 * PERIOD)
        watchdog.stop()

    asyncio.run(scenario())
    assert len(pings) == 6  # at start, then at each period
    assert all(b - a < PERIOD * 1.5 for a, b in pairwise(pings))


def test_busy_loop_wake_ups_carry_the_pings_and_its_timer_never_fires() -> None:
    pings: list[float] = []
    fired: list[float] = []

    async def scenario() -> None:
        watchdog = pinging(pings)
        real_fire = watchdog._expired  # the timer's own callback

        def counted() -> None:
            fired.append(time.monotonic())
            real_fire()

        watchdog._expired = counted  # type: ignore[method-assign]
        watchdog.start()
        for _ in range(100):  # adverts every PERIOD / 10
            await asyncio.sleep(PERIOD / 10)
            watchdog.awake()
        watchdog.stop()

    asyncio.run(scenario())
    assert fired == []
    assert 15 <= len(pings) <= 22  # about every half period: never later than one period
    assert all(b - a < PERIOD for a, b in pairwise(pings))


def test_a_stalled_loop_sends_nothing() -> None:
    """The point of pinging from the loop: while it is stuck, systemd hears nothing."""
    pings: list[float] = []

    async def scenario() -> None:
        watchdog = pinging(pings)
        watchdog.start()
        time.sleep(3 * PERIOD)  # the loop is stuck
        stuck = len(pings)
        watchdog.stop()
        assert stuck == 1  # the one at start

    asyncio.run(scenario())


def test_stopped_it_sends_nothing_more() -> None:
    pings: list[float] = []

    async def scenario() -> None:
        watchdog = pinging(pings)
        watchdog.start()
        watchdog.stop()
        watchdog.awake()
        await asyncio.sleep(2 * PERIOD)

    asyncio.run(scenario())
    assert len(pings) == 1
