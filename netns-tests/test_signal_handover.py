"""Signals sent to a running master: the dump signals leave it running and write to its log;
every other signal that would end the process makes it hand over gracefully (a priority-0
advert, so the backup takes over at once), never an abrupt death that leaves the VIP bound."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from agents import Agent, Cluster, render_config, settled_pair, web
from netns import Topology, wait_until

from vipguard.agent import signals
from vipguard.agent.signals import Action

LANES = 3  # independent pairs (own VRID and VIP) that take the signals in parallel
STARTING = threading.Lock()  # Topology.popen numbers its processes' log files: one at a time


def test_usr1_and_usr2_dump_status_and_counters_to_the_log_and_pipe_is_ignored(
    cluster: Cluster, topology: Topology
) -> None:
    lb1, lb2 = settled_pair(cluster, web(150), web(100))
    assert lb1.process
    transitions = lb2.instance("web")["counters"]["transitions"]
    for number, line in (
        (signal.SIGUSR1, "event=status_dump_instance instance=web"),
        (signal.SIGUSR2, "event=stats_dump_instance instance=web state=master"),
        (signal.SIGPIPE, None),
        (signal.SIGUSR1, "event=status_dump_instance instance=web"),  # alive after PIPE
    ):
        seen = lb1.log().count(line) if line else 0
        lb1.process.signal(number)
        if line:
            _wait_for_more(lb1, line, seen)
    log = lb1.log()
    status = next(x for x in log.splitlines() if "event=status_dump_instance" in x)
    assert " state=master " in status and " vips.0.address=192.0.2.100/24 " in status
    assert " master.address=192.0.2.11 " in status and " priority.effective=150 " in status
    assert "event=status_dump instances=1 pid=" in log
    stats = next(x for x in log.splitlines() if "event=stats_dump_instance" in x)
    assert " adverts_out=" in stats and " transitions=" in stats
    assert lb1.process.poll() is None and lb1.state() == "master"
    assert lb2.instance("web")["counters"]["transitions"] == transitions  # no handover at all
    assert [a.address for a in topology.addresses("lb1") if a.address == "192.0.2.100"]


def _wait_for_more(agent: Agent, line: str, seen: int) -> None:
    wait_until(lambda: agent.log().count(line) > seen, 5, what=f"{line} in {agent.host}'s log")


@dataclass
class Lane:
    """One pair, lb1 master (restarted for every signal) and lb2 backup."""

    master: Agent
    backup: Agent
    vip: str


def _lane(cluster: Cluster, index: int) -> Lane:
    vip = f"192.0.2.{100 + index}"
    agents = []
    for host, priority in (("lb1", 150), ("lb2", 100)):
        stem = cluster.workdir / f"{host}-{index}"
        settings = {"control_socket": f"{stem}.sock", "state_dir": str(stem), "metrics": ""}
        instance = web(priority, vrid=51 + index, vips=[f"{vip}/24"])
        config = stem.with_suffix(".toml")
        config.write_text(render_config(settings, [instance]))
        agents.append(Agent(cluster, host, config, stem.with_suffix(".sock")))
    return Lane(agents[0], agents[1].start(), vip)


def _holders(topology: Topology, vip: str) -> list[str]:
    return [h for h in ("lb1", "lb2") if any(a.address == vip for a in topology.addresses(h))]


def _hands_over_on(lane: Lane, topology: Topology, number: int) -> None:
    with STARTING:
        master = lane.master.start()
    master.wait_state("master", timeout=5)
    lane.backup.wait_state("backup", timeout=5)
    lane.backup.wait_following("192.0.2.11")
    assert master.process
    master.process.signal(number)
    status = master.process.wait(10)
    name = signals.name(number)
    log = master.log()
    assert status == signals.exit_status(number), f"{name}: exit {status}: {log[-2000:]}"
    assert f"event=stop_requested signal={name} action=graceful_stop" in log, name
    assert f'event=agent_stopped reason="signal {name}"' in log, name
    assert "Traceback" not in log, log
    backup = lane.backup.instance("web")
    assert backup["state"] == "master", name
    assert backup["last_transition"]["reason"] == "priority_zero_received", name
    assert _holders(topology, lane.vip) == ["lb2"], name


@pytest.mark.netns_timeout(400)
def test_every_other_signal_that_would_end_the_agent_hands_over_gracefully(
    cluster: Cluster, topology: Topology
) -> None:
    stopping = [number for number, action in signals.table().items() if action is Action.STOP]
    assert {signal.SIGQUIT, signal.SIGALRM, signal.SIGRTMIN, signal.SIGRTMAX} <= set(stopping)
    lanes = [_lane(cluster, index) for index in range(LANES)]

    def run_lane(index: int) -> list[int]:
        for number in stopping[index::LANES]:
            _hands_over_on(lanes[index], topology, number)
        return stopping[index::LANES]

    with ThreadPoolExecutor(LANES) as pool:
        done = [number for numbers in pool.map(run_lane, range(LANES)) for number in numbers]
    assert sorted(done) == sorted(stopping)
