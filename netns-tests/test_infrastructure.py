"""Tests that prove the namespace infrastructure itself: topology, probe, faults, teardown."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from netns import TOOL, Topology, TopologyError, list_netns, loss_ruleset, vrrp_drop_ruleset
from probe import Prober

pytestmark = pytest.mark.netns_timeout(20)


def test_hosts_reach_each_other_over_ipv4_and_ipv6(topology: Topology, probe: Prober) -> None:
    hosts = ("lb1", "lb2", "client")
    for name in hosts:
        addrs = topology.addresses(name)
        assert not [a for a in addrs if a.flags & {"tentative", "dadfailed"}], addrs
        have = {(a.address, a.prefixlen, a.scope) for a in addrs}
        h = topology.host(name)
        assert {(h.ipv4, 24, "global"), (h.ipv6, 64, "global")} <= have
        assert any(a.scope == "link" and a.address.startswith("fe80:") for a in addrs), addrs
    probe.serve(*hosts)
    runs = {
        (src, dst, family): probe.start(
            getattr(topology.host(dst), family), host=src, count=25, seconds=2.0
        )
        for src in hosts
        for dst in hosts
        if src != dst
        for family in ("ipv4", "ipv6")
    }
    for (src, dst, family), run in runs.items():
        report = run.wait(5.0)
        assert report.sent == 25, (src, dst, family)
        assert report.answered >= 23, (src, dst, family, report.summary())  # first ones may wait
        assert report.hosts == (dst,), (src, dst, family, report.summary())
    macs = {topology.mac(h) for h in hosts}
    assert {n.lladdr for n in topology.neighbours("client")} <= macs


@pytest.mark.parametrize(("vip", "plen"), [("192.0.2.100", 24), ("2001:db8::100", 64)])
def test_probe_measures_a_vip_move(topology: Topology, probe: Prober, vip: str, plen: int) -> None:
    probe.serve("lb1", "lb2")
    topology.ip("lb1", "addr", "add", f"{vip}/{plen}", "dev", "eth0", "nodad")
    run = probe.start(vip, rate=250.0, seconds=8.0)
    run.wait_for("lb1", answers=50, timeout=3.0)

    t_del = time.monotonic()
    topology.ip("lb1", "addr", "del", f"{vip}/{plen}", "dev", "eth0")
    t_deleted = time.monotonic()
    time.sleep(max(0.0, t_del + 0.3 - time.monotonic()))  # the fault schedule, not a sync wait
    t_add = time.monotonic()
    topology.ip("lb2", "addr", "add", f"{vip}/{plen}", "dev", "eth0", "nodad")
    topology.announce("lb2", vip)
    run.wait_for("lb2", answers=50, timeout=3.0)
    report = run.stop()

    print(report.summary())
    assert report.hosts == ("lb1", "lb2"), report.summary()
    assert 0.25 <= report.gap <= 1.0, report.summary()
    assert report.gap_start is not None and report.gap_end is not None
    assert report.gap_start <= t_deleted and report.gap_end >= t_add, report.summary()
    assert report.trailing_lost <= 2, report.summary()
    first, last = report.probes[0].sent, report.probes[-1].sent
    assert (report.sent - 1) / (last - first) >= 200.0  # the probe really runs at >= 200 Hz
    vip_entries = [n for n in topology.neighbours("client") if n.address == vip]
    assert [n.lladdr for n in vip_entries] == [topology.mac("lb2")], vip_entries


def _raw_round(topology: Topology, group: str, count: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """lb1 sends ``count`` proto-112 packets to ``group``, then an END marker unicast to lb2 along
    the same path; lb2's raw receiver counts what arrived before the marker. Returns the sender's
    and the receiver's JSON results."""
    receiver = topology.popen("lb2", [*TOOL, "raw-recv", "eth0", group, "--seconds", "5"])
    receiver.wait_for_output("ready")
    send = [*TOOL, "raw-send", "eth0", group, "--count", str(count)]
    sender = json.loads(topology.ns_exec("lb1", send).stdout)
    lb2 = topology.host("lb2").ipv6 if ":" in group else topology.host("lb2").ipv4
    topology.ns_exec("lb1", [*TOOL, "raw-send", "eth0", lb2, "--payload", "END"])
    receiver.wait(5.0)
    received = json.loads(receiver.stdout().splitlines()[-1])
    assert received["end"], received
    return sender, received


@pytest.mark.parametrize(("group", "comment"), [("224.0.0.18", "vrrp4"), ("ff02::12", "vrrp6")])
@pytest.mark.parametrize(("host", "hook"), [("lb1", "output"), ("lb2", "input")])
def test_nftables_drops_vrrp_multicast(
    topology: Topology, group: str, comment: str, host: str, hook: str
) -> None:
    sender, received = _raw_round(topology, group, 20)
    assert (sender["sent"], received["packets"]) == (20, 20)  # the path works without the rule
    lb1_sources = {topology.host("lb1").ipv4} if ":" not in group else set()
    assert lb1_sources <= set(received["sources"])
    topology.nft(host, vrrp_drop_ruleset(hook=hook))
    sender, received = _raw_round(topology, group, 20)
    assert received["packets"] == 0, received
    assert topology.nft_counters(host)[comment] == 20
    if hook == "output":  # a local drop is reported to the sender
        assert sender == {"sent": 0, "errors": {"EPERM": 20}}, sender


def test_partition_loss_and_link_faults(topology: Topology, probe: Prober) -> None:
    probe.serve("lb2")
    lb2 = topology.host("lb2").ipv4
    topology.partition(["lb1"], ["lb2"])
    cut, other = probe.start(lb2, host="lb1", count=25), probe.start(lb2, count=25)
    assert cut.wait(5.0).answered == 0
    assert other.wait(5.0).answered >= 23
    assert topology.nft_counters("bridge")["lb1>lb2"] > 0  # ARP requests, at least
    topology.heal()  # lb1's ARP entry for lb2 may be INCOMPLETE: next retry within ~1 s
    healed = probe.start(lb2, host="lb1", seconds=5.0)
    print(f"healed: 10 answers after {healed.wait_for('lb2', answers=10, timeout=3.0):.3f}s")
    assert healed.stop().hosts == ("lb2",)

    topology.nft("lb2", loss_ruleset(50))
    lossy = probe.run(lb2, count=400, rate=500.0)
    assert 0.3 <= lossy.lost / lossy.sent <= 0.7, lossy.summary()
    assert 0.3 * 400 <= topology.nft_counters("lb2")["loss"] <= 0.7 * 400
    topology.nft_flush("lb2")

    for carrier in (False, True):
        topology.link_down("lb2", carrier=carrier)
        assert probe.run(lb2, count=10).answered == 0
        topology.link_up("lb2", carrier=carrier)
        run = probe.start(lb2, seconds=5.0)
        took = run.wait_for("lb2", answers=10, timeout=4.0)
        report = run.stop()
        assert report.hosts == ("lb2",), report.summary()
        print(f"carrier={carrier}: 10 answers {took:.3f}s after link up")
    assert {(topology.host("lb2").ipv6, 64)} <= {
        (a.address, a.prefixlen) for a in topology.addresses("lb2")
    }


def test_teardown_removes_everything(netns_prerequisites: None, tmp_path: Path) -> None:
    topo = Topology(workdir=tmp_path)
    try:
        topo.build()
        topo.add_host("backend1")
        proc = Prober(topo).serve("lb1", "backend1")[0]
        assert {topo.ns(h) for h in topo.hosts} | {topo.bridge_ns} <= set(list_netns())
    finally:
        problems = topo.teardown()
    assert problems == []
    assert proc.poll() is not None
    assert not [n for n in list_netns() if topo.tag in n]


def test_two_topologies_coexist_and_names_are_guarded(
    topology: Topology, probe: Prober, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other = Topology(workdir=tmp_path / "other")
    try:
        other.build()
        assert other.tag != topology.tag
        probe.serve("lb1")
        Prober(other).serve("lb1")
        mine = probe.run(topology.host("lb1").ipv4)  # same addresses, separate worlds
        theirs = Prober(other).run(other.host("lb1").ipv4)
        assert mine.answered >= 23 and theirs.answered >= 23
        assert topology.mac("lb1") not in {n.lladdr for n in other.neighbours("client")}

        clash = Topology(tag=topology.tag, workdir=tmp_path)
        with pytest.raises(TopologyError, match="refusing"):
            clash.build()
        assert clash.teardown() == []  # deletes nothing it did not create
        assert topology.ns("lb1") in list_netns()
        with pytest.raises(TopologyError):
            topology.add_host("lb1")
    finally:
        problems = other.teardown()
    assert problems == []
