"""Node fitness on the real kernel: trackers move mastership (weights, a failing local HTTP
service, an interface), sync groups move together, hooks run in order with the right arguments."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Cluster, drain_tracker, web
from netns import Topology, wait_until
from probe import Prober

pytestmark = pytest.mark.netns_timeout(60)
HEALTH_PORT = 8080


def local_service(topology: Topology, host: str, docroot: Path) -> None:
    """An HTTP server on the host's loopback (the "local proxy"): /healthz answers 200 while the
    file exists and 404 once it is removed."""
    docroot.mkdir(parents=True, exist_ok=True)
    (docroot / "healthz").write_text("ok\n")
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory"]
    topology.popen(host, [*argv, str(docroot), str(HEALTH_PORT)])


def http_tracker(**overrides: Any) -> dict[str, Any]:
    tracker = {
        "name": "proxy",
        "http": f"http://127.0.0.1:{HEALTH_PORT}/healthz",
        "interval": "100ms",
        "timeout": "100ms",
        "rise": 5,
        "fall": 2,
    }
    return tracker | overrides


def tracker_line(agent: Agent, tracker: str, instance: str = "web") -> dict[str, Any]:
    lines = agent.instance(instance)["trackers"]
    return next(line for line in lines if line["name"] == tracker)


def test_a_failing_local_http_service_fails_over_and_recovery_obeys_rise(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    docroot = cluster.workdir / "lb1-www"
    local_service(topology, "lb1", docroot)
    tables = {"tracker": [http_tracker()]}
    lb1 = cluster.agent("lb1", [web(150, track=["proxy"])], tables=tables).start()
    lb2 = cluster.start("lb2", [web(100)])
    lb1.wait_state("master")
    lb2.wait_state("backup")
    line = tracker_line(lb1, "proxy")
    assert (line["up"], line["fault"], line["kind"]) == (True, False, "http")
    probe.serve("lb1", "lb2")
    run = probe.start("192.0.2.100", seconds=15)
    run.wait_for("lb1", answers=25)

    (docroot / "healthz").unlink()  # the local proxy now answers 404
    noticed = lb1.wait_state("fault", timeout=3)
    lb2.wait_state("master", timeout=2)
    run.wait_for("lb2", answers=25)
    line = tracker_line(lb1, "proxy")
    assert (line["up"], line["fault"]) == (False, True)
    assert "404" in line["detail"]
    # fall = 2: two failed checks, 100 ms apart, plus scheduling
    assert 0.1 <= noticed < 0.1 + 0.1 + 0.5

    (docroot / "healthz").write_text("ok\n")
    rose = wait_until(lambda: tracker_line(lb1, "proxy")["up"], 5, what="proxy tracker up")
    assert rose >= 4 * 0.1  # rise = 5: five good checks 100 ms apart, the first at once at best
    lb1.wait_state("master", timeout=3)  # then preempts back
    run.wait_for("lb1", answers=run.count("lb1") + 25)
    report = run.stop()
    assert report.hosts[-1] == "lb1"


# ------------------------------------------------------------------ weights


def add_uplink(topology: Topology) -> None:
    """An "uplink" on lb1: a veth pair up0/up0p inside it, both ends up."""
    topology.ip("lb1", "link", "add", "up0", "type", "veth", "peer", "up0p")
    for end in ("up0", "up0p"):
        topology.ip("lb1", "link", "set", end, "up")


def test_weights_move_mastership_file_and_interface(cluster: Cluster, topology: Topology) -> None:
    drain, drain_config = drain_tracker(cluster, 0)
    add_uplink(topology)
    uplink = {"name": "uplink", "interface": "up0", "weight": -60}
    tables = {"tracker": [drain_config, uplink]}
    instance = web(150, track=[{"tracker": "drain", "weight": -1}, "uplink"])
    lb1 = cluster.agent("lb1", [instance], tables=tables).start()
    lb2 = cluster.start("lb2", [web(100)])
    lb1.wait_state("master")
    lb2.wait_state("backup")

    drain.write_text("60\n")  # 150 - 60 = 90 < 100: lb2 preempts
    lb2.wait_state("master", timeout=3)
    lb1.wait_state("backup", timeout=1)
    priority = lb1.instance("web")["priority"]
    assert priority["effective"] == 90
    assert priority["contributions"]["tracker:drain"] == -60
    assert tracker_line(lb1, "drain")["value"] == 60

    drain.write_text("0\n")
    lb1.wait_state("master", timeout=3)
    assert lb1.instance("web")["priority"]["effective"] == 150

    topology.ip("lb1", "link", "set", "up0", "down")  # weight -60 while down
    lb2.wait_state("master", timeout=3)
    line = tracker_line(lb1, "uplink")
    assert (line["up"], line["contribution"], line["kind"]) == (False, -60, "interface")
    assert lb1.instance("web")["priority"]["effective"] == 90
    topology.ip("lb1", "link", "set", "up0", "up")
    lb1.wait_state("master", timeout=3)

    topology.ip("lb1", "link", "del", "up0")  # the interface goes away, and comes back anew
    lb2.wait_state("master", timeout=3)
    add_uplink(topology)
    lb1.wait_state("master", timeout=3)
    assert tracker_line(lb1, "uplink")["up"] is True


# ------------------------------------------------------------------ sync groups


def front_and_back(priority: int) -> list[dict[str, Any]]:
    back = web(priority, name="back", interface="eth1", vrid=60, vips=["198.51.100.100/24"])
    return [web(priority), back]


def sync_pair(cluster: Cluster, topology: Topology, **lb1_tables: Any) -> tuple[Agent, Agent]:
    topology.add_back_network()
    group = {"sync_group": [{"name": "lb", "instances": ["web", "back"]}]}
    lb1 = cluster.agent("lb1", front_and_back(150), tables=group | lb1_tables).start()
    lb2 = cluster.agent("lb2", front_and_back(100), tables=group).start()
    for name in ("web", "back"):
        lb1.wait_state("master", name)
        lb2.wait_state("backup", name)
    return lb1, lb2


def states(agent: Agent) -> tuple[str, str]:
    return agent.state("web"), agent.state("back")


def test_a_sync_group_moves_together_when_one_side_fails(
    cluster: Cluster, topology: Topology
) -> None:
    lb1, lb2 = sync_pair(cluster, topology)
    assert lb1.instance("web")["sync_group"]["members"] == ["web", "back"]
    topology.ip("lb1", "link", "set", "eth1", "down")  # only the back side breaks
    wait_until(lambda: states(lb1) == ("fault", "fault"), 2, what="lb1 front follows its back")
    assert lb1.instance("web")["priority"]["faults"] == ["sync-group"]
    wait_until(lambda: states(lb2) == ("master", "master"), 3, what="lb2 takes both sides")
    assert [a.address for a in topology.addresses("lb1") if a.address.endswith(".100")] == []
    topology.ip("lb1", "link", "set", "eth1", "up")
    wait_until(lambda: states(lb1) == ("master", "master"), 5, what="lb1 back on both sides")
    wait_until(lambda: states(lb2) == ("backup", "backup"), 2, what="lb2 backup on both")


def test_a_sync_group_shares_its_trackers_so_priorities_move_together(
    cluster: Cluster, topology: Topology
) -> None:
    drain, tracker = drain_tracker(cluster, 0)
    topology.add_back_network()
    group = {"sync_group": [{"name": "lb", "instances": ["web", "back"]}]}
    front, back = front_and_back(150)
    front["track"] = [{"tracker": "drain", "weight": -1}]  # named by the front only
    lb1 = cluster.agent("lb1", [front, back], tables=group | {"tracker": [tracker]}).start()
    lb2 = cluster.agent("lb2", front_and_back(100), tables=group).start()
    wait_until(lambda: states(lb1) == ("master", "master"), 5, what="lb1 master of both")
    drain.write_text("60\n")
    wait_until(lambda: states(lb2) == ("master", "master"), 3, what="lb2 takes both sides")
    # lb1 lets go of a side once lb2 holds it (a sync step-down hands over, with its grace)
    wait_until(lambda: states(lb1) == ("backup", "backup"), 1, what="lb1 backup on both")
    assert lb1.instance("back")["priority"]["effective"] == 90


def test_a_hung_script_never_delays_the_adverts(cluster: Cluster) -> None:
    hung = {"name": "hung", "script": ["/bin/sleep", "30"], "interval": "100ms", "timeout": "500ms"}
    instance = web(150, track=[{"tracker": "hung", "weight": -10}])
    lb1 = cluster.agent("lb1", [instance], tables={"tracker": [hung]}).start()
    lb2 = cluster.start("lb2", [web(100)])
    lb1.wait_state("master", timeout=5)
    lb2.wait_following("192.0.2.11")
    sent, heard = lb1.instance("web")["counters"]["adverts_out"], lb2.instance("web")
    time.sleep(3.0)  # a measurement window, not synchronisation: adverts every 100 ms
    after = lb2.instance("web")
    assert after["counters"]["transitions"] == heard["counters"]["transitions"]  # no flap
    received = after["counters"]["adverts_in"] - heard["counters"]["adverts_in"]
    assert 28 <= received <= 32  # 3 s of 100 ms adverts, while the script hangs and is killed
    assert lb1.instance("web")["counters"]["adverts_out"] - sent >= 28
    line = tracker_line(lb1, "hung")
    assert (line["up"], line["contribution"]) == (False, -10) and "timeout" in line["detail"]
