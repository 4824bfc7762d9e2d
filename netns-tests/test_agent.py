"""vipguard agents on the real kernel: election, failover, preemption, faults, IPv6, unicast,
several VRIDs and authentication, measured from a client probing the VIP at 250 Hz."""

from __future__ import annotations

import signal
import time

import pytest
from agents import Agent, Cluster, master_down_ms, skew_ms, web
from netns import Topology, vrrp_drop_ruleset, wait_until
from probe import Prober, ProbeRun

pytestmark = pytest.mark.netns_timeout(40)
VIP = "192.0.2.100"
KEY = "hex:" + "00112233445566778899aabbccddeeff" * 2
OTHER_KEY = "hex:" + "ffeeddccbbaa99887766554433221100" * 2
MARGIN_MS = 150  # scheduling, probe rate (4 ms) and announcement on a loaded 2-core machine


def pair(cluster: Cluster, lb1: dict, lb2: dict) -> tuple[Agent, Agent]:
    first = cluster.start("lb1", [lb1])
    second = cluster.start("lb2", [lb2])
    return first, second


def probed_pair(
    cluster: Cluster, probe: Prober, lb1: dict, lb2: dict, vip: str = VIP
) -> tuple[Agent, Agent, ProbeRun]:
    """lb1 master, lb2 backup, and the client probing the VIP (lb1 answering already)."""
    first, second = pair(cluster, lb1, lb2)
    first.wait_state("master")
    second.wait_state("backup")
    probe.serve("lb1", "lb2")
    run = probe.start(vip, seconds=8)
    run.wait_for("lb1", answers=25)
    return first, second, run


def vip_holders(topology: Topology, address: str = VIP) -> list[str]:
    return [
        host
        for host in ("lb1", "lb2")
        if any(a.address == address for a in topology.addresses(host))
    ]


# ------------------------------------------------------------------ election


def test_highest_priority_becomes_master(cluster: Cluster, topology: Topology) -> None:
    lb1, lb2 = pair(cluster, web(150), web(100))
    lb1.wait_state("master")
    lb2.wait_state("backup")
    lb2.wait_following("192.0.2.11")
    assert vip_holders(topology) == ["lb1"]
    status = lb2.instance("web")
    assert status["master"]["address"] == "192.0.2.11"
    assert status["master"]["priority"] == 150
    assert status["counters"]["adverts_in"] > 0
    assert status["counters"]["rejected"] == {}


def test_equal_priority_goes_to_the_higher_address(cluster: Cluster, topology: Topology) -> None:
    lb1, lb2 = pair(cluster, web(100), web(100))
    lb2.wait_state("master")
    lb1.wait_state("backup")
    time.sleep(0.5)  # a few adverts later it is still settled
    assert (lb1.state(), lb2.state()) == ("backup", "master")
    assert vip_holders(topology) == ["lb2"]


def test_address_owner_is_master_at_once(cluster: Cluster) -> None:
    lb2 = cluster.start("lb2", [web(100)])
    lb2.wait_state("master", timeout=2)
    started = time.monotonic()
    lb1 = cluster.start("lb1", [web(255)])
    lb1.wait_state("master", timeout=1)
    took = time.monotonic() - started
    assert lb1.instance("web")["last_transition"]["reason"] == "address_owner"
    lb2.wait_state("backup", timeout=1)
    assert took < 1.0  # agent start-up included; without ownership it would wait 300+ ms more


# ------------------------------------------------------------------ failover


def test_crash_of_the_master_hands_the_vip_to_the_backup(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    lb1, lb2, run = probed_pair(cluster, probe, web(150), web(100))
    lb1.kill(signal.SIGKILL)  # the process dies; the host stays up with its stale VIP
    killed = time.monotonic()
    lb2.wait_state("master", timeout=2)
    run.wait_for("lb2", answers=1, timeout=2)
    takeover_ms = (time.monotonic() - killed) * 1000
    report = run.stop()
    assert takeover_ms <= master_down_ms(100) + MARGIN_MS, report.summary()
    assert report.hosts == ("lb1", "lb2")
    assert lb2.instance("web")["counters"]["announcements"] >= 1


def test_host_dying_loses_at_most_the_master_down_interval(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    _, lb2, run = probed_pair(cluster, probe, web(150), web(100))
    topology.link_down("lb1", carrier=True)  # its cable is pulled
    lb2.wait_state("master", timeout=2)
    run.wait_for("lb2", answers=25, timeout=2)
    report = run.stop()
    assert report.hosts == ("lb1", "lb2")
    assert report.gap * 1000 <= master_down_ms(100) + MARGIN_MS, report.summary()


def test_graceful_stop_hands_over_within_skew_time(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    lb1, lb2, run = probed_pair(cluster, probe, web(150), web(100))
    assert lb1.process
    lb1.process.signal(signal.SIGTERM)
    took = lb2.wait_state("master", timeout=2)
    assert took * 1000 <= skew_ms(100) + MARGIN_MS  # the priority-0 advert left at once
    assert lb1.process.wait(5) == 0
    run.wait_for("lb2", answers=25, timeout=2)
    report = run.stop()
    assert lb2.instance("web")["last_transition"]["reason"] == "priority_zero_received"
    assert vip_holders(topology) == ["lb2"]
    assert report.hosts == ("lb1", "lb2")
    assert report.gap * 1000 <= skew_ms(100) + 100, report.summary()


# ------------------------------------------------------------------ preemption


def test_higher_priority_preempts_when_it_returns(cluster: Cluster, topology: Topology) -> None:
    lb1, lb2 = pair(cluster, web(150), web(100))
    lb1.wait_state("master")
    lb1.stop()
    lb2.wait_state("master", timeout=1)
    lb1.start()
    lb1.wait_state("master", timeout=2)
    assert lb1.instance("web")["last_transition"]["reason"] == "preempted_lower_priority"
    lb2.wait_state("backup", timeout=1)
    assert vip_holders(topology) == ["lb1"]


def test_preempt_false_keeps_the_incumbent(cluster: Cluster, topology: Topology) -> None:
    lb1, lb2 = pair(cluster, web(150, preempt=False), web(100, preempt=False))
    lb1.wait_state("master")
    lb1.stop()
    lb2.wait_state("master", timeout=1)
    lb1.start()
    lb1.wait_state("backup", timeout=2)
    time.sleep(1.0)  # three master-down intervals: it would have preempted by now
    assert (lb1.state(), lb2.state()) == ("backup", "master")
    assert vip_holders(topology) == ["lb2"]


def test_preempt_delay_postpones_the_takeover(cluster: Cluster) -> None:
    lb1, lb2 = pair(cluster, web(150, preempt_delay="1s"), web(100))
    lb1.wait_state("master")
    lb1.stop()
    lb2.wait_state("master", timeout=1)
    lb1.start()
    started = time.monotonic()
    lb1.wait_state("master", timeout=4)
    waited = time.monotonic() - started
    assert 1.0 <= waited <= 1.0 + master_down_ms(150) / 1000 + 0.5


# ------------------------------------------------------------------ faults


def test_interface_down_faults_and_returns(cluster: Cluster, topology: Topology) -> None:
    lb1, lb2 = pair(cluster, web(150), web(100))
    lb1.wait_state("master")
    topology.ip("lb1", "link", "set", "eth0", "down")
    lb1.wait_state("fault", timeout=1)
    lb2.wait_state("master", timeout=2)
    status = lb1.instance("web")
    assert status["priority"]["faults"] == ["interface:eth0"]
    assert status["vips"] == [{"address": "192.0.2.100/24", "bound": False}]
    assert vip_holders(topology) == ["lb2"]
    topology.ip("lb1", "link", "set", "eth0", "up")
    lb1.wait_state("backup", timeout=2)
    lb1.wait_state("master", timeout=3)  # preempts again once its adverts flow
    lb2.wait_state("backup", timeout=1)


def test_stale_vip_from_a_crash_is_removed_before_starting(
    cluster: Cluster, topology: Topology
) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master")
    topology.ip("lb2", "addr", "add", "192.0.2.100/24", "dev", "eth0")  # left by a crashed agent
    lb2 = cluster.start("lb2", [web(100)])
    lb2.wait_state("backup")
    assert vip_holders(topology) == ["lb1"]
    assert "stale_vip_removed" in lb2.log()


# ------------------------------------------------------------------ IPv6, unicast, VRIDs


def test_ipv6_vip_moves_and_the_client_neighbour_cache_follows(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    vip6 = "2001:db8::100"
    instance = {"vips": [f"{vip6}/64"]}
    lb1, lb2, run = probed_pair(cluster, probe, web(150, **instance), web(100, **instance), vip6)
    lb1.kill(signal.SIGKILL)
    lb2.wait_state("master", timeout=2)
    run.wait_for("lb2", answers=25, timeout=2)
    report = run.stop()
    assert report.hosts == ("lb1", "lb2")
    entries = [n for n in topology.neighbours("client") if n.address == vip6]
    assert entries and entries[0].lladdr == topology.mac("lb2")


def test_unicast_peers_work_without_multicast(
    cluster: Cluster, topology: Topology, probe: Prober
) -> None:
    for host in ("lb1", "lb2"):
        topology.nft(host, vrrp_drop_ruleset())  # no multicast VRRP leaves either host
    lb1, lb2, run = probed_pair(
        cluster,
        probe,
        web(150, unicast_source="192.0.2.11", unicast_peers=["192.0.2.12"]),
        web(100, unicast_source="192.0.2.12", unicast_peers=["192.0.2.11"]),
    )
    assert lb2.instance("web")["mode"] == "unicast"
    lb1.kill(signal.SIGKILL)
    lb2.wait_state("master", timeout=2)
    run.wait_for("lb2", answers=1, timeout=2)
    assert run.stop().hosts == ("lb1", "lb2")


def test_several_vrids_on_one_interface_fail_over_independently(
    cluster: Cluster, topology: Topology
) -> None:
    def api(priority: int) -> dict:
        return web(priority, name="api", vrid=52, vips=["192.0.2.101/24"])

    lb1 = cluster.start("lb1", [web(150), api(100)])
    lb2 = cluster.start("lb2", [web(100), api(150)])
    lb1.wait_state("master", "web")
    lb2.wait_state("master", "api")
    lb1.wait_state("backup", "api")
    # Silence only lb1's VRID 51 adverts (the byte after version/type is the VRID).
    topology.nft(
        "lb1",
        "table inet vgvrid {\n chain out {\n  type filter hook output priority 0;\n"
        "  meta l4proto 112 @th,8,8 51 drop\n }\n}\n",
    )
    lb2.wait_state("master", "web", timeout=2)
    time.sleep(0.5)
    assert lb2.state("api") == "master" and lb1.state("api") == "backup"
    assert lb2.instance("api")["counters"]["transitions"] == 2  # startup, then master once


# ------------------------------------------------------------------ authentication


def test_authenticated_pair_elects_normally(cluster: Cluster) -> None:
    auth = {"keys": [{"id": 1, "secret": KEY}], "active_key": 1}
    lb1, lb2 = pair(cluster, web(150, auth=auth), web(100, auth=auth))
    lb1.wait_state("master")
    lb2.wait_state("backup")
    lb2.wait_following("192.0.2.11")
    status = lb2.instance("web")
    assert status["auth"] == "enforce"
    assert status["counters"]["rejected"] == {}
    assert status["master"]["address"] == "192.0.2.11"


def test_mismatched_keys_are_refused_and_status_says_so(cluster: Cluster) -> None:
    lb1, lb2 = pair(
        cluster,
        web(150, auth={"keys": [{"id": 1, "secret": KEY}], "active_key": 1}),
        web(100, auth={"keys": [{"id": 1, "secret": OTHER_KEY}], "active_key": 1}),
    )
    lb1.wait_state("master")
    lb2.wait_state("master")  # it cannot hear the real master: the split brain auth exposes
    for agent in (lb1, lb2):
        assert agent.instance("web")["counters"]["rejected"].get("auth_bad_hmac", 0) > 0


# ------------------------------------------------------------------ virtual MAC


@pytest.mark.parametrize(
    ("vip", "vmac", "ifname"),
    [
        ("192.0.2.100", "00:00:5e:00:01:33", "vrrp.51"),
        ("2001:db8::100", "00:00:5e:00:02:33", "vrrp6.51"),
    ],
)
def test_virtual_mac_keeps_the_clients_neighbour_entry_across_failover(
    cluster: Cluster, topology: Topology, probe: Prober, vip: str, vmac: str, ifname: str
) -> None:
    prefix = 24 if "." in vip else 64
    instance = {"vips": [f"{vip}/{prefix}"], "use_vmac": True}
    lb1, lb2, run = probed_pair(cluster, probe, web(150, **instance), web(100, **instance), vip)
    assert lb1.instance("web")["vmac"] == ifname
    assert any(a.address == vip for a in topology.addresses("lb1", ifname))
    before = [n.lladdr for n in topology.neighbours("client") if n.address == vip]
    topology.link_down("lb1", carrier=True)  # the host dies (a killed agent alone would leave
    lb1.kill(signal.SIGKILL)  # its VIP answering from the same MAC: two ports, one MAC)
    lb2.wait_state("master", timeout=2)
    run.wait_for("lb2", answers=25, timeout=3)
    report = run.stop()
    after = [n.lladdr for n in topology.neighbours("client") if n.address == vip]
    assert before == after == [vmac]
    assert report.hosts == ("lb1", "lb2")
    lb2.stop()
    assert ifname not in topology.ip("lb2", "-o", "link", "show")  # removed at shutdown


# ------------------------------------------------------------------ refusing to start


def test_a_second_agent_on_the_same_socket_leaves_the_first_untouched(
    cluster: Cluster, topology: Topology
) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master")
    intruder = cluster.agent("lb1", [web(150)])  # same config, same control socket
    assert "another vipguard agent" in intruder.refused()
    assert lb1.state() == "master"
    assert vip_holders(topology) == ["lb1"]


def test_a_vip_that_is_the_interfaces_own_address_is_refused(
    cluster: Cluster, topology: Topology
) -> None:
    agent = cluster.agent("lb1", [web(150, vips=["192.0.2.11/24"])])
    assert "is eth0's own address" in agent.refused()
    assert any(a.address == "192.0.2.11" for a in topology.addresses("lb1"))


# ------------------------------------------------------------------ addresses changed underneath


def test_a_vip_removed_by_hand_is_put_back_and_announced(
    cluster: Cluster, topology: Topology
) -> None:
    lb1, _ = pair(cluster, web(150), web(100))
    lb1.wait_state("master")
    announced = lb1.instance("web")["counters"]["announcements"]
    topology.ip("lb1", "addr", "del", "192.0.2.100/24", "dev", "eth0")
    wait_until(lambda: vip_holders(topology) == ["lb1"], 2, what="VIP back on lb1")
    assert "vip_removed_externally" in lb1.log()
    wait_until(lambda: lb1.instance("web")["counters"]["announcements"] > announced, 2)
    assert lb1.state() == "master"


def test_losing_the_source_address_faults_until_it_returns(
    cluster: Cluster, topology: Topology
) -> None:
    lb1, lb2 = pair(cluster, web(150), web(100))
    lb1.wait_state("master")
    topology.ip("lb1", "addr", "del", "192.0.2.11/24", "dev", "eth0")
    lb1.wait_state("fault", timeout=1)
    lb2.wait_state("master", timeout=1)
    assert lb1.instance("web")["priority"]["faults"] == ["source-address"]
    assert vip_holders(topology) == ["lb2"]
    topology.ip("lb1", "addr", "add", "192.0.2.11/24", "dev", "eth0")
    lb1.wait_state("master", timeout=3)
    lb2.wait_state("backup", timeout=1)


def test_instances_on_two_interfaces_fail_over_independently(
    cluster: Cluster, topology: Topology
) -> None:
    """A front network (eth0 on br0) and a back network (eth1 on a second bridge, br1)."""
    topology.add_back_network()

    def back(priority: int) -> dict:
        return web(priority, name="back", interface="eth1", vrid=60, vips=["198.51.100.100/24"])

    lb1 = cluster.start("lb1", [web(150), back(150)])
    lb2 = cluster.start("lb2", [web(100), back(100)])
    for name in ("web", "back"):
        lb1.wait_state("master", name)
        lb2.wait_state("backup", name)
    topology.ip("lb1", "link", "set", "eth1", "down")
    lb1.wait_state("fault", "back", timeout=1)
    lb2.wait_state("master", "back", timeout=2)
    assert (lb1.state("web"), lb2.state("web")) == ("master", "backup")
    assert lb1.instance("web")["counters"]["transitions"] == 2  # startup, master: untouched
