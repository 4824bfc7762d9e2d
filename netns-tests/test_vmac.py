"""Virtual MACs on the real kernel: only the master ever sends a frame from 00:00:5e:00:01|02:VRID.

A backup that speaks from the virtual MAC (an IGMP/MLD report when a querier asks, SLAAC from a
router advertisement) makes the bridge move the MAC to the backup's port, and the VIP's traffic
follows it there until the master's next frame. Each test captures every frame a node sends at
its bridge port while a querier and a router advertiser run on the link, and probes both VIPs at
200 Hz: no frame from a virtual MAC, no probe lost.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Cluster, skew_ms, web
from frr_vrrp import FrrVrrp, find_vrrpd
from keepalived import Keepalived, VrrpInstance, find_binary
from netns import Process, Topology, wait_until
from probe import Prober, ProbeReport, ProbeRun
from test_maintenance import lost_after_start, maintenance

pytestmark = pytest.mark.netns_timeout(90)
VIPS = {4: "192.0.2.100", 6: "2001:db8::100"}
VIRTUAL_MACS = {"00:00:5e:00:01:33": "vrrp.51", "00:00:5e:00:02:33": "vrrp6.51"}
RATE = 200.0
QUERIER = str(Path(__file__).with_name("querier.py"))
REPORTS = "igmp or icmpv6.type == 143 or icmpv6.type == 131"  # what a querier makes hosts send
MARGIN_MS = 150  # scheduling, probe rate and announcement on a loaded 2-core machine


@pytest.fixture
def tools(netns_prerequisites: None) -> None:
    """tcpdump and tshark capture and decode (keepalived for the interop test): skipped without
    them, except under CI=true where that fails."""
    wanted = {"tcpdump": "tcpdump", "tshark": "tshark"}
    missing = [package for tool, package in wanted.items() if not shutil.which(tool)]
    if missing:
        unavailable(f"virtual-MAC tests need: apt-get install -y {' '.join(missing)}")


def unavailable(message: str) -> None:
    """A missing prerequisite: skip, except under CI=true where that fails."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def vmac_web(priority: int) -> dict[str, Any]:
    """One instance, both families, virtual MACs: routers web/ipv4 (vrrp.51), web/ipv6
    (vrrp6.51)."""
    return web(priority, vips=[f"{VIPS[4]}/24", f"{VIPS[6]}/64"], use_vmac=True)


def kernel_defaults(topology: Topology) -> None:
    """IPv6 addresses removed at link down, as outside these tests (the topology keeps them)."""
    for host in ("lb1", "lb2"):
        for scope in ("all", "default"):
            topology.sysctl(host, f"net.ipv6.conf.{scope}.keep_addr_on_down", 0)


def wait_all(agent: Agent, state: str, timeout: float = 5.0) -> None:
    for family in VIPS:
        agent.wait_state(state, name=f"web/ipv{family}", timeout=timeout)


@dataclass(frozen=True)
class Frame:
    source: str
    protocols: str
    summary: str
    report: bool  # an IGMP or MLD report


class Capture:
    """tcpdump on a host's bridge port (in the bridge namespace): every frame the host sends."""

    def __init__(self, topology: Topology, host: str) -> None:
        self.topology, self.host = topology, host
        self.path = topology.workdir / f"{host}-{len(topology.processes):02d}.pcap"
        port = topology.host(host).port
        argv = ["tcpdump", "-i", port, "-Q", "in", "-nn", "-U", "-Z", "root", "-w", str(self.path)]
        self.process: Process = topology.popen("bridge", argv)
        wait_until(self._listening, 10, what=f"tcpdump on {port}")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"tcpdump exited: {self.process.stderr()}")
        return "listening on" in self.process.stderr()

    def stop(self) -> list[Frame]:
        self.process.stop()
        return [*self._frames(REPORTS, report=True), *self._frames(f"not ({REPORTS})")]

    def _frames(self, display_filter: str, *, report: bool = False) -> list[Frame]:
        fields = ["-e", "eth.src", "-e", "frame.protocols", "-e", "_ws.col.Info"]
        done = subprocess.run(
            ["tshark", "-r", str(self.path), "-Y", display_filter, "-T", "fields", *fields],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        rows = [line.split("\t") for line in done.stdout.splitlines() if line]
        return [Frame(row[0].lower(), row[1], row[-1], report) for row in rows]


def query_the_link(topology: Topology, seconds: float = 4.0) -> None:
    """IGMP and MLD general queries and a router advertisement from the client, every 0.5 s."""
    argv = [sys.executable, QUERIER, "eth0", "--interval", "0.5", "--seconds", str(seconds)]
    querier = topology.popen("client", argv)
    querier.wait_for_output("rounds", timeout=seconds + 30)  # scapy's import is slow


def probe_both(probe: Prober, host: str) -> dict[int, ProbeRun]:
    runs = {family: probe.start(vip, rate=RATE, seconds=60) for family, vip in VIPS.items()}
    for run in runs.values():
        run.wait_for(host, answers=40)
    return runs


def keep_probing(runs: dict[int, ProbeRun], host: str, answers: int = 40) -> None:
    """Until ``host`` answered ``answers`` more probes of each run (reports answer a query within
    its 100 ms maximum response time: 200 ms later every one of them was sent)."""
    for run in runs.values():
        run.wait_for(host, answers=run.count(host) + answers)


def assert_silent(frames: list[Frame], host_mac: str, what: str) -> None:
    spoken = [f for f in frames if f.source in VIRTUAL_MACS]
    assert not spoken, f"{what} sent {len(spoken)} frames from a virtual MAC: " + "; ".join(
        f"{f.source} {f.summary}" for f in spoken[:10]
    )
    # The capture saw the node answer the queries from its own MAC: it would have seen more.
    assert any(f.report and f.source == host_mac for f in frames), frames[:10]


def assert_lossless(reports: dict[int, ProbeReport], hosts: tuple[str, ...]) -> None:
    for report in reports.values():
        assert report.hosts == hosts, report.summary()
        assert lost_after_start(report) == 0, report.summary()


def test_a_virtual_mac_backup_never_speaks_from_the_virtual_mac(
    cluster: Cluster, topology: Topology, probe: Prober, tools: None
) -> None:
    lb1 = cluster.start("lb1", [vmac_web(150)])
    wait_all(lb1, "master")
    capture = Capture(topology, "lb2")  # from before lb2 starts: its start-up counts too
    lb2 = cluster.start("lb2", [vmac_web(100)])
    wait_all(lb2, "backup")
    probe.serve("lb1", "lb2")
    runs = probe_both(probe, "lb1")
    query_the_link(topology)
    keep_probing(runs, "lb1")
    reports = {family: run.stop() for family, run in runs.items()}
    frames = capture.stop()
    assert_silent(frames, topology.mac("lb2"), "the backup")
    assert_lossless(reports, ("lb1",))
    for family, ifname in zip(VIPS, VIRTUAL_MACS.values(), strict=True):  # the RAs built nothing
        held = {a.address for a in topology.addresses("lb1", ifname)}
        assert held == {VIPS[family]}, (ifname, held)  # no SLAAC, no link-local address
    for family in VIPS:
        assert lb2.instance(f"web/ipv{family}")["counters"]["transitions"] == 1  # backup all along


def test_a_virtual_mac_master_hands_over_without_loss_then_falls_silent(
    cluster: Cluster, topology: Topology, probe: Prober, tools: None
) -> None:
    kernel_defaults(topology)
    lb1 = cluster.start("lb1", [vmac_web(150)])
    wait_all(lb1, "master")
    lb2 = cluster.start("lb2", [vmac_web(100)])
    wait_all(lb2, "backup")
    probe.serve("lb1", "lb2")
    runs = probe_both(probe, "lb1")
    maintenance(lb1, "on")  # answers once lb2 holds the VIPs and lb1 has released them
    wait_all(lb2, "master", timeout=1)
    capture = Capture(topology, "lb1")
    query_the_link(topology)
    keep_probing(runs, "lb2")
    frames = capture.stop()
    assert_silent(frames, topology.mac("lb1"), "the old master")
    maintenance(lb1, "off")  # 150 > 100: lb1 preempts, its virtual MACs speak again
    wait_all(lb1, "master", timeout=3)
    wait_all(lb2, "backup", timeout=1)  # lb1's adverts, from the virtual MAC, reach its macvlan
    keep_probing(runs, "lb1")
    reports = {family: run.stop() for family, run in runs.items()}
    assert_lossless(reports, ("lb1", "lb2", "lb1"))
    for family in VIPS:  # its own macvlan going down was no link failure: never in fault
        assert lb2.instance(f"web/ipv{family}")["counters"]["transitions"] == 3, family
    assert "vip_removed_externally" not in lb1.log() + lb2.log()  # our own release, not that


def test_use_vmac_without_proc_sys_names_the_drop_in_and_leaves_no_macvlan(
    cluster: Cluster, topology: Topology
) -> None:
    # What the unit's ProcSubset=pid does: a /proc with the processes only, no /proc/sys.
    only_pids = 'mount -t proc -o subset=pid proc /proc && exec "$0" "$@"'
    wrapper = ["unshare", "--mount", "--pid", "--fork", "sh", "-c", only_pids]
    agent = cluster.agent("lb1", [vmac_web(150)], wrapper=wrapper)
    log = agent.refused()
    assert "ProtectKernelTunables=no and ProcSubset=all for use_vmac" in log, log[-2000:]
    links = topology.ip("lb1", "-o", "link", "show")
    assert not [name for name in VIRTUAL_MACS.values() if f" {name}@" in links], links


def test_a_virtual_mac_backup_of_keepalived_stays_silent_then_takes_over(
    cluster: Cluster, topology: Topology, probe: Prober, tools: None
) -> None:
    """keepalived (use_vmac) is master: its adverts come from the virtual MAC, and the vipguard
    backup hears them on the parent, its own macvlan being down."""
    binary = find_binary()
    if binary is None:
        unavailable("the keepalived interop test needs: apt-get install -y keepalived")
    peer = Keepalived(topology, "lb1", VrrpInstance(150, options=("use_vmac",)), binary)
    try:
        peer.start()
        peer.wait_state("master")
        lb2, run = silent_backup_of_lb1(cluster, topology, probe)
        peer.stop()  # priority 0, VIP removed at once: lb2 takes over after its Skew_Time
        lb2.wait_state("master", timeout=2)
        run.wait_for("lb2", answers=40)
        report = run.stop()
        assert report.hosts == ("lb1", "lb2"), report.summary()
        # Lost probes, not the longest gap: a busy machine can stall the client for a while
        # (scapy loading next to it), which loses nothing.
        outage_ms = lost_after_start(report) * 1000 / RATE
        assert outage_ms <= skew_ms(100) + MARGIN_MS, report.summary()
        assert lb2.instance("web")["counters"]["rejected"] == {}
    finally:
        problems = peer.close()
    assert not problems, problems


def test_a_virtual_mac_backup_of_frr_stays_silent(
    cluster: Cluster, topology: Topology, probe: Prober, tools: None
) -> None:
    """Where this was found: FRR 8.4's vrrpd master, a vipguard backup with use_vmac."""
    if find_vrrpd() is None:
        unavailable("the FRR interop test needs: apt-get install -y frr")
    peer = FrrVrrp(topology, "lb1", 150, VIPS[4])
    try:
        peer.start()
        peer.wait_master()
        lb2, run = silent_backup_of_lb1(cluster, topology, probe)
        report = run.stop()
        assert report.hosts == ("lb1",), report.summary()
        assert lost_after_start(report) == 0, report.summary()
        assert lb2.instance("web")["counters"]["rejected"] == {}
        assert lb2.state() == "backup"
    finally:
        peer.close()


def silent_backup_of_lb1(
    cluster: Cluster, topology: Topology, probe: Prober
) -> tuple[Agent, ProbeRun]:
    """A vipguard use_vmac backup on lb2 of the (foreign) master on lb1, checked silent while
    the link is queried; the 200 Hz probe of the IPv4 VIP still runs."""
    capture = Capture(topology, "lb2")
    lb2 = cluster.start("lb2", [web(100, use_vmac=True, checksum="pseudo-header")])
    lb2.wait_following("192.0.2.11")
    probe.serve("lb1", "lb2")
    run = probe.start(VIPS[4], rate=RATE, seconds=60)
    run.wait_for("lb1", answers=40)
    query_the_link(topology)
    keep_probing({4: run}, "lb1")
    assert_silent(capture.stop(), topology.mac("lb2"), "the backup")
    return lb2, run


def keeps_hearing(agent: Agent, adverts: int = 5) -> None:
    heard = agent.instance("web")["counters"]["adverts_in"]
    wait_until(
        lambda: agent.instance("web")["counters"]["adverts_in"] >= heard + adverts,
        2,
        what=f"{adverts} more adverts heard by {agent.host}",
    )


def test_a_reload_in_and_out_of_use_vmac_keeps_the_backup_following(
    cluster: Cluster, topology: Topology
) -> None:
    """Replacing a router moves it between the parent's socket and a macvlan's: it must keep
    hearing the master on the way in and on the way back (the parent's reader is shared)."""
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master")
    lb2 = cluster.start("lb2", [web(100)])
    lb2.wait_following("192.0.2.11")
    for use_vmac in (True, False):
        lb2.rewrite([web(100, use_vmac=use_vmac)])
        status, output = lb2.reload()
        assert status == 0, output
        lb2.wait_following("192.0.2.11")
        keeps_hearing(lb2)  # a master-down interval later, as a backup
        assert lb2.state() == "backup" and lb1.state() == "master"
        link = json.loads(topology.ip("lb2", "-j", "link", "show"))
        macvlans = {
            entry["ifname"]: entry["flags"] for entry in link if entry["ifname"] == "vrrp.51"
        }
        assert list(macvlans) == (["vrrp.51"] if use_vmac else []), macvlans
        assert "UP" not in macvlans.get("vrrp.51", []), macvlans  # down on a backup
