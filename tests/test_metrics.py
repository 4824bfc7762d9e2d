"""The Prometheus collector: names, labels and values read from the drivers at scrape time."""

from __future__ import annotations

import math
import re
from collections import Counter
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from vipguard.agent.driver import Counters
from vipguard.agent.metrics import AgentCollector
from vipguard.proto.router import RouterConfig, VirtualRouter
from vipguard.proto.timers import Instant


def scrape(drivers: list[object]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(SimpleNamespace(drivers=drivers)))  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def fake_driver(failover: float | None) -> object:
    config = RouterConfig(51, 150, (IPv4Interface("192.0.2.100/24"),), IPv4Address("192.0.2.11"))
    router = VirtualRouter(config)
    router.start(Instant(0.0, 0))
    counters = Counters(
        adverts_in=7,
        adverts_out=3,
        announcements=5,
        rejected=Counter({"bad_ttl": 2}),
        transitions_by=Counter({("initialize", "backup", "startup"): 1}),
    )
    return SimpleNamespace(
        name="web",
        router=router,
        counters=counters,
        family=4,
        last_failover=failover,
        egress=SimpleNamespace(interface="eth0"),
    )


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_every_instance_metric_is_exported_with_its_labels() -> None:
    got = samples(scrape([fake_driver(0.3125)]))
    base = {"name": "web", "interface": "eth0", "family": "ipv4", "vrid": "51"}

    def value(name: str, **extra: str) -> float:
        return got[(name, frozenset({**base, **extra}.items()))]

    assert got[("vipguard_up", frozenset())] == 1
    assert value("vipguard_instance_state", state="backup") == 1
    assert value("vipguard_instance_state", state="master") == 0
    assert value("vipguard_instance_priority_base") == 150
    assert value("vipguard_instance_priority_effective") == 150
    transition = {"from": "initialize", "to": "backup", "reason": "startup"}
    assert value("vipguard_instance_transitions_total", **transition) == 1
    assert value("vipguard_instance_adverts_sent_total") == 3
    assert value("vipguard_instance_adverts_received_total") == 7
    assert value("vipguard_instance_adverts_rejected_total", reason="bad_ttl") == 2
    assert value("vipguard_instance_announcements_total") == 5
    assert value("vipguard_instance_master_down_interval_seconds") == 3 + 106 / 256
    assert value("vipguard_instance_last_failover_seconds") == 0.3125


def test_an_instance_that_never_took_over_reports_no_failover_time() -> None:
    text = scrape([fake_driver(None)])
    (line,) = [x for x in text.splitlines() if x.startswith("vipguard_instance_last_failover")]
    assert math.isnan(float(line.rsplit(" ", 1)[1]))


@pytest.mark.parametrize("example", ["alerts.yml", "grafana-dashboard.json"])
def test_the_prometheus_examples_use_only_metrics_we_export(example: str) -> None:
    rules = (Path(__file__).parents[1] / "examples/prometheus" / example).read_text()
    used = set(re.findall(r"\b(vipguard_[a-z_]+)", rules))
    exported = {name for name, _ in samples(scrape([fake_driver(0.5)]))}
    assert used, "no metric found in the rules"
    assert used <= exported, used - exported
