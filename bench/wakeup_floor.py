"""What one wake-up of an idle Python process costs on this machine, whatever it then does.

Each way of sleeping runs ``--count`` periods of ``--period`` seconds and prints the process CPU
time (user + system, the scheduler's runtime) per wake-up: ``time.sleep``, a bare ``epoll``,
and asyncio's loop with one timer re-armed each time (what an idle agent's loop does at least).
The floor under bench/idle.py's per-advert figures.

    python bench/wakeup_floor.py [--period 0.3] [--count 33]
"""

from __future__ import annotations

import argparse
import asyncio
import select
import time
from collections.abc import Callable


def per_wakeup(sleep: Callable[[], None], count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        sleep()
    return (time.process_time() - start) / count


def asyncio_timer(period: float, count: int) -> float:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        fired = 0

        def tick() -> None:
            nonlocal fired
            fired += 1
            if fired < count:
                loop.call_at(loop.time() + period, tick)
            else:
                done.set_result(None)

        start = time.process_time()
        loop.call_at(loop.time() + period, tick)
        await done
        return (time.process_time() - start) / count

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--period", type=float, default=0.3)
    parser.add_argument("--count", type=int, default=33)
    args = parser.parse_args()
    period, count = max(0.01, args.period), max(1, min(args.count, 10_000))
    epoll = select.epoll()
    results = {
        "time.sleep": per_wakeup(lambda: time.sleep(period), count),
        "epoll": per_wakeup(lambda: epoll.poll(period), count),
        "asyncio timer": asyncio_timer(period, count),
    }
    epoll.close()
    for name, seconds in results.items():
        print(f"{name:14} {seconds * 1e6:6.0f} µs of CPU per wake-up ({count} × {period} s)")


if __name__ == "__main__":
    main()
