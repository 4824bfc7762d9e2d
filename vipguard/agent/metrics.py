"""Prometheus metrics on `[agent] metrics` (default 127.0.0.1:9650, `/metrics`).

A scrape, in the HTTP server's own thread, renders one agent snapshot (agent/snapshot.py), the
same `vipguard status` renders: it asks the event loop for a fresh one and waits at most
SNAPSHOT_WAIT for it, else renders the latest published. It never reads a live agent object.
"""

from __future__ import annotations

import asyncio
import logging
import math
import selectors
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__
from ..config import Config
from ..proto.effects import State
from . import logs
from .snapshot import AgentSnapshot, RouterSnapshot, SnapshotBoard

# "name", not "instance": Prometheus gives every target an "instance" label of its own.
LABELS = ["name", "interface", "family", "vrid"]
TRACKER_LABELS = ["tracker", "kind"]
HOOK_LABELS = ["name", "hook"]
# Exported at 0 before they first happen, so increase() and rate() see the first one.
CHECK_OUTCOMES = ("ok", "failed", "timeout", "error")
HOOK_OUTCOMES = ("ok", "failed", "timeout", "error", "dropped")
SNAPSHOT_WAIT = 0.5  # a scrape waits this long for the event loop's fresh snapshot


class AgentCollector(Collector):
    """Renders the snapshot ``source`` gives (None: the agent has not published one yet)."""

    def __init__(self, source: Callable[[], AgentSnapshot | None]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        snapshot = self.source()
        if snapshot is None:
            yield GaugeMetricFamily("vipguard_up", "1 while the agent runs", value=1)
            return
        yield from self._agent(snapshot)
        yield from self._instances(snapshot)
        yield from self._instance_modes(snapshot)
        yield from self._trackers(snapshot)
        yield from self._instance_trackers(snapshot)
        yield from self._hooks(snapshot)

    def _agent(self, snapshot: AgentSnapshot) -> Iterator[Metric]:
        yield GaugeMetricFamily("vipguard_up", "1 while the agent runs", value=1)
        yield GaugeMetricFamily(
            "vipguard_uptime_seconds",
            "Seconds since the agent started",
            value=snapshot.taken_at - snapshot.started_at,
        )
        info = GaugeMetricFamily("vipguard_build_info", "Version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info

    def _instances(self, snapshot: AgentSnapshot) -> Iterator[Metric]:
        families = _families()
        now = snapshot.taken_at
        for router in snapshot.routers:
            counters = router.counters
            labels = _labels(router)
            for state in State:
                families["state"].add_metric([*labels, state.value], router.state is state)
            families["base"].add_metric(labels, router.base_priority)
            families["effective"].add_metric(labels, router.effective_priority)
            for (old, new, reason), count in counters.transitions_by.items():
                families["transitions"].add_metric([*labels, old, new, reason], count)
            families["sent"].add_metric(labels, counters.adverts_out)
            families["received"].add_metric(labels, counters.adverts_in)
            for reason, count in counters.rejected.items():
                families["rejected"].add_metric([*labels, reason], count)
            families["announcements"].add_metric(labels, counters.announcements)
            families["mdi"].add_metric(labels, router.master_down_interval)
            families["since"].add_metric(labels, now - router.state_since)
            failover = router.last_failover
            families["failover"].add_metric(labels, math.nan if failover is None else failover)
        yield from families.values()

    def _instance_modes(self, snapshot: AgentSnapshot) -> Iterator[Metric]:
        prefix = "vipguard_instance_"
        maintenance = GaugeMetricFamily(
            f"{prefix}maintenance", "1 while the instance is in maintenance", labels=LABELS
        )
        handover = GaugeMetricFamily(
            f"{prefix}handover_in_progress",
            "1 while the instance holds its VIPs only until a peer has taken them over",
            labels=LABELS,
        )
        for router in snapshot.routers:
            labels = _labels(router)
            maintenance.add_metric(labels, 1 if router.maintenance else 0)
            handover.add_metric(labels, 0 if router.handover is None else 1)
        yield maintenance
        yield handover

    def _trackers(self, snapshot: AgentSnapshot) -> Iterator[Metric]:
        prefix = "vipguard_tracker_"
        up = GaugeMetricFamily(
            f"{prefix}up",
            "1 while the tracker is up (0: down or no result yet)",
            labels=TRACKER_LABELS,
        )
        latency = GaugeMetricFamily(
            f"{prefix}check_latency_seconds",
            "Duration of the last check (NaN before the first)",
            labels=TRACKER_LABELS,
        )
        checks = CounterMetricFamily(
            f"{prefix}checks", "Checks by outcome", labels=[*TRACKER_LABELS, "outcome"]
        )
        value = GaugeMetricFamily(
            f"{prefix}value", "A file tracker's number (NaN while down)", labels=TRACKER_LABELS
        )
        for status in snapshot.fitness.trackers:
            labels = [status.name, status.kind]
            up.add_metric(labels, 1 if status.up else 0)
            last = status.last_latency
            latency.add_metric(labels, math.nan if last is None else last)
            for outcome, count in _with_zeros(status.checks, CHECK_OUTCOMES):
                checks.add_metric([*labels, outcome], count)
            if status.kind == "file":
                number = status.value if status.up else None
                value.add_metric(labels, math.nan if number is None else number)
        yield from (up, latency, checks, value)

    def _instance_trackers(self, snapshot: AgentSnapshot) -> Iterator[Metric]:
        prefix, labels = "vipguard_instance_tracker_", [*LABELS, "tracker"]
        contribution = GaugeMetricFamily(
            f"{prefix}contribution", "What the tracker adds to the priority", labels=labels
        )
        fault = GaugeMetricFamily(
            f"{prefix}fault", "1 while the tracker puts the instance in Fault", labels=labels
        )
        for router in snapshot.routers:
            for use in snapshot.fitness.uses.get(router.name, ()):
                row = [*_labels(router), use.name]
                contribution.add_metric(row, use.contribution)
                fault.add_metric(row, 1 if use.fault else 0)
        yield contribution
        yield fault

    def _hooks(self, snapshot: AgentSnapshot) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "vipguard_hook_runs", "Notify hook runs by outcome", labels=[*HOOK_LABELS, "outcome"]
        )
        failures = CounterMetricFamily(
            "vipguard_hook_failures",
            "Notify hook runs that did not succeed (failed, timeout, error, dropped)",
            labels=HOOK_LABELS,
        )
        by_hook: dict[tuple[str, str], Counter[str]] = {
            hook: Counter() for hook in self._configured_hooks(snapshot)
        }
        for (name, hook, outcome), count in snapshot.hooks.counts.items():
            by_hook.setdefault((name, hook), Counter())[outcome] += count
        for (name, hook), outcomes in sorted(by_hook.items()):
            for outcome, count in _with_zeros(outcomes, HOOK_OUTCOMES):
                runs.add_metric([name, hook, outcome], count)
            failed = sum(count for outcome, count in outcomes.items() if outcome != "ok")
            failures.add_metric([name, hook], failed)
        yield runs
        yield failures

    def _configured_hooks(self, snapshot: AgentSnapshot) -> set[tuple[str, str]]:
        """(router name, hook key) of every configured hook, counted or not yet."""
        return {(router.name, key) for router in snapshot.routers for key in router.hooks}


def _labels(router: RouterSnapshot) -> list[str]:
    return [router.name, router.interface, f"ipv{router.family}", str(router.vrid)]


def _with_zeros(counts: Counter[str], known: tuple[str, ...]) -> list[tuple[str, int]]:
    """``counts`` by outcome, with every ``known`` outcome present (0 if it never happened)."""
    return sorted({**dict.fromkeys(known, 0), **counts}.items())


def _families() -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
    gauge, counter = GaugeMetricFamily, CounterMetricFamily
    prefix = "vipguard_instance_"
    return {
        "state": gauge(
            f"{prefix}state", "1 for the instance's current state", labels=[*LABELS, "state"]
        ),
        "base": gauge(f"{prefix}priority_base", "Configured priority", labels=LABELS),
        "effective": gauge(f"{prefix}priority_effective", "Priority with trackers", labels=LABELS),
        "transitions": counter(
            f"{prefix}transitions", "State transitions", labels=[*LABELS, "from", "to", "reason"]
        ),
        "sent": counter(f"{prefix}adverts_sent", "Advertisements sent", labels=LABELS),
        "received": counter(f"{prefix}adverts_received", "Advertisements accepted", labels=LABELS),
        "rejected": counter(
            f"{prefix}adverts_rejected", "Packets refused, by reason", labels=[*LABELS, "reason"]
        ),
        "announcements": counter(
            f"{prefix}announcements", "Gratuitous ARP / NA sent", labels=LABELS
        ),
        "mdi": gauge(
            f"{prefix}master_down_interval_seconds", "Master_Down_Interval", labels=LABELS
        ),
        "since": gauge(
            f"{prefix}seconds_since_transition", "Time in the current state", labels=LABELS
        ),
        "failover": gauge(
            f"{prefix}last_failover_seconds",
            "Last takeover: the old master's last advert to our VIPs announced",
            labels=LABELS,
        ),
    }


STOP_TIMEOUT = 2.0  # a scrape being answered may hold the server thread this long


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""


class MetricsServer(ThreadingMixIn, WSGIServer):
    """The HTTP server of ``/metrics`` in a thread of its own that sleeps until a scrape or a
    stop arrives. (socketserver's ``serve_forever`` wakes every half second to look for a
    shutdown request: two wake-ups a second of an otherwise idle agent, and a stop that waits
    for the next one.) A stop is a byte on a socket pair the thread also listens to."""

    daemon_threads = True  # a scrape still being answered never holds up the exit

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily) -> None:
        self.address_family = family  # read when the listening socket is made
        super().__init__(address, _QuietHandler)
        self._wake, self._waker = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while True:
                ready = [key.fileobj for key, _ in selector.select()]  # no timeout: asleep
                if self._wake in ready:
                    return
                self.handle_request()  # readable: it accepts at once

    def shutdown(self) -> None:
        """Stop serving (a scrape being answered finishes in its own thread)."""
        if self._thread.is_alive():
            self._waker.send(b"\0")
            self._thread.join(STOP_TIMEOUT)

    def server_close(self) -> None:
        super().server_close()
        self._wake.close()
        self._waker.close()


def serve(board: SnapshotBoard, host: str, port: int) -> MetricsServer:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(lambda: board.fresh(SNAPSHOT_WAIT)))
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    server = MetricsServer((host, port), family)
    server.set_app(make_wsgi_app(registry))
    server.start()
    return server


class MetricsSubsystem:
    """The `/metrics` endpoint: started with the agent's settings (a reload does not move it),
    stopped last; monitoring never keeps the VIPs from being served."""

    name = "metrics"

    def __init__(self, board: SnapshotBoard) -> None:
        self._board = board
        self._server: MetricsServer | None = None

    async def start(self, config: Config) -> None:
        address = config.agent.metrics
        if address is None:
            return
        try:
            self._server = serve(self._board, *address)
        except OSError as error:
            logs.event(
                "metrics_unavailable",
                logging.WARNING,
                address=f"{address[0]}:{address[1]}",
                error=error.strerror,
            )

    async def reload(self, config: Config) -> None:
        pass  # [agent] settings take effect at the next restart

    async def stop(self, timeout: float) -> None:
        if self._server is not None:  # a scrape being answered may delay its stop
            await asyncio.wait_for(asyncio.to_thread(self._server.shutdown), timeout)
            self._server.server_close()

    def snapshot(self) -> str | None:
        """Where it serves, if it does."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"
