"""An agent started without what it needs (CAP_NET_RAW, CAP_NET_ADMIN, a writable control-socket
or state directory) says what is missing and how to give it, exits 1 without a traceback, and
leaves the interfaces as they were (a stale VIP it would otherwise remove is still there)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from agents import Agent, Cluster, web
from netns import Topology

STALE = "192.0.2.100"
GRANT = (
    "run as root or grant it (the shipped unit does: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW)"
)


def _unprivileged(caps: str) -> list[str]:
    return [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        f"--inh-caps={caps}",
        f"--ambient-caps={caps}" if caps != "-all" else "--ambient-caps=-all",
        f"--bounding-set={caps}",
    ]


def _refused(agent: Agent) -> str:
    log = agent.refused()
    assert "Traceback" not in log, log
    lines = log.splitlines()
    assert lines[0].startswith("level=error event=startup_failed error="), log
    assert lines[-1] == 'level=info event=agent_stopped reason="startup failed" exit_status=1', log
    return lines[0]


def _stale_vip_kept(topology: Topology) -> bool:
    return any(a.address == STALE for a in topology.addresses("lb1"))


@pytest.mark.parametrize(
    ("caps", "missing"),
    [
        ("-all", ["CAP_NET_RAW", "CAP_NET_ADMIN"]),
        ("-all,+net_raw", ["CAP_NET_ADMIN"]),
        ("-all,+net_admin", ["CAP_NET_RAW"]),
    ],
)
def test_a_missing_capability_is_named_with_the_fix_and_nothing_is_touched(
    cluster: Cluster, topology: Topology, caps: str, missing: list[str]
) -> None:
    os.chmod(cluster.workdir, 0o777)  # the socket and state directories are not the problem
    topology.ip("lb1", "addr", "add", f"{STALE}/24", "dev", "eth0")  # as a crash leaves it
    line = _refused(cluster.agent("lb1", [web(150)], wrapper=_unprivileged(caps)))
    for capability in ("CAP_NET_RAW", "CAP_NET_ADMIN"):
        assert (f"needs {capability}: {GRANT}" in line) == (capability in missing), line
    if "CAP_NET_RAW" in missing:
        assert "opening the VRRP socket on eth0 needs CAP_NET_RAW" in line, line
    assert _stale_vip_kept(topology)


def _read_only_dir(parent: Path, name: str) -> Path:
    directory = parent / name
    directory.mkdir(mode=0o755)  # root's: the agent's user cannot write it
    return directory


def test_an_unwritable_control_socket_directory_is_named_with_the_fix(
    cluster: Cluster, topology: Topology
) -> None:
    os.chmod(cluster.workdir, 0o777)
    topology.ip("lb1", "addr", "add", f"{STALE}/24", "dev", "eth0")
    socket = _read_only_dir(cluster.workdir, "run") / "control.sock"
    caps = "-all,+net_admin,+net_raw"
    agent = cluster.agent(
        "lb1", [web(150)], wrapper=_unprivileged(caps), control_socket=str(socket)
    )
    line = _refused(agent)
    assert f"cannot create the control socket {socket}" in line, line
    assert f"uid 65534 cannot write {socket.parent}" in line, line
    assert "RuntimeDirectory=vipguard" in line and "[agent] control_socket" in line, line
    assert _stale_vip_kept(topology)


def test_an_unwritable_state_directory_is_named_with_the_fix(
    cluster: Cluster, topology: Topology
) -> None:
    os.chmod(cluster.workdir, 0o777)
    topology.ip("lb1", "addr", "add", f"{STALE}/24", "dev", "eth0")
    state = _read_only_dir(cluster.workdir, "state")
    caps = "-all,+net_admin,+net_raw"
    agent = cluster.agent("lb1", [web(150)], wrapper=_unprivileged(caps), state_dir=str(state))
    line = _refused(agent)
    assert f"cannot write the state directory {state}" in line, line
    assert "StateDirectory=vipguard" in line and "[agent] state_dir" in line, line
    assert _stale_vip_kept(topology)
