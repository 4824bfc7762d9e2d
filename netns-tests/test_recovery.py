"""Recovery: a crash that leaves the VIP behind, a stalled master, a stepped wall clock, and an
agent confined to the two capabilities the systemd unit grants it."""

from __future__ import annotations

import glob
import os
import signal
import time
from pathlib import Path

import pytest
from agents import Cluster, master_down_ms, settled_pair, web
from netns import Topology, wait_until
from probe import Prober

pytestmark = pytest.mark.netns_timeout(40)
VIP = "192.0.2.100"
KEY = "hex:" + "00112233445566778899aabbccddeeff" * 2
AUTH = {"keys": [{"id": 1, "secret": KEY}], "active_key": 1}
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")


def holders(topology: Topology) -> set[str]:
    return {h for h in ("lb1", "lb2") if any(a.address == VIP for a in topology.addresses(h))}


def longest_dual_ownership(topology: Topology, seconds: float) -> float:
    """Poll both hosts for ``seconds`` (bounded) and return the longest time both held the VIP."""
    longest, since = 0.0, None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = time.monotonic()
        if holders(topology) == {"lb1", "lb2"}:
            since = now if since is None else since
            longest = max(longest, now - since)
        else:
            since = None
        time.sleep(0.01)
    return longest


def test_restart_after_a_crash_removes_the_stale_vip_before_anything_else(
    cluster: Cluster, topology: Topology
) -> None:
    lb1, _ = settled_pair(cluster, web(150), web(100))
    lb1.kill(signal.SIGKILL)  # the VIP stays on lb1's interface
    assert "lb1" in holders(topology)
    lb1.start()  # what systemd's Restart=on-failure does
    dual = longest_dual_ownership(topology, 1.5)
    log = lb1.log()
    assert log.index("stale_vip_removed") < log.index("state_changed")
    lb1.wait_state("master", timeout=2)  # it preempts again, with the VIP bound once
    assert holders(topology) == {"lb1"}
    assert dual * 1000 <= master_down_ms(100)


@pytest.mark.parametrize(("stopped", "other"), [(150, 100), (100, 150)])
def test_a_master_stalled_past_the_master_down_interval_resolves_on_resume(
    cluster: Cluster, topology: Topology, probe: Prober, stopped: int, other: int
) -> None:
    """SIGSTOP the master: the backup takes over; SIGCONT: the election rules pick one master
    again at once, and the winner re-announces so the client follows it."""
    lb1 = cluster.start("lb1", [web(stopped)] if stopped > other else [web(stopped, preempt=False)])
    lb1.wait_state("master")
    lb2 = cluster.start("lb2", [web(other, preempt=False)])
    lb2.wait_state("backup")
    probe.serve("lb1", "lb2")
    run = probe.start(VIP, seconds=12)
    run.wait_for("lb1", answers=25)
    lb1.kill(signal.SIGSTOP)
    lb2.wait_state("master", timeout=2)
    time.sleep(0.5)
    winner, loser = (lb1, lb2) if stopped > other else (lb2, lb1)
    announced = lb2.instance("web")["counters"]["announcements"]
    lb1.kill(signal.SIGCONT)
    loser.wait_state("backup", timeout=1)
    assert winner.state() == "master"
    if winner is lb1:  # it answered lb2's advert and re-announced
        wait_until(lambda: lb1.instance("web")["counters"]["announcements"] > 5, 1)
    else:  # lb1's last advert as it stepped down made lb2 re-announce
        wait_until(lambda: lb2.instance("web")["counters"]["announcements"] > announced, 1)
    winner_host = "lb1" if winner is lb1 else "lb2"
    run.wait_for(winner_host, answers=run.status()["counts"].get(winner_host, 0) + 25, timeout=2)
    report = run.stop()
    assert report.hosts[-1] == winner_host, report.summary()
    assert holders(topology) == {winner_host}


def libfaketime() -> str:
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not found:
        message = "libfaketime is missing: apt-get install -y faketime"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found[0]


def stepped_clock(step_file: Path) -> list[str]:
    """Run the agent with a wall clock we can step (libfaketime), monotonic clock untouched."""
    step_file.write_text("+0\n")
    return [
        "env",
        f"LD_PRELOAD={libfaketime()}",
        f"FAKETIME_TIMESTAMP_FILE={step_file}",
        "FAKETIME_NO_CACHE=1",
        "DONT_FAKE_MONOTONIC=1",
    ]


def test_stepping_the_wall_clock_by_an_hour_changes_nothing(cluster: Cluster) -> None:
    step = cluster.workdir / "lb1.clock"
    lb1 = cluster.agent("lb1", [web(150, auth=AUTH)], wrapper=stepped_clock(step)).start()
    lb2 = cluster.start("lb2", [web(100, auth=AUTH)])
    lb1.wait_state("master")
    lb2.wait_state("backup")
    for offset in ("+1h", "-1h", "+0"):
        step.write_text(f"{offset}\n")
        time.sleep(1.0)  # ten adverts signed after the step
        status = lb2.instance("web")
        assert status["counters"]["rejected"] == {}, offset
        assert (lb1.state(), lb2.state()) == ("master", "backup")
    assert lb1.instance("web")["counters"]["transitions"] == 2
    assert lb2.instance("web")["counters"]["transitions"] == 1


def test_control_a_peer_whose_clock_was_an_hour_off_at_start_is_refused(cluster: Cluster) -> None:
    """Shows the freshness check bites: a sequence that followed the stepped clock would fail."""
    step = cluster.workdir / "lb1.clock"
    wrapper = stepped_clock(step)
    step.write_text("+1h\n")
    lb1 = cluster.agent("lb1", [web(150, auth=AUTH)], wrapper=wrapper).start()
    lb2 = cluster.start("lb2", [web(100, auth=AUTH)])
    lb2.wait_state("master", timeout=2)
    assert lb2.instance("web")["counters"]["rejected"].get("auth_stale", 0) > 0
    assert lb1.state() == "master"


def test_the_agent_needs_only_net_admin_and_net_raw(cluster: Cluster, topology: Topology) -> None:
    os.chmod(cluster.workdir, 0o777)  # the unprivileged user writes its socket and state there
    caps = "-all,+net_admin,+net_raw"
    confined = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        f"--inh-caps={caps}",
        f"--ambient-caps={caps}",
        f"--bounding-set={caps}",
    ]
    lb1 = cluster.agent("lb1", [web(150)], wrapper=confined).start()
    lb2 = cluster.start("lb2", [web(100)])
    lb1.wait_state("master")
    lb2.wait_state("backup")
    assert holders(topology) == {"lb1"}
    pid = lb1.status()["pid"]
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    assert int(fields["CapEff"], 16) == (1 << 12) | (1 << 13)  # CAP_NET_ADMIN, CAP_NET_RAW
    assert fields["Uid"].split()[0] == "65534"
    assert lb1.stop() == 0  # graceful: priority 0 and the VIP released, unprivileged
    lb2.wait_state("master", timeout=1)
    assert holders(topology) == {"lb2"}


def test_realtime_priority_runs_the_agent_under_sched_fifo(cluster: Cluster) -> None:
    lb1 = cluster.agent("lb1", [web(150, advert_interval="20ms")], realtime_priority=10).start()
    lb1.wait_state("master")
    pid = lb1.status()["pid"]
    assert os.sched_getscheduler(pid) == os.SCHED_FIFO
    assert os.sched_getparam(pid).sched_priority == 10
    assert "event=realtime priority=10" in lb1.log()
