"""Prometheus metrics on `[agent] metrics` (default 127.0.0.1:9650, `/metrics`).

Values are read from the drivers when a scrape arrives, in the HTTP server's own thread: a scrape
only reads counters and never waits for, or on, the event loop. The loop may change a dict while
a scrape reads it (a reload, a new hook outcome), so every dict is copied with ``list()`` (one
step under the GIL) before it is walked.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__
from ..proto.effects import State

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

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


def serve(agent: Agent, host: str, port: int) -> WSGIServer:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
