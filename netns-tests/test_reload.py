"""Hitless reload (SIGHUP and `vipguard reload`) on the real kernel, probed at 250 Hz."""

from __future__ import annotations

import signal

import pytest
from agents import Cluster, drain_tracker, web
from netns import Topology, wait_until
from probe import Prober

pytestmark = pytest.mark.netns_timeout(40)
VIP = "192.0.2.100"


def api(priority: int) -> dict:
    return web(priority, name="api", vrid=52, vips=["192.0.2.101/24"])


def holders(topology: Topology, address: str) -> list[str]:
    return [h for h in ("lb1", "lb2") if any(a.address == address for a in topology.addresses(h))]


def test_reload_keeps_unchanged_instances_without_losing_a_probe(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    lb1 = cluster.start("lb1", [web(150), api(150)])
    lb2 = cluster.start("lb2", [web(100), api(100)])
    lb1.wait_state("master")
    lb1.wait_state("master", "api")
    probe.serve("lb1", "lb2")
    run = probe.start(VIP, seconds=10)
    run.wait_for("lb1", answers=50)
    before = lb1.instance("web")["counters"]["transitions"]
    # web unchanged, api's priority lowered (still above lb2), a new instance added
    lb1.rewrite([web(150), api(120), web(150, name="db", vrid=53, vips=["192.0.2.102/24"])])
    status, output = lb1.reload()
    assert status == 0, output
    assert "kept     web" in output and "changed  api" in output and "added    db" in output
    lb1.wait_state("master", "db", timeout=2)
    run.wait_for("lb1", answers=100)
    report = run.stop()
    assert report.lost == 0, report.summary()
    assert report.hosts == ("lb1",)
    assert lb1.instance("web")["counters"]["transitions"] == before
    assert lb1.instance("api")["priority"]["effective"] == 120
    assert lb1.state("api") == "master"
    assert lb2.instance("api")["master"]["priority"] == 120  # advertised at once


def test_sighup_removes_an_instance_gracefully(cluster: Cluster, topology: Topology) -> None:
    lb1 = cluster.start("lb1", [web(150), api(150)])
    lb2 = cluster.start("lb2", [web(100), api(100)])
    lb1.wait_state("master", "api")
    lb2.wait_state("backup", "api")
    lb1.rewrite([web(150)])
    assert lb1.process
    lb1.process.signal(signal.SIGHUP)
    lb2.wait_state("master", "api", timeout=1)
    assert lb2.instance("api")["last_transition"]["reason"] == "priority_zero_received"
    wait_until(lambda: holders(topology, "192.0.2.101") == ["lb2"], 1)
    assert [i["name"] for i in lb1.status()["instances"]] == ["web"]
    assert lb1.state("web") == "master"


def test_an_invalid_file_is_refused_and_the_running_config_stays(
    cluster: Cluster, topology: Topology
) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master")
    lb1.config.write_text(lb1.config.read_text().replace("vrid = 51", "vrid = 300"))
    status, output = lb1.reload()
    assert status == 2
    assert "reload refused" in output and "vrid" in output and "1..255" in output
    assert lb1.state() == "master"
    assert holders(topology, VIP) == ["lb1"]


def test_a_reload_naming_a_missing_interface_changes_nothing(
    cluster: Cluster, topology: Topology
) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master")
    lb1.rewrite([web(150), api(150) | {"interface": "eth9"}])
    status, output = lb1.reload()
    assert status == 2 and "eth9" in output
    assert [i["name"] for i in lb1.status()["instances"]] == ["web"]
    assert holders(topology, VIP) == ["lb1"]


def test_adding_an_ipv6_vip_leaves_the_ipv4_router_alone(
    cluster: Cluster, topology: Topology
) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master")
    transitions = lb1.instance("web")["counters"]["transitions"]
    lb1.rewrite([web(150, vips=["192.0.2.100/24", "2001:db8::100/64"])])
    status, output = lb1.reload()
    assert status == 0, output
    assert "web/ipv4" in output.splitlines()[0] and "added    web/ipv6" in output
    assert lb1.instance("web/ipv4")["counters"]["transitions"] == transitions
    lb1.wait_state("master", "web/ipv6", timeout=2)
    assert holders(topology, VIP) == ["lb1"]


def test_reload_changing_trackers_never_faults_a_healthy_master(cluster: Cluster) -> None:
    drain, tracker = drain_tracker(cluster, 0, weight=0)  # weight 0: a fault would show
    lb1 = cluster.agent("lb1", [web(150, track=["drain"])], tables={"tracker": [tracker]}).start()
    lb1.wait_state("master", timeout=3)
    before = lb1.instance("web")["counters"]["transitions"]
    changed = tracker | {"interval": "200ms"}  # a changed tracker starts anew
    proxy = {"name": "other", "tcp": "127.0.0.1:9", "interval": "100ms"}  # a new one, unused
    lb1.tables = {"tracker": [changed, proxy]}
    lb1.rewrite([web(150, track=["drain"])])
    status, output = lb1.reload()
    assert status == 0, output
    assert lb1.state() == "master"
    assert lb1.instance("web")["counters"]["transitions"] == before  # never in Fault
    assert lb1.instance("web")["trackers"][0]["up"] is True
    drain.write_text("1\n")  # and the new tracker works
    lb1.wait_state("fault", timeout=2)
