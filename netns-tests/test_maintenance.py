"""Maintenance and graceful stop between two vipguard nodes, measured from a client probing the
VIP at 200 Hz: make-before-break handover loses no probe, and maintenance survives a restart."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from agents import Agent, Cluster, settled_pair, web
from netns import Topology, wait_until
from probe import Prober, ProbeReport, ProbeRun

pytestmark = pytest.mark.netns_timeout(60)
VIP = "192.0.2.100"
RATE = 200.0


def probed(
    cluster: Cluster, probe: Prober, interval: str = "100ms"
) -> tuple[Agent, Agent, ProbeRun]:
    lb1, lb2 = settled_pair(
        cluster, web(150, advert_interval=interval), web(100, advert_interval=interval)
    )
    probe.serve("lb1", "lb2")
    run = probe.start(VIP, rate=RATE, seconds=20)
    run.wait_for("lb1", answers=40)
    return lb1, lb2, run


def lost_after_start(report: ProbeReport) -> int:
    """Probes lost once the client had reached the VIP (not while it first resolved it)."""
    return report.lost - report.leading_lost - report.trailing_lost


def maintenance(agent: Agent, mode: str, *instance: str) -> str:
    """`vipguard maintenance MODE [INSTANCE]` against ``agent``; its output."""
    argv = [sys.executable, "-m", "vipguard", "maintenance", mode, *instance]
    done = subprocess.run(
        [*argv, "--socket", str(agent.socket)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def vip_holders(topology: Topology) -> list[str]:
    return [h for h in ("lb1", "lb2") if any(a.address == VIP for a in topology.addresses(h))]


@pytest.mark.parametrize("interval", ["100ms", "20ms"])
def test_maintenance_hands_over_without_losing_a_probe(
    cluster: Cluster, topology: Topology, probe: Prober, interval: str
) -> None:
    lb1, lb2, run = probed(cluster, probe, interval)
    output = maintenance(lb1, "on")
    assert lb1.state() == "maintenance"  # the command answers once the handover is done
    assert lb2.state() == "master"
    assert lb2.instance("web")["last_transition"]["reason"] == "priority_zero_received"
    assert "maintenance" in output
    run.wait_for("lb2", answers=40)
    report = run.stop()
    assert report.hosts == ("lb1", "lb2")
    assert lost_after_start(report) == 0, report.summary()
    assert vip_holders(topology) == ["lb2"]


def test_maintenance_survives_a_restart_and_off_restores_the_election(
    cluster: Cluster, topology: Topology
) -> None:
    lb1, lb2 = settled_pair(cluster, web(150), web(100))
    maintenance(lb1, "on", "web")
    lb1.stop()
    lb1.start()  # as after a reboot: the state directory says "maintenance"
    assert lb1.state() == "maintenance"
    assert lb1.instance("web")["maintenance"] is True
    lb1.wait_following("192.0.2.12")  # it sees who holds the VIP, and leaves it there
    assert vip_holders(topology) == ["lb2"] and lb2.state() == "master"
    maintenance(lb1, "off")
    lb1.wait_state("master", timeout=3)  # 150 > 100: rejoins and preempts
    assert vip_holders(topology) == ["lb1"]


def test_graceful_stop_hands_over_without_losing_a_probe(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    lb1, lb2, run = probed(cluster, probe)
    assert lb1.process
    lb1.process.signal(signal.SIGTERM)
    assert lb1.process.wait(5) == 0
    assert lb2.state() == "master"  # lb1 let go only after lb2 held the VIP
    run.wait_for("lb2", answers=40)
    report = run.stop()
    assert report.hosts == ("lb1", "lb2")
    assert lost_after_start(report) == 0, report.summary()
    assert vip_holders(topology) == ["lb2"]


def test_a_lone_node_stopping_waits_at_most_master_down_interval(cluster: Cluster) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master", timeout=3)
    assert lb1.process
    bound = lb1.instance("web")["master_down_interval_ms"] / 1000
    lb1.process.signal(signal.SIGTERM)
    took = wait_until(lambda: lb1.process.poll() is not None, bound + 2, what="lb1 exit")
    assert lb1.process.wait(1) == 0
    assert bound - 0.05 <= took <= bound + 1.0
