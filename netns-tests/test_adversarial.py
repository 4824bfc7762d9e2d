"""Adversarial input from a rogue host on the LAN (issue "Production hardening", item 4).

A pair runs as usual (lb1 master at 150, lb2 backup at 100, 100 ms adverts, VIP 192.0.2.100) and
a fourth namespace on the bridge, ``rogue``, attacks it: malformed, truncated, oversized, wrong-TTL,
wrong-checksum, wrong-VRID and wrong-version packets; forged adverts at priority 254 against an
authenticated pair; replays of lb1's real signed adverts; a flood of 10,000 junk packets a second.
Every refusal must be counted under its reason, logged at most once per reason per 10 s, and
change nothing: no transition, lb1 still master, the VIP on lb1 only.

Each forged advert is one the pair *would* obey if it were accepted (priority 254, VRID 51):
the control tests show it, so these tests can fail.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Cluster, settled_pair, web
from netns import Topology, wait_until
from rogue import (
    GROUP,
    GROUP_MAC,
    Captured,
    Packet,
    Rogue,
    Signing,
    advert,
    bad_checksum,
    flood_report,
    with_checksum,
)

pytestmark = pytest.mark.netns_timeout(60)

VIP = "192.0.2.100"
LB1, LB2 = "192.0.2.11", "192.0.2.12"
KEY = bytes.fromhex("00112233445566778899aabbccddeeff" * 2)
WRONG_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100" * 2)
AUTH = {"keys": [{"id": 1, "secret": "hex:" + KEY.hex()}], "active_key": 1}
TIME_WINDOW = 5  # seconds: the default for 100 ms adverts (three intervals, at least 5 s)
LOG_PERIOD = 10.0  # the agent logs each rejection reason at most once per this many seconds
UNKNOWN_VRID = "unknown_vrid"  # counted by the agent, not by an instance
FLOOD_RATE = 10_000
FLOOD_SECONDS = 10.0
CPU_BOUND = 0.90  # of one core


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture
def rogue(topology: Topology) -> Rogue:
    """The rogue namespace (192.0.2.60) with its scapy session; scapy is a test dependency, so
    under CI its absence fails the test instead of skipping it."""
    if importlib.util.find_spec("scapy") is None:
        message = "the adversarial tests need scapy: pip install -e '.[test]'"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Rogue(topology)


def running_pair(cluster: Cluster, **overrides: Any) -> tuple[Agent, Agent]:
    return settled_pair(cluster, web(150, **overrides), web(100, **overrides))


def vip_holders(topology: Topology) -> list[str]:
    return [h for h in ("lb1", "lb2") if any(a.address == VIP for a in topology.addresses(h))]


@dataclass(frozen=True)
class View:
    """What one agent says about itself: state, counters, rejections (unknown VRIDs included)."""

    state: str
    transitions: int
    adverts_in: int
    rejected: Counter[str]
    master: tuple[str, int] | None
    pid: int

    @classmethod
    def of(cls, agent: Agent) -> View:
        status = agent.status()
        (instance,) = status["instances"]
        rejected = Counter(instance["counters"]["rejected"])
        rejected[UNKNOWN_VRID] = status["unknown_vrid_packets"]
        master = instance["master"]
        return cls(
            instance["state"],
            instance["counters"]["transitions"],
            instance["counters"]["adverts_in"],
            +rejected,
            (master["address"], master["priority"]) if master else None,
            status["pid"],
        )


def counted_since(agent: Agent, before: View) -> Counter[str]:
    now = View.of(agent)
    return Counter({k: v - before.rejected[k] for k, v in now.rejected.items()}) - Counter()


def wait_counted(agent: Agent, before: View, total: int, timeout: float = 3.0) -> Counter[str]:
    """Rejections since ``before`` once ``total`` of them arrived (the agent may lag a little)."""
    wait_until(
        lambda: counted_since(agent, before).total() >= total,
        timeout,
        what=f"{total} rejections counted on {agent.host}",
    )
    return counted_since(agent, before)


def assert_undisturbed(topology: Topology, lb1: Agent, lb2: Agent, before: dict[str, View]) -> None:
    """No transition anywhere, lb1 still master and followed by lb2, the VIP on lb1 only."""
    after = {"lb1": View.of(lb1), "lb2": View.of(lb2)}
    for host in ("lb1", "lb2"):
        assert after[host].transitions == before[host].transitions, (host, after[host])
    assert (after["lb1"].state, after["lb2"].state) == ("master", "backup")
    assert after["lb2"].master == (LB1, 150)
    assert after["lb2"].adverts_in > before["lb2"].adverts_in  # it still hears the real master
    assert vip_holders(topology) == ["lb1"]
    for agent in (lb1, lb2):
        log = agent.log()
        for bad in ("packet_failed", "core_failed", "effect_failed", "task_failed"):
            assert bad not in log, f"{agent.host}: {bad} in the log:\n{log[-3000:]}"


def rejection_log_lines(agent: Agent) -> Counter[str]:
    """How many `advert_rejected` lines the agent logged, per reason."""
    lines = [line for line in agent.log().splitlines() if "event=advert_rejected" in line]
    return Counter(m.group(1) for line in lines if (m := re.search(r"\breason=(\S+)", line)))


def assert_rate_limited(agent: Agent, reasons: Iterable[str], elapsed: float) -> None:
    """Each reason logged at least once and at most once per 10 s since its first refusal."""
    logged = rejection_log_lines(agent)
    allowed = 1 + int(elapsed // LOG_PERIOD)
    for reason in reasons:
        assert 1 <= logged[reason] <= allowed, (agent.host, reason, logged, elapsed)


def report(tmp_path: Path, name: str, figures: dict[str, Any]) -> None:
    """Measured figures: printed, and kept in the test's directory whatever pytest captures."""
    text = json.dumps(figures, indent=2, sort_keys=True)
    (tmp_path / f"{name}.json").write_text(text + "\n")
    print(f"\n{name}: {text}")


# ------------------------------------------------------------------ malformed packets


def malformed_cases() -> list[tuple[str, str, Packet]]:
    """(what, expected reason, packet addressed to the VRRP group): each would make lb1 step
    down and lb2 follow it if it were accepted (priority 254 > 150)."""
    good = advert()  # VRRPv3, VRID 51, priority 254, 100 ms, one address
    junk = random.Random(4).randbytes(60_000)
    cases: list[tuple[str, str, bytes, dict[str, Any]]] = [
        ("TTL 64", "bad_ttl", good, {"ttl": 64}),
        ("TTL 254", "bad_ttl", good, {"ttl": 254}),
        ("4-byte payload", "too_short", good[:4], {}),
        ("7-byte payload", "too_short", good[:7], {}),
        ("count 1, no address", "bad_length", with_checksum(good[:8]), {}),
        ("count 255, one address", "bad_length", advert(count=255), {}),
        ("1000 bytes too long", "bad_length", good + junk[:1000], {}),
        ("60 kB, fragmented", "bad_length", good + junk, {}),
        ("checksum wrong", "bad_checksum", bad_checksum(good), {}),
        ("checksum wrong, IP options", "bad_checksum", bad_checksum(good), {"router_alert": True}),
        ("version 1", "bad_version", advert(version=1), {}),
        ("version 4", "bad_version", advert(version=4), {}),
        ("version 15", "bad_version", advert(version=15), {}),
        ("VRRPv2 to a v3 router", "version_mismatch", advert(version=2, interval_cs=100), {}),
        ("type 0", "bad_type", advert(kind=0), {}),
        ("type 2", "bad_type", advert(kind=2), {}),
        ("no addresses", "no_addresses", advert(addresses=()), {}),
        ("interval 0", "bad_interval", advert(interval_cs=0), {}),
        ("VRID 52", UNKNOWN_VRID, advert(vrid=52), {}),
        ("VRID 0", UNKNOWN_VRID, advert(vrid=0), {}),
        # Too short to carry a VRID: the agent cannot tell whose it is (counted per agent).
        ("1-byte payload", UNKNOWN_VRID, good[:1], {}),
        ("empty payload", UNKNOWN_VRID, b"", {}),
    ]
    return [
        (what, reason, Packet(GROUP_MAC, GROUP, payload, label=what, **ip))
        for what, reason, payload, ip in cases
    ]


def test_malformed_packets_are_refused_counted_and_change_nothing(
    cluster: Cluster, topology: Topology, rogue: Rogue
) -> None:
    lb1, lb2 = running_pair(cluster)
    before = {"lb1": View.of(lb1), "lb2": View.of(lb2)}
    cases = malformed_cases()
    lb2_mac = topology.mac("lb2")
    unicast = [
        Packet(lb2_mac, LB2, p.payload, ttl=p.ttl, router_alert=p.router_alert) for *_, p in cases
    ]
    rounds = 3  # several of each within the log period: one line per reason all the same
    started = time.monotonic()
    rogue.send([p for *_, p in cases] + unicast, rounds=rounds, gap=0.05)

    expected_lb1 = Counter(reason for _, reason, _ in cases for _ in range(rounds))  # multicast
    expected_lb2 = Counter({reason: 2 * n for reason, n in expected_lb1.items()})
    counted_lb2 = wait_counted(lb2, before["lb2"], expected_lb2.total())
    counted_lb1 = wait_counted(lb1, before["lb1"], expected_lb1.total())
    time.sleep(0.5)  # five advert intervals: any delayed effect of a wrongly accepted packet
    assert counted_since(lb2, before["lb2"]) == counted_lb2 == expected_lb2
    assert counted_since(lb1, before["lb1"]) == counted_lb1 == expected_lb1
    assert_undisturbed(topology, lb1, lb2, before)
    elapsed = time.monotonic() - started
    per_instance = set(expected_lb2) - {UNKNOWN_VRID}
    assert_rate_limited(lb2, per_instance, elapsed)
    assert_rate_limited(lb1, per_instance, elapsed)


def test_random_junk_carrying_our_vrid_is_refused_and_changes_nothing(
    cluster: Cluster, topology: Topology, rogue: Rogue
) -> None:
    lb1, lb2 = running_pair(cluster)
    before = {"lb1": View.of(lb1), "lb2": View.of(lb2)}
    rng = random.Random(112)
    payloads = []
    for index in range(300):
        raw = bytearray(rng.randbytes(rng.randint(2, 400)))
        raw[1] = 51
        if index % 3 == 0:
            raw[0] = 0x31  # VRRPv3 advertisement: gets past the version and type checks
        payloads.append(bytes(raw))
    lb2_mac = topology.mac("lb2")
    rogue.send([Packet(lb2_mac, LB2, payload) for payload in payloads])
    counted = wait_counted(lb2, before["lb2"], len(payloads))
    time.sleep(0.5)
    assert counted_since(lb2, before["lb2"]).total() == len(payloads), counted
    assert_undisturbed(topology, lb1, lb2, before)


# ------------------------------------------------------------------ forged adverts


def forgeries() -> list[tuple[str, str, Packet]]:
    """Priority-254 adverts with a correct VRRP checksum but no valid signature."""
    message = advert()
    fresh_wrong = Signing(WRONG_KEY)
    return [
        ("no trailer", "auth_missing", Packet(GROUP_MAC, GROUP, message)),
        ("wrong key", "auth_bad_hmac", Packet(GROUP_MAC, GROUP, message, sign=fresh_wrong)),
        (
            "lb1's address, wrong key",
            "auth_bad_hmac",
            Packet(GROUP_MAC, GROUP, message, src=LB1, sign=fresh_wrong),
        ),
        (
            "unknown key id 9",
            "auth_unknown_key",
            Packet(GROUP_MAC, GROUP, message, sign=Signing(WRONG_KEY, key_id=9)),
        ),
        (
            "extension type 2",
            "auth_malformed",
            Packet(GROUP_MAC, GROUP, message, sign=Signing(KEY, ext_type=2)),
        ),
        (
            "right key, an hour old",
            "auth_stale",
            Packet(GROUP_MAC, GROUP, message, sign=Signing(KEY, age=3600)),
        ),
    ]


def test_forged_adverts_cannot_take_over_an_authenticated_pair(
    cluster: Cluster, topology: Topology, rogue: Rogue
) -> None:
    lb1, lb2 = running_pair(cluster, auth=AUTH)
    before = {"lb1": View.of(lb1), "lb2": View.of(lb2)}
    cases = forgeries()
    rounds = 15  # 1.5 s of a would-be master at 254: lb1 steps down at the first one accepted
    started = time.monotonic()
    rogue.send([p for *_, p in cases], rounds=rounds, gap=0.1)
    expected_lb2: Counter[str] = Counter()
    expected_lb1: Counter[str] = Counter()
    for _, reason, packet in cases:
        expected_lb2[reason] += rounds
        if packet.src != LB1:  # lb1's kernel drops a packet from its own address (martian)
            expected_lb1[reason] += rounds
    counted_lb2 = wait_counted(lb2, before["lb2"], expected_lb2.total())
    counted_lb1 = wait_counted(lb1, before["lb1"], expected_lb1.total())
    time.sleep(0.5)
    assert counted_lb2 == expected_lb2
    assert counted_lb1 == expected_lb1
    assert_undisturbed(topology, lb1, lb2, before)
    elapsed = time.monotonic() - started
    assert_rate_limited(lb2, expected_lb2, elapsed)


def takeover_while_sending(
    rogue: Rogue, lb1: Agent, lb2: Agent, topology: Topology, packet: Packet
) -> None:
    """The rogue advertises at 254 for 3 s; meanwhile lb1 must step down and lb2 follow the
    rogue; once it is quiet, lb1 takes the VIP back."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sending = pool.submit(rogue.send, [packet], rounds=30, gap=0.1)
        lb1.wait_state("backup", timeout=2)
        wait_until(
            lambda: View.of(lb2).master == (rogue.ipv4, 254), 2, what="lb2 following the rogue"
        )
        wait_until(lambda: vip_holders(topology) == [], 1, what="lb1 releasing the VIP")
        assert lb2.state() == "backup"
        sending.result(timeout=15)
    lb1.wait_state("master", timeout=3)
    assert vip_holders(topology) == ["lb1"]


def test_control_without_auth_the_same_rogue_takes_over(
    cluster: Cluster, topology: Topology, rogue: Rogue
) -> None:
    """The control case: the forged advert of the test above, against a pair without auth."""
    lb1, lb2 = running_pair(cluster)
    takeover_while_sending(rogue, lb1, lb2, topology, Packet(GROUP_MAC, GROUP, advert()))
    assert View.of(lb2).rejected == Counter()


def test_control_a_rogue_holding_the_pair_key_takes_over(
    cluster: Cluster, topology: Topology, rogue: Rogue
) -> None:
    """The other control: signed with the pair's own key (by this file's independent signer),
    the rogue is obeyed, so the refusals above are about the key and nothing else."""
    lb1, lb2 = running_pair(cluster, auth=AUTH)
    forged = Packet(GROUP_MAC, GROUP, advert(), sign=Signing(KEY))
    takeover_while_sending(rogue, lb1, lb2, topology, forged)


# ------------------------------------------------------------------ replay


def replay_expectations(
    captured: list[Captured], sent: dict[str, Any], copies: int
) -> tuple[int, int]:
    """(certainly fresh, certainly stale) among the replays of one send: stale means the
    trailer's seconds are more than the window behind the receiver's clock (whole seconds)."""
    fresh = stale = 0
    for packet in captured:
        assert packet.sequence is not None
        seconds = packet.sequence >> 32
        if sent["ended"] < seconds + TIME_WINDOW + 1 - 0.25:
            fresh += copies
        elif sent["started"] >= seconds + TIME_WINDOW + 1 + 0.25:
            stale += copies
    return fresh, stale


def assert_replays_refused(
    lb2: Agent, before: View, captured: list[Captured], sent: dict[str, Any], copies: int
) -> Counter[str]:
    total = len(captured) * copies
    counted = wait_counted(lb2, before, total)
    fresh, stale = replay_expectations(captured, sent, copies)
    assert set(counted) <= {"auth_replay", "auth_stale"}, counted
    assert counted.total() == total, counted
    assert counted["auth_replay"] >= fresh and counted["auth_stale"] >= stale, (counted, fresh)
    return counted


def test_replayed_adverts_are_refused_and_do_not_demote_the_new_master(
    cluster: Cluster, topology: Topology, rogue: Rogue
) -> None:
    lb1, lb2 = running_pair(cluster, auth=AUTH)
    captured = rogue.capture(LB1, count=10, seconds=3)
    assert len(captured) >= 5, captured
    assert all(c.sequence is not None and c.payload[2] == 150 for c in captured)
    lb2_mac = topology.mac("lb2")
    # The IP packets as lb1 sent them (its source address), to the group and unicast to lb2.
    replays = [Packet(GROUP_MAC, ip=c.ip) for c in captured]
    replays += [Packet(lb2_mac, LB2, ip=c.ip) for c in captured]

    # 1. lb1 alive and master: lb2 has newer sequences from it already.
    before = View.of(lb2)
    sent = rogue.send(replays)
    first = assert_replays_refused(lb2, before, captured, sent, copies=2)
    assert (lb1.state(), lb2.state()) == ("master", "backup")

    # 2. lb1 stops gracefully and lb2 takes over; lb1's replayed adverts (priority 150 > 100)
    # would demote lb2 at once if one were accepted.
    assert lb1.stop() == 0
    lb2.wait_state("master", timeout=2)
    took_over = View.of(lb2)
    assert lb2.instance("web")["last_transition"]["reason"] == "priority_zero_received"
    sent = rogue.send(replays, rounds=5, gap=0.1)
    second = assert_replays_refused(lb2, took_over, captured, sent, copies=10)

    # 3. After the time window the same bytes are stale.
    oldest = min(c.sequence >> 32 for c in captured if c.sequence is not None)
    newest = max(c.sequence >> 32 for c in captured if c.sequence is not None)
    time.sleep(max(0.0, newest + TIME_WINDOW + 1.5 - time.time()))
    before_stale = View.of(lb2)
    sent = rogue.send(replays, rounds=5, gap=0.1)
    third = assert_replays_refused(lb2, before_stale, captured, sent, copies=10)
    assert third == Counter({"auth_stale": len(captured) * 10}), (third, oldest)

    time.sleep(0.5)
    after = View.of(lb2)
    assert after.state == "master"
    assert after.transitions == took_over.transitions
    assert lb2.instance("web")["last_transition"]["reason"] == "priority_zero_received"
    assert vip_holders(topology) == ["lb2"]
    assert first["auth_replay"] > 0 and second["auth_replay"] > 0


# ------------------------------------------------------------------ flood


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads) from /proc/PID/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid: int, seconds: float) -> float:
    """The fraction of one core ``pid`` used over the next ``seconds``."""
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def settled_count(agent: Agent, before: View) -> Counter[str]:
    """Rejections since ``before`` once the count stops growing (the queue has drained)."""
    counted = counted_since(agent, before)
    for _ in range(50):
        time.sleep(0.2)
        now = counted_since(agent, before)
        if now == counted:
            break
        counted = now
    return counted


@pytest.mark.netns_timeout(60)
@pytest.mark.parametrize(
    ("target", "kind", "authenticated"),
    [("lb2", "junk", False), ("lb1", "junk", False), ("lb2", "forged", True)],
    ids=["junk-at-backup", "junk-at-master", "forged-hmac-at-backup"],
)
def test_a_flood_changes_nothing_and_costs_bounded_cpu(
    cluster: Cluster,
    topology: Topology,
    rogue: Rogue,
    target: str,
    kind: str,
    authenticated: bool,
    tmp_path: Path,
    record_property: Any,
) -> None:
    """10,000 packets a second for 10 s at one agent: ``junk`` (malformed in many ways) or
    ``forged`` (perfect adverts with a random tag: an HMAC each, the costliest refusal)."""
    lb1, lb2 = running_pair(cluster, **({"auth": AUTH} if authenticated else {}))
    agents = {"lb1": lb1, "lb2": lb2}
    victim = agents[target]
    before = {"lb1": View.of(lb1), "lb2": View.of(lb2)}
    pid = before[target].pid
    idle = cpu_share(pid, 2.0)

    address = topology.host(target).ipv4
    flood = rogue.flood(address, rate=FLOOD_RATE, seconds=FLOOD_SECONDS, kind=kind)
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    slowest_status, states = 0.0, set()
    for _ in range(int(FLOOD_SECONDS / 0.5) + 20):  # watch both agents while it lasts
        if flood.poll() is not None:
            break
        asked = time.monotonic()
        states.add((lb1.state(), lb2.state()))
        slowest_status = max(slowest_status, time.monotonic() - asked)
        time.sleep(0.5)
    flood.wait(FLOOD_SECONDS + 10)
    busy = (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)
    sent = flood_report(flood)
    counted = settled_count(victim, before[target])

    figures = {
        "target": f"{target} ({before[target].state})",
        "flood": kind,
        "target_rate_pps": FLOOD_RATE,
        "sent": sent.sent,
        "send_errors": sent.errors,
        "seconds": round(sent.seconds, 3),
        "achieved_rate_pps": round(sent.rate),
        "counted_by_agent": counted.total(),
        "not_counted (dropped before the agent read them)": sent.sent - counted.total(),
        "reasons": dict(counted),
        "agent_cpu_idle_percent": round(idle * 100, 1),
        "agent_cpu_flood_percent": round(busy * 100, 1),
        "slowest_status_ms": round(slowest_status * 1000, 1),
        "states_seen": sorted(map(list, states)),
    }
    report(tmp_path, f"flood-{kind}-{target}", figures)
    for key in ("achieved_rate_pps", "agent_cpu_flood_percent", "counted_by_agent"):
        record_property(key, figures[key])

    assert sent.rate >= FLOOD_RATE * 0.5, figures  # otherwise this is not the flood it claims
    assert states == {("master", "backup")}, figures
    assert_undisturbed(topology, lb1, lb2, before)
    assert busy < CPU_BOUND, figures
    # 100,000 refusals, yet each reason logged at most once per 10 s.
    assert_rate_limited(victim, set(counted) - {UNKNOWN_VRID}, time.monotonic() - start)
    assert counted.total() >= sent.sent * 0.5, figures  # it read (and refused) the flood
    if kind == "forged":
        assert set(counted) == {"auth_bad_hmac"}, figures
