"""Prometheus metrics on `[agent] metrics` (default 127.0.0.1:9650, `/metrics`).

Values are read from the drivers when a scrape arrives, in the HTTP server's own thread: a scrape
only reads counters and never waits for, or on, the event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__
from ..proto.effects import State

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from .runtime import Agent

# "name", not "instance": Prometheus gives every target an "instance" label of its own.
LABELS = ["name", "interface", "family", "vrid"]


class AgentCollector(Collector):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.started = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("vipguard_up", "1 while the agent runs", value=1)
        yield GaugeMetricFamily(
            "vipguard_uptime_seconds",
            "Seconds since the agent started",
            value=time.monotonic() - self.started,
        )
        info = GaugeMetricFamily("vipguard_build_info", "Version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield from self._instances()

    def _instances(self) -> Iterator[Metric]:
        families = _families()
        now = time.monotonic()
        for driver in list(self.agent.drivers):
            router, counters = driver.router, driver.counters
            labels = [
                driver.name,
                driver.egress.interface,
                f"ipv{driver.family}",
                str(router.config.vrid),
            ]
            for state in State:
                families["state"].add_metric([*labels, state.value], router.state is state)
            families["base"].add_metric(labels, router.config.priority)
            families["effective"].add_metric(labels, router.priority)
            for (old, new, reason), count in counters.transitions_by.items():
                families["transitions"].add_metric([*labels, old, new, reason], count)
            families["sent"].add_metric(labels, counters.adverts_out)
            families["received"].add_metric(labels, counters.adverts_in)
            for reason, count in counters.rejected.items():
                families["rejected"].add_metric([*labels, reason], count)
            families["announcements"].add_metric(labels, counters.announcements)
            families["mdi"].add_metric(labels, router.master_down_interval)
            families["since"].add_metric(labels, now - router.state_since)
            failover = driver.last_failover
            families["failover"].add_metric(labels, math.nan if failover is None else failover)
        yield from families.values()


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
