"""systemd's watchdog as the agent feeds it, against a notify socket the test binds (systemd is
not PID 1 here): pings ride on the adverts, come at least once per period whatever the advert
interval, and stop while the event loop is stalled."""

from __future__ import annotations

import signal
import socket
import time
from itertools import pairwise
from pathlib import Path

import pytest
from agents import Agent, Cluster, web

pytestmark = pytest.mark.netns_timeout(40)
WATCHDOG_USEC = 1_000_000  # the agent pings every 0.5 s at the latest
PERIOD = WATCHDOG_USEC / 1e6 / 2
SLACK = 0.25  # scheduling on a loaded 2-core machine


def watched(cluster: Cluster, notify: Path, interval: str) -> Agent:
    env = ["env", f"NOTIFY_SOCKET={notify}", f"WATCHDOG_USEC={WATCHDOG_USEC}"]
    instance = web(255, advert_interval=interval)  # the address owner: master at once
    return cluster.agent("lb1", [instance], wrapper=env).start()


def datagrams(server: socket.socket, seconds: float) -> list[tuple[float, str]]:
    """What reaches the notify socket within ``seconds``, with its arrival time."""
    got, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        server.settimeout(left)
        try:
            got.append((time.monotonic(), server.recv(4096).decode()))
        except TimeoutError:
            break
    return got


def wake_ups(pid: int) -> int:
    """Voluntary context switches of every thread of ``pid``: each time it slept and woke."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
    return total


def pings(got: list[tuple[float, str]]) -> list[float]:
    return [at for at, text in got if text == "WATCHDOG=1"]


@pytest.mark.parametrize("interval", ["100ms", "2s"])
def test_pings_come_within_the_period_at_any_advert_interval(
    cluster: Cluster, interval: str
) -> None:
    notify = cluster.workdir / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(notify))
        agent = watched(cluster, notify, interval)
        agent.wait_state("master")
        assert agent.process is not None
        datagrams(server, 1.0)  # settled
        before, started = wake_ups(agent.process.pid), time.monotonic()
        got = datagrams(server, 4.0)
        woken = (wake_ups(agent.process.pid) - before) / (time.monotonic() - started)
        agent.stop()
    times = pings(got)
    adverts = 1 / (0.1 if interval == "100ms" else 2.0)
    # The pings ride on the adverts' wake-ups; only slower adverts need wake-ups of their own.
    assert woken <= max(adverts, 1 / PERIOD) + 0.6, woken
    assert len(times) >= 4.0 / PERIOD - 2, got
    gaps = [b - a for a, b in pairwise(times)]
    assert max(gaps) <= PERIOD + SLACK, gaps


def test_a_stalled_agent_stops_pinging_and_resumes_after(cluster: Cluster) -> None:
    notify = cluster.workdir / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(notify))
        agent = watched(cluster, notify, "100ms")
        agent.wait_state("master")
        datagrams(server, 1.0)  # settled
        assert agent.process is not None
        agent.process.signal(signal.SIGSTOP)
        try:
            stalled = datagrams(server, 3 * PERIOD)
        finally:
            agent.process.signal(signal.SIGCONT)
        resumed = datagrams(server, 2 * PERIOD)
        agent.stop()
    assert pings(stalled) == []
    assert pings(resumed)
