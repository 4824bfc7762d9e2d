"""The make-before-break window, seen from a client's neighbour cache.

During a handover both nodes hold the VIP from the new master's first advert until the old master
releases it (HANDOVER_GRACE later). A client that resolves the VIP's MAC in that window must learn
the new master's: the old master stops answering ARP for the VIP (while still accepting packets
to it), and a vipguard new master announces again after the old one's release.

The client probes the VIP at 200 Hz while the test, driven by what a capture on the client shows
(the new master's first advert opens the window, the VIP leaving the old master closes it),
flushes the client's neighbour entry for the VIP and waits for it to be resolved again, over and
over. It must end on the new master's MAC without a lost probe, and no ARP reply (IPv6: NA) from
the old master may reach the client in the window; against a vipguard and a keepalived (Debian
2.2.7) backup, for maintenance and for a graceful stop. The control runs the old master where
libnftables cannot be loaded (the agent logs it and hands over as before): its answers in the
window are counted, and the client ends on its MAC.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from agents import Agent, Cluster, web
from keepalived import Keepalived, VrrpInstance, find_binary
from netns import Process, Topology, wait_until
from probe import Prober, ProbeReport

pytestmark = pytest.mark.netns_timeout(60)
# The old master is on lb2: the bridge floods a broadcast to its newest ports first, so lb2 gets
# a client's ARP request (and answers it) before lb1. Without suppression the old master's answer
# comes first and wins (a second answer within the kernel's locktime of 1 s changes nothing), so
# the client caches the old MAC: the hard case, not the lucky one.
OLD, NEW = "lb2", "lb1"
RATE = 200.0
MAX_RESOLUTIONS = 200  # a bound for the loop; the window ends it long before
FRAME = re.compile(
    r"^(?P<time>\d+\.\d+) (?P<src>[0-9a-f:]{17}) > (?P<dst>[0-9a-f:]{17}), (?P<rest>.*)$"
)
ALL_NODES_MAC = "33:33:00:00:00:01"


@dataclass(frozen=True)
class Family:
    """What differs between IPv4 (ARP) and IPv6 (ND) in these tests, as tcpdump prints it."""

    vip: str
    prefix: int
    capture: str  # tcpdump filter: neighbour discovery and VRRP
    group: str  # where adverts go
    answer: str  # how an answer naming the VIP prints (solicited or not)

    @property
    def vip_cidr(self) -> str:
        return f"{self.vip}/{self.prefix}"

    def is_answer(self, frame: Frame) -> bool:
        return bool(re.search(self.answer, frame.text))

    def is_reply(self, frame: Frame) -> bool:
        """An answer to the client's own request: to its MAC, not to everyone."""
        return self.is_answer(frame) and frame.dest_mac not in ("ff:ff:ff:ff:ff:ff", ALL_NODES_MAC)

    def is_announcement(self, frame: Frame) -> bool:
        return self.is_answer(frame) and not self.is_reply(frame)


IPV4 = Family(
    "192.0.2.100",
    24,
    "arp or ip proto 112",
    "224.0.0.18",
    r"Reply 192\.0\.2\.100 is-at |Request who-has 192\.0\.2\.100 (\(\S+\) )?tell 192\.0\.2\.100\b",
)
IPV6 = Family(
    "2001:db8::100",
    64,
    "icmp6 or ip6 proto 112",
    "ff02::12",
    r"neighbor advertisement, tgt is 2001:db8::100,",
)


@dataclass(frozen=True)
class Frame:
    time: float  # wall clock, as tcpdump stamps it
    source_mac: str
    dest_mac: str
    text: str


class Capture:
    """tcpdump on the client's eth0: neighbour discovery and VRRP frames with their MACs."""

    def __init__(self, topology: Topology, family: Family) -> None:
        argv = ["tcpdump", "-l", "-n", "-e", "-tt", "-i", "eth0", family.capture]
        self.family = family
        self.process: Process = topology.popen("client", argv)
        wait_until(lambda: "listening on" in self.process.stderr(), 10.0, what="tcpdump ready")

    def frames(self) -> list[Frame]:
        found = []
        for line in self.process.stdout().splitlines():
            match = FRAME.match(line)
            if match:
                found.append(Frame(float(match["time"]), match["src"], match["dst"], match["rest"]))
        return found

    def first_advert(self, source: str, since: float) -> float | None:
        """When the first advert at a real priority from ``source`` reached the client."""
        group = re.escape(self.family.group)
        pattern = (
            rf"(?P<source>\S+) > {group}: VRRPv\d, Advertisement, vrid \d+, prio (?P<prio>\d+)"
        )
        for frame in self.frames():
            advert = re.search(pattern, frame.text)
            if (
                frame.time >= since
                and advert
                and advert["source"] == source
                and advert["prio"] != "0"
            ):
                return frame.time
        return None

    def replies(self, mac: str, start: float, end: float) -> int:
        """ARP replies / NAs for the VIP from ``mac`` to the client in [start, end]."""
        return sum(
            1
            for frame in self.frames()
            if start <= frame.time <= end
            and frame.source_mac == mac
            and self.family.is_reply(frame)
        )

    def announcements(self, mac: str, after: float) -> int:
        """Gratuitous ARPs / unsolicited NAs for the VIP from ``mac`` after ``after``."""
        return sum(
            1
            for frame in self.frames()
            if frame.time > after and frame.source_mac == mac and self.family.is_announcement(frame)
        )


@dataclass
class Window:
    opened: float  # the new master's first advert at the client (wall clock)
    closed: float  # the VIP seen gone from the old master (wall clock)
    resolved: list[str]  # the MAC the client resolved the VIP to, after each flush in the window

    @property
    def length_ms(self) -> float:
        return (self.closed - self.opened) * 1000


def holds_vip(topology: Topology, host: str, vip: str) -> bool:
    return any(a.address == vip for a in topology.addresses(host))


def client_mac_for(topology: Topology, vip: str) -> str | None:
    for entry in topology.neighbours("client"):
        if entry.address == vip and entry.lladdr and "FAILED" not in entry.state:
            return entry.lladdr
    return None


def advert_source(topology: Topology, host: str, family: Family) -> str:
    if family is IPV4:
        return topology.host(host).ipv4
    return next(a.address for a in topology.addresses(host) if a.scope == "link")


def resolve_through_the_window(topology: Topology, capture: Capture, since: float) -> Window:
    """Wait for the new master's first advert, then flush and re-resolve the client's entry for
    the VIP until the old master has released it."""
    vip, new = capture.family.vip, advert_source(topology, NEW, capture.family)
    wait_until(lambda: capture.first_advert(new, since), 5.0, what="the new master's first advert")
    opened = capture.first_advert(new, since)
    assert opened is not None
    resolved: list[str] = []
    for _ in range(MAX_RESOLUTIONS):
        if not holds_vip(topology, OLD, vip):
            return Window(opened, time.time(), resolved)
        topology.ip("client", "neigh", "flush", "to", vip, "dev", "eth0")
        wait_until(lambda: client_mac_for(topology, vip), 2.0, what="the client resolving it")
        mac = client_mac_for(topology, vip)
        assert mac is not None
        resolved.append(mac)
    raise AssertionError(f"the old master still held {vip} after {MAX_RESOLUTIONS} resolutions")


Finish = Callable[[], None]


def maintenance_on(agent: Agent) -> Finish:
    """`vipguard maintenance on` in the background; the returned call waits until it has
    answered (once the handover is done)."""
    argv = [sys.executable, "-m", "vipguard", "maintenance", "on", "--socket", str(agent.socket)]
    command = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finished() -> None:
        try:
            _out, err = command.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            command.kill()  # by its PID; the test fails below
            _out, err = command.communicate(timeout=5)
        assert command.returncode == 0, err

    return finished


def graceful_stop(agent: Agent) -> Finish:
    """SIGTERM (`systemctl stop`); the returned call waits for a clean exit."""
    assert agent.process
    process = agent.process
    process.signal(signal.SIGTERM)

    def finished() -> None:
        assert process.wait(10) == 0, agent.log()[-2000:]

    return finished


TRIGGERS = [pytest.param(maintenance_on, id="maintenance"), pytest.param(graceful_stop, id="stop")]


def lost_after_start(report: ProbeReport) -> int:
    return report.lost - report.leading_lost - report.trailing_lost


@pytest.fixture
def keepalived_backup(topology: Topology, netns_prerequisites: None) -> Iterator[Keepalived]:
    binary = find_binary()
    if binary is None:
        message = "the keepalived backup needs keepalived: apt-get install -y keepalived"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    ka = Keepalived(topology, NEW, VrrpInstance(priority=100), binary=binary)
    yield ka
    problems = ka.close()
    if problems:
        pytest.fail("keepalived teardown: " + "; ".join(problems), pytrace=False)


@dataclass
class Handover:
    window: Window
    report: ProbeReport
    old_replies: int  # ARP replies / NAs from the old master that reached the client in the window
    final_mac: str | None
    repeats: int  # announcements from the new master after the old master's release
    old_log: str
    wall_offset: float  # time.time() - time.monotonic(): probes carry monotonic times

    def lost_ms(self) -> list[int]:
        """When lost probes were sent, in ms from the window's opening (negative: before)."""
        lost = [p for p in self.report.probes if p.replied is None]
        opened = self.window.opened - self.wall_offset
        return [round((p.sent - opened) * 1000) for p in lost]

    def figures(self) -> str:
        return (
            f"window={self.window.length_ms:.0f}ms resolutions={len(self.window.resolved)}"
            f" resolved_to={dict(Counter(self.window.resolved))}"
            f" old_master_replies={self.old_replies} lost={lost_after_start(self.report)}"
            f" lost_sent_ms={_span(self.lost_ms())}"
            f" final={self.final_mac} repeats_after_release={self.repeats}"
        )


def _span(values: list[int]) -> str:
    return f"{values[0]}..{values[-1]}" if values else "-"


def hand_over(
    topology: Topology,
    probe: Prober,
    old: Agent,
    wait_backup_master: Callable[[], object],
    family: Family = IPV4,
    trigger: Callable[[Agent], Finish] = maintenance_on,
) -> Handover:
    """The old master (already started) hands over (``trigger``) while the client resolves the VIP
    again and again in the window; what the client saw."""
    probe.serve(OLD, NEW)
    run = probe.start(family.vip, rate=RATE, seconds=20)
    run.wait_for(OLD, answers=40)
    capture = Capture(topology, family)
    since = time.time()
    offset = since - time.monotonic()
    finished = trigger(old)
    try:
        window = resolve_through_the_window(topology, capture, since)
    finally:
        finished()
    wait_backup_master()
    run.wait_for(NEW, answers=int(RATE * 0.5), timeout=5.0)
    report = run.stop()
    old_mac, new_mac = topology.mac(OLD), topology.mac(NEW)
    return Handover(
        window=window,
        report=report,
        old_replies=capture.replies(old_mac, window.opened, window.closed),
        final_mac=client_mac_for(topology, family.vip),
        repeats=capture.announcements(new_mac, window.closed),
        old_log=old.log(),
        wall_offset=offset,
    )


def assert_clients_end_on_the_new_master(topology: Topology, seen: Handover) -> None:
    new_mac = topology.mac(NEW)
    print(f"MEASURED {seen.figures()}")
    assert seen.window.resolved, f"no resolution inside the window: {seen.figures()}"
    assert seen.old_replies == 0, seen.figures()
    assert set(seen.window.resolved) == {new_mac}, seen.figures()
    assert seen.final_mac == new_mac, seen.figures()
    assert lost_after_start(seen.report) == 0, seen.report.summary()
    assert "event=vip_answers_stopped" in seen.old_log
    assert "neighbour_suppression" not in seen.old_log


def settled_with_vipguard_backup(
    cluster: Cluster, family: Family = IPV4, old_wrapper: tuple[str, ...] = ()
) -> tuple[Agent, Agent]:
    vips = [family.vip_cidr]
    old = cluster.agent(OLD, [web(150, vips=vips)], wrapper=old_wrapper).start()
    old.wait_state("master")
    new = cluster.start(NEW, [web(100, vips=vips)])
    new.wait_state("backup")
    new.wait_following(advert_source(cluster.topology, OLD, family))
    return old, new


@pytest.mark.parametrize(
    ("family", "trigger"),
    [
        pytest.param(IPV4, maintenance_on, id="ipv4-maintenance"),
        pytest.param(IPV6, maintenance_on, id="ipv6-maintenance"),
        pytest.param(IPV4, graceful_stop, id="ipv4-stop"),
    ],
)
def test_a_client_resolving_during_a_handover_to_vipguard_ends_on_the_new_master(
    cluster: Cluster,
    topology: Topology,
    probe: Prober,
    family: Family,
    trigger: Callable[[Agent], Finish],
) -> None:
    old, new = settled_with_vipguard_backup(cluster, family)
    seen = hand_over(
        topology, probe, old, lambda: new.wait_state("master", timeout=3), family, trigger
    )
    assert_clients_end_on_the_new_master(topology, seen)
    assert seen.repeats >= 1, (
        seen.figures()
    )  # the new master announced again after the old master's release


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_client_resolving_during_a_handover_to_keepalived_ends_on_the_new_master(
    cluster: Cluster,
    topology: Topology,
    probe: Prober,
    keepalived_backup: Keepalived,
    trigger: Callable[[Agent], Finish],
) -> None:
    old = cluster.agent(OLD, [web(150, checksum="pseudo-header")]).start()
    old.wait_state("master")
    keepalived_backup.start()
    keepalived_backup.wait_state("backup")
    old.wait_state("master")
    seen = hand_over(
        topology,
        probe,
        old,
        lambda: keepalived_backup.wait_state("master", timeout=3),
        trigger=trigger,
    )
    assert_clients_end_on_the_new_master(topology, seen)


def test_control_without_suppression_the_old_master_answers_in_the_window(
    cluster: Cluster, topology: Topology, probe: Prober, tmp_path: Path
) -> None:
    """What the tests above guard against: the old master cannot load libnftables (a stand-in
    that is no shared object), logs it, and hands over as before. Its answers reach the client
    first, so the client resolves the VIP to the old MAC in the window, and is black-holed
    from the old master's release until the new master's repeated announcement."""
    broken = tmp_path / "nolib"
    broken.mkdir()
    (broken / "libnftables.so.1").write_text("not a shared object\n")
    old, new = settled_with_vipguard_backup(
        cluster, old_wrapper=("env", f"LD_LIBRARY_PATH={broken}")
    )
    assert "event=neighbour_suppression_unavailable" in old.log()
    seen = hand_over(topology, probe, old, lambda: new.wait_state("master", timeout=3))
    print(f"MEASURED control {seen.figures()}")
    assert seen.window.resolved, seen.figures()
    assert seen.old_replies >= 1, seen.figures()
    assert "vip_answers_stopped" not in seen.old_log
    assert topology.mac(OLD) in seen.window.resolved, seen.figures()
    assert seen.repeats >= 1, seen.figures()  # the new master's repeat corrects such clients
    assert seen.final_mac == topology.mac(NEW), seen.figures()
