"""Process scheduling for fast adverts: real-time priority and a quiet garbage collector."""

from __future__ import annotations

import gc
import os


def make_realtime(priority: int) -> str | None:
    """Run under SCHED_FIFO at ``priority`` (1..99); the reason it failed, or None. The unit can
    do the same without CAP_SYS_NICE: CPUSchedulingPolicy=fifo, CPUSchedulingPriority=N."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as error:
        return f"{error.strerror} (needs CAP_SYS_NICE, or set it in the systemd unit)"
    return None


def keep_gc_off_the_protocol_path() -> None:
    """Move everything allocated so far (modules, configuration, sockets, routers) out of the
    collector's reach: later collections only walk the few objects created while running, so
    they stay far shorter than the shortest advert interval (10 ms)."""
    gc.collect()
    gc.freeze()
