"""Prometheus metrics on `[agent] metrics` (default 127.0.0.1:9650, `/metrics`).

Values are read from the drivers when a scrape arrives, in the HTTP server's own thread: a scrape
only reads counters and never waits for, or on, the event loop. The loop may change a dict while
a scrape reads it (a reload, a new hook outcome), so every dict is copied with ``list()`` (one
step under the GIL) before it is walked.
"""

from __future__ import annotations

import math
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__
from ..proto.effects import State

if TYPE_CHECKING:
    from .driver import RouterDriver
    from .runtime import Agent

# "name", not "instance": Prometheus gives every target an "instance" label of its own.
LABELS = ["name", "interface", "family", "vrid"]
TRACKER_LABELS = ["tracker", "kind"]
HOOK_LABELS = ["name", "hook"]
# Exported at 0 before they first happen, so increase() and rate() see the first one.
CHECK_OUTCOMES = ("ok", "failed", "timeout", "error")
HOOK_OUTCOMES = ("ok", "failed", "timeout", "error", "dropped")


class AgentCollector(Collector):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.started = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        yield from self._agent()
        yield from self._instances()
        yield from self._instance_modes()
        yield from self._trackers()
        yield from self._instance_trackers()
        yield from self._hooks()

    def _agent(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("vipguard_up", "1 while the agent runs", value=1)
        yield GaugeMetricFamily(
            "vipguard_uptime_seconds",
            "Seconds since the agent started",
            value=time.monotonic() - self.started,
        )
        info = GaugeMetricFamily("vipguard_build_info", "Version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info

    def _instances(self) -> Iterator[Metric]:
        families = _families()
        now = time.monotonic()
        for driver in list(self.agent.drivers):
            router, counters = driver.router, driver.counters
            labels = _labels(driver)
            for state in State:
                families["state"].add_metric([*labels, state.value], router.state is state)
            families["base"].add_metric(labels, router.config.priority)
            families["effective"].add_metric(labels, router.priority)
            for (old, new, reason), count in list(counters.transitions_by.items()):
                families["transitions"].add_metric([*labels, old, new, reason], count)
            families["sent"].add_metric(labels, counters.adverts_out)
            families["received"].add_metric(labels, counters.adverts_in)
            for reason, count in list(counters.rejected.items()):
                families["rejected"].add_metric([*labels, reason], count)
            families["announcements"].add_metric(labels, counters.announcements)
            families["mdi"].add_metric(labels, router.master_down_interval)
            families["since"].add_metric(labels, now - router.state_since)
            failover = driver.last_failover
            families["failover"].add_metric(labels, math.nan if failover is None else failover)
        yield from families.values()

    def _instance_modes(self) -> Iterator[Metric]:
        prefix = "vipguard_instance_"
        maintenance = GaugeMetricFamily(
            f"{prefix}maintenance", "1 while the instance is in maintenance", labels=LABELS
        )
        handover = GaugeMetricFamily(
            f"{prefix}handover_in_progress",
            "1 while the instance holds its VIPs only until a peer has taken them over",
            labels=LABELS,
        )
        for driver in list(self.agent.drivers):
            router, labels = driver.router, _labels(driver)
            maintenance.add_metric(labels, 1 if router.maintenance else 0)
            handover.add_metric(labels, 0 if router.handover is None else 1)
        yield maintenance
        yield handover

    def _trackers(self) -> Iterator[Metric]:
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
        for tracker in list(self.agent.fitness.trackers.values()):
            status = tracker.status  # one frozen snapshot: its fields agree with each other
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

    def _instance_trackers(self) -> Iterator[Metric]:
        prefix, labels = "vipguard_instance_tracker_", [*LABELS, "tracker"]
        contribution = GaugeMetricFamily(
            f"{prefix}contribution", "What the tracker adds to the priority", labels=labels
        )
        fault = GaugeMetricFamily(
            f"{prefix}fault", "1 while the tracker puts the instance in Fault", labels=labels
        )
        fitness = self.agent.fitness
        for driver in list(self.agent.drivers):
            try:
                uses = fitness.describe(driver)
            except (KeyError, RuntimeError):  # a reload is replacing the trackers right now
                continue
            for use in uses:
                row = [*_labels(driver), str(use["name"])]
                contribution.add_metric(row, cast(int, use["contribution"]))
                fault.add_metric(row, 1 if use["fault"] else 0)
        yield contribution
        yield fault

    def _hooks(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "vipguard_hook_runs", "Notify hook runs by outcome", labels=[*HOOK_LABELS, "outcome"]
        )
        failures = CounterMetricFamily(
            "vipguard_hook_failures",
            "Notify hook runs that did not succeed (failed, timeout, error, dropped)",
            labels=HOOK_LABELS,
        )
        by_hook: dict[tuple[str, str], Counter[str]] = {
            hook: Counter() for hook in self._configured_hooks()
        }
        for (name, hook, outcome), count in list(self.agent.hooks.counts.items()):
            by_hook.setdefault((name, hook), Counter())[outcome] += count
        for (name, hook), outcomes in sorted(by_hook.items()):
            for outcome, count in _with_zeros(outcomes, HOOK_OUTCOMES):
                runs.add_metric([name, hook, outcome], count)
            failed = sum(count for outcome, count in outcomes.items() if outcome != "ok")
            failures.add_metric([name, hook], failed)
        yield runs
        yield failures

    def _configured_hooks(self) -> set[tuple[str, str]]:
        """(router name, hook key) of every configured hook, counted or not yet."""
        hooks: set[tuple[str, str]] = set()
        for driver in list(self.agent.drivers):
            notify = self.agent.instance_config(driver).notify
            if notify is not None:
                hooks.update((driver.name, key) for key, _ in notify.commands)
        return hooks


def _labels(driver: RouterDriver) -> list[str]:
    vrid = driver.router.config.vrid
    return [driver.name, driver.egress.interface, f"ipv{driver.family}", str(vrid)]


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


def serve(agent: Agent, host: str, port: int) -> MetricsServer:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent))
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    server = MetricsServer((host, port), family)
    server.set_app(make_wsgi_app(registry))
    server.start()
    return server
