"""Prometheus metrics from a running pair agree with `vipguard status`."""

from __future__ import annotations

import json
import signal
import sys

import pytest
from agents import Agent, Cluster, master_down_ms, settled_pair, web
from netns import Topology
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
