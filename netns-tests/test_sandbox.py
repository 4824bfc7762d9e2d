"""Trackers and hooks under the shipped unit's sandbox, emulated without systemd: a private mount
namespace with /proc mounted hidepid=invisible,subset=pid (ProtectProc=invisible, ProcSubset=pid),
/ read-only but for the agent's own directory (ProtectSystem=strict, StateDirectory), and the
agent as an unprivileged user with no new privileges, SecureBits noroot-locked and only
CAP_NET_ADMIN + CAP_NET_RAW (plus CAP_SETUID + CAP_SETGID where the drop-in for `user` adds them).

The tracked "service" is a process of another user (root, started by the test), as haproxy is
for the unit's user."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Cluster, web
from netns import Process, Topology, wait_until

pytestmark = pytest.mark.netns_timeout(60)

SERVICE_UID = 65534  # the unit's user (no "vipguard" user on a test machine)
UNIT_CAPS = "-all,+net_admin,+net_raw"
USER_DROP_IN_CAPS = UNIT_CAPS + ",+setuid,+setgid"
UNIT_PROC = "hidepid=invisible,subset=pid"  # ProtectProc=invisible, ProcSubset=pid
DEFAULT_PROC = "subset=pid"  # the drop-in ProtectProc=default (ProcSubset=pid kept)
NET_CAPS = 1 << 12 | 1 << 13  # CAP_NET_ADMIN, CAP_NET_RAW


def unit_sandbox(writable: Path, caps: str = UNIT_CAPS, proc: str = UNIT_PROC) -> list[str]:
    """The wrapper that runs a command as the unit would (as far as namespaces can say it)."""
    confine = [
        "setpriv",
        f"--reuid={SERVICE_UID}",
        f"--regid={SERVICE_UID}",
        "--clear-groups",
        "--no-new-privs",
        "--securebits=+noroot,+noroot_locked",
        f"--inh-caps={caps}",
        f"--ambient-caps={caps}",
        f"--bounding-set={caps}",
    ]
    steps = [
        f"mount -t proc -o {proc} proc /proc",
        f"mount --bind {writable} {writable}",  # its own mount: stays writable
        "mount -o remount,bind,ro /",
        " ".join(confine) + ' "$@"',
    ]
    script = " && ".join(steps[:-1]) + " && exec " + steps[-1]
    return ["unshare", "--mount", "--propagation=private", "/bin/sh", "-c", script, "sandbox"]


@pytest.fixture
def service(topology: Topology, cluster: Cluster) -> Iterator[tuple[Process, str, Path]]:
    """A root process with a name of its own (a copy of sleep) and its PID file."""
    name = "vgs" + secrets.token_hex(4)  # fits /proc/PID/comm's 15 characters
    program = cluster.workdir / name
    shutil.copy("/bin/sleep", program)
    process = topology.popen("client", [str(program), "600"])  # stopped by PID at teardown
    pidfile = cluster.workdir / f"{name}.pid"
    pidfile.write_text(f"{process.pid}\n")
    wait_until(lambda: found_by_root(name), 5, what=f"{name} running")
    yield process, name, pidfile


@pytest.fixture
def sandboxed(cluster: Cluster) -> Cluster:
    os.chmod(cluster.workdir, 0o777)  # the unit's user writes its socket and state there
    return cluster


def found_by_root(name: str) -> bool:
    return subprocess.run(["pgrep", "-x", name], capture_output=True, check=False).returncode == 0


def tracker_status(agent: Agent, name: str) -> dict[str, Any]:
    (status,) = [t for t in agent.instance("web")["trackers"] if t["name"] == name]
    return status


def test_pgrep_and_kill_0_never_find_another_users_process_under_the_unit(
    sandboxed: Cluster, service: tuple[Process, str, Path]
) -> None:
    """The problem: a keepalived-style script check is a permanent failure under the unit."""
    _, name, pidfile = service
    trackers = [
        {"name": "pgrep", "script": ["/usr/bin/pgrep", "-x", name], "weight": -10},
        {"name": "kill0", "script": f"/bin/sh -c 'kill -0 $(cat {pidfile})'", "weight": -10},
    ]
    wrapper = unit_sandbox(sandboxed.workdir)
    instance = web(150, track=["pgrep", "kill0"])
    lb1 = sandboxed.agent("lb1", [instance], wrapper, tables={"tracker": trackers}).start()
    lb1.wait_state("master", timeout=5)
    assert found_by_root(name)  # the process is there: only the sandbox hides it
    pgrep, kill0 = tracker_status(lb1, "pgrep"), tracker_status(lb1, "kill0")
    assert (pgrep["up"], pgrep["detail"]) == (False, "exit 1")
    assert kill0["up"] is False and "not permitted" in kill0["detail"].lower(), kill0
    assert lb1.instance("web")["priority"]["effective"] == 130  # both count as down


def test_a_pidfile_tracker_follows_another_users_process_under_the_unit(
    sandboxed: Cluster, service: tuple[Process, str, Path]
) -> None:
    process, _, pidfile = service
    tracker = {"name": "proxy", "pidfile": str(pidfile), "interval": "5s", "rise": 1, "fall": 1}
    lb1 = sandboxed.agent(
        "lb1",
        [web(150, track=["proxy"])],
        unit_sandbox(sandboxed.workdir),
        tables={"tracker": [tracker]},
    ).start()
    lb1.wait_state("master", timeout=5)
    status = tracker_status(lb1, "proxy")
    assert (status["kind"], status["up"]) == ("process", True)
    assert status["detail"] == f"pid {process.pid} running (from {pidfile})"
    process.signal(signal.SIGKILL)
    # weight 0: Fault. Within a second although the interval is 5 s: the pidfd said it at once.
    lb1.wait_state("fault", timeout=1.0)
    status = tracker_status(lb1, "proxy")
    assert (status["up"], status["detail"]) == (False, f"pid {process.pid} exited (from {pidfile})")
    assert lb1.stop() == 0


def test_a_name_tracker_is_refused_under_the_units_proc_and_works_with_protectproc_default(
    sandboxed: Cluster, service: tuple[Process, str, Path]
) -> None:
    process, name, _ = service
    tracker = {"name": "proxy", "process": name, "interval": "5s", "rise": 1, "fall": 1}
    tables = {"tracker": [tracker]}
    instances = [web(150, track=["proxy"])]
    refused = sandboxed.agent("lb1", instances, unit_sandbox(sandboxed.workdir), tables=tables)
    log = refused.refused()
    assert f"tracker 'proxy' looks for processes named {name!r} in /proc" in log
    assert "hidepid=invisible" in log and "ProtectProc=default" in log

    default_proc = unit_sandbox(sandboxed.workdir, proc=DEFAULT_PROC)
    lb1 = sandboxed.agent("lb1", instances, default_proc, tables=tables).start()
    lb1.wait_state("master", timeout=5)
    status = tracker_status(lb1, "proxy")
    assert (status["up"], status["detail"]) == (True, f"1 process named {name} (pid {process.pid})")
    process.signal(signal.SIGKILL)
    lb1.wait_state("fault", timeout=1.0)
    assert tracker_status(lb1, "proxy")["detail"] == f"no process named {name}"
    assert lb1.stop() == 0


def hook_recording(path: Path, probe: Path) -> list[str]:
    """A hook writing its uid, effective capabilities and whether it could create ``probe``
    (outside the writable directory) to ``path``."""
    write = f"touch {probe} 2>/dev/null && echo writable || echo read-only"
    return ["/bin/sh", "-c", f"{{ id -u; grep CapEff /proc/self/status; {write}; }} > {path}"]


def test_a_hook_with_user_root_runs_as_uid_0_and_one_without_as_the_service_user(
    sandboxed: Cluster, request: pytest.FixtureRequest
) -> None:
    as_root, as_service = sandboxed.workdir / "root-hook", sandboxed.workdir / "plain-hook"
    outside = Path("/") / f"vipguard-test-{secrets.token_hex(4)}"  # ProtectSystem=strict: no
    request.addfinalizer(lambda: outside.unlink(missing_ok=True))  # (if the emulation failed)
    notify = {
        "master": {"command": hook_recording(as_root, outside), "user": "root"},
        "any": hook_recording(as_service, outside),
    }
    instances = [web(150, notify=notify)]
    without_drop_in = sandboxed.agent("lb1", instances, unit_sandbox(sandboxed.workdir))
    log = without_drop_in.refused()
    assert "notify hook 'master' of instance 'web' (user root) must run as another user" in log
    assert "CAP_SETUID CAP_SETGID, SystemCallFilter=@setuid" in log

    drop_in = unit_sandbox(sandboxed.workdir, caps=USER_DROP_IN_CAPS)
    lb1 = sandboxed.agent("lb1", instances, drop_in).start()
    lb1.wait_state("master", timeout=5)
    wait_until(lambda: as_root.exists() and as_service.exists(), 5, what="both hooks ran")
    wait_until(lambda: lb1.status()["hooks"]["running"] == [], 5, what="hooks finished")
    root_uid, root_caps, root_write = as_root.read_text().splitlines()
    service_uid, service_caps, service_write = as_service.read_text().splitlines()
    assert (root_uid, service_uid) == ("0", str(SERVICE_UID))
    assert (root_write, service_write) == ("read-only", "read-only")
    assert not outside.exists()
    # uid 0 under SecureBits=noroot-locked gains nothing, and no command is handed the
    # agent's CAP_SETUID/CAP_SETGID (a hook could make itself root with them): both have only
    # the unit's CAP_NET_ADMIN and CAP_NET_RAW
    caps = {int(line.split()[1], 16) for line in (root_caps, service_caps)}
    assert caps == {NET_CAPS}, [hex(c) for c in caps]
    assert lb1.stop() == 0
