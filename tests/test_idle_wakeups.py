"""An idle agent sleeps: no wake-up that has nothing to do (issue 9, "a leaner idle agent").

CPU time depends on the machine's load, wake-ups hardly do: these tests count them (the kernel's
voluntary context switches of a thread, or the callbacks the event loop schedules) and leave
CPU figures to ``make bench-idle``."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

from vipguard.agent.metrics import serve


def voluntary_switches(native_id: int) -> int:
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("voluntary_ctxt_switches:"))
    return int(line.split()[1])


def idle_agent() -> SimpleNamespace:
    """What the metrics collector reads of an agent that runs no router yet."""
    return SimpleNamespace(
        drivers=[],
        fitness=SimpleNamespace(trackers={}),
        hooks=SimpleNamespace(counts={}),
    )


def test_the_metrics_server_sleeps_until_a_scrape_and_stops_at_once() -> None:
    before = set(threading.enumerate())
    server = serve(idle_agent(), "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        (thread,) = set(threading.enumerate()) - before
        assert thread.native_id is not None
        time.sleep(0.1)  # past its start
        switches = voluntary_switches(thread.native_id)
        time.sleep(1.2)  # a poll every 0.5 s would wake it twice
        assert voluntary_switches(thread.native_id) - switches == 0
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert b"vipguard_up 1.0" in answer.read()
    finally:
        started = time.monotonic()
        server.shutdown()
        stopped_in = time.monotonic() - started
        server.server_close()
    assert stopped_in < 0.2  # not the end of a poll period
    assert not thread.is_alive()
