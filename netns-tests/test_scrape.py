"""Prometheus metrics from a running pair agree with `vipguard status`."""

from __future__ import annotations

import json
import signal
import sys

import pytest
from agents import Agent, Cluster, drain_tracker, master_down_ms, settled_pair, web
from netns import Topology, wait_until
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.netns_timeout(30)
FETCH = (
    "import sys, urllib.request\n"
    "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:9650/metrics', timeout=5)"
    ".read().decode())\n"
)


def scrape(topology: Topology, agent: Agent) -> dict[tuple[str, str], float]:
    """{(metric name, label "state"/"reason"/""): value} for the instance "web"."""
    text = topology.ns_exec(agent.host, [sys.executable, "-c", FETCH]).stdout
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("name", "web") == "web":
                key = sample.labels.get("state") or sample.labels.get("reason") or ""
                found[(sample.name, key)] = sample.value
    return found


def test_metrics_agree_with_status_and_time_the_failover(
    cluster: Cluster, topology: Topology
) -> None:
    lb1, lb2 = settled_pair(cluster, web(150), web(100))
    lb1.kill(signal.SIGKILL)
    lb2.wait_state("master", timeout=2)
    status = lb2.instance("web")
    metrics = scrape(topology, lb2)
    assert metrics[("vipguard_up", "")] == 1
    assert metrics[("vipguard_instance_state", "master")] == 1
    assert metrics[("vipguard_instance_state", "backup")] == 0
    assert metrics[("vipguard_instance_priority_effective", "")] == status["priority"]["effective"]
    assert metrics[("vipguard_instance_transitions_total", "master_down_timer_expired")] == 1
    assert (
        metrics[("vipguard_instance_adverts_received_total", "")]
        == status["counters"]["adverts_in"]
    )
    assert metrics[("vipguard_instance_announcements_total", "")] >= 1
    failover = metrics[("vipguard_instance_last_failover_seconds", "")]
    assert 0.2 < failover <= master_down_ms(100) / 1000 + 0.1, json.dumps(status)


def samples(topology: Topology, agent: Agent) -> list[tuple[str, dict[str, str], float]]:
    text = topology.ns_exec(agent.host, [sys.executable, "-c", FETCH]).stdout
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(found: list[tuple[str, dict[str, str], float]], metric: str, /, **labels: str) -> float:
    matches = [v for n, got, v in found if n == metric and labels.items() <= got.items()]
    assert len(matches) == 1, (metric, labels, matches)
    return matches[0]


def test_tracker_hook_and_maintenance_metrics_agree_with_status(
    cluster: Cluster, topology: Topology
) -> None:
    _, tracker = drain_tracker(cluster, 20)
    instance = web(150, track=[{"tracker": "drain", "weight": -1}], notify={"any": ["/bin/true"]})
    lb1 = cluster.agent("lb1", [instance], tables={"tracker": [tracker]}).start()
    lb1.wait_state("master", timeout=3)
    ran = lambda: lb1.status()["hooks"]["outcomes"].get("ok", 0) == 2  # noqa: E731
    wait_until(ran, 3, what="the hooks of backup and master")
    status = lb1.status()
    web_status = status["instances"][0]
    line = web_status["trackers"][0]
    found = samples(topology, lb1)
    assert value(found, "vipguard_tracker_up", tracker="drain", kind="file") == 1 == line["up"]
    assert value(found, "vipguard_tracker_value", tracker="drain") == 20 == line["value"]
    contribution = value(found, "vipguard_instance_tracker_contribution", tracker="drain")
    assert contribution == -20 == line["contribution"]
    assert (
        value(found, "vipguard_instance_priority_effective", name="web")
        == web_status["priority"]["effective"]
        == 130
    )
    runs = value(found, "vipguard_hook_runs_total", name="web", hook="any", outcome="ok")
    assert runs == status["hooks"]["outcomes"]["ok"] == 2  # backup, then master
    assert value(found, "vipguard_instance_maintenance", name="web") == 0
