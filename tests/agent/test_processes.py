"""Process trackers: a PID file or a process name, followed by pidfd so that an exit is seen at
once (not at the next interval); the /proc mount options that hide other users' processes; and
the start-up refusal of a name tracker that could never see its process."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_trackers import running

from vipguard.agent import runtime, sandbox
from vipguard.agent.fitness import TrackerStatus
from vipguard.config import ProcessCheck, Rhythm, parse
from vipguard.io.processes import hidden_processes

SLOW = Rhythm(interval=30.0, timeout=1.0, rise=1, fall=1)  # only an exit event can be this fast


@dataclass(frozen=True)
class Service:
    process: subprocess.Popen[bytes]
    name: str
    pidfile: Path  # holds the process's PID


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """A long-running process with a name of its own (a copy of sleep) and its PID file,
    stopped by its PID."""
    name = "vgt" + secrets.token_hex(4)  # 11 characters: /proc/PID/comm keeps 15
    program = tmp_path / name
    shutil.copy("/bin/sleep", program)
    process = subprocess.Popen([str(program), "300"])
    pidfile = tmp_path / "service.pid"
    pidfile.write_text(f"{process.pid}\n")
    try:
        yield Service(process, name, pidfile)
    finally:
        process.kill()
        process.wait(5)


async def killed_and_seen(
    check: ProcessCheck, process: subprocess.Popen[bytes]
) -> tuple[list[TrackerStatus], float]:
    """The tracker's first result, then its report of ``process`` being SIGKILLed, and how long
    after the kill that came."""
    async with running(check, SLOW) as (_, changes):
        await changes.until(1)
        killed = time.monotonic()
        process.send_signal(signal.SIGKILL)  # not reaped yet: a zombie is not running
        await changes.until(2)
        return changes.seen, time.monotonic() - killed


def test_a_pidfile_tracker_is_up_while_the_process_runs_and_down_at_once_when_it_dies(
    service: Service,
) -> None:
    process, pidfile = service.process, service.pidfile

    seen, lag = asyncio.run(killed_and_seen(ProcessCheck(pidfile=pidfile), process))
    assert [(s.kind, s.up) for s in seen] == [("process", True), ("process", False)]
    assert seen[0].detail == f"pid {process.pid} running (from {pidfile})"
    assert seen[1].detail == f"pid {process.pid} exited (from {pidfile})"
    assert lag < 2.0, f"seen {lag:.2f}s after the kill: the exit event was missed"


def test_a_pidfile_tracker_follows_a_restart_to_the_new_pid(
    service: Service,
) -> None:
    process, pidfile = service.process, service.pidfile
    pidfile.write_text("999999999\n")  # above any pid_max: a process that cannot exist
    rhythm = Rhythm(interval=0.05, timeout=1.0, rise=1, fall=1)

    async def scenario() -> list[TrackerStatus]:
        async with running(ProcessCheck(pidfile=pidfile), rhythm) as (_, changes):
            await changes.until(1)
            pidfile.write_text(f"{process.pid}\n")
            return await changes.until(2)

    first, second = asyncio.run(scenario())
    assert (first.up, first.detail) == (False, f"pid 999999999 is not running (from {pidfile})")
    assert (second.up, second.detail) == (True, f"pid {process.pid} running (from {pidfile})")


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (None, "no PID file {path}"),
        ("", "{path} holds no PID: ''"),
        ("haproxy\n", "{path} holds no PID: 'haproxy'"),
        ("0\n", "{path} holds no PID: '0'"),
    ],
)
def test_a_missing_or_bad_pidfile_is_down_with_the_reason(
    tmp_path: Path, content: str | None, detail: str
) -> None:
    pidfile = tmp_path / "service.pid"
    if content is not None:
        pidfile.write_text(content)

    async def scenario() -> list[TrackerStatus]:
        async with running(ProcessCheck(pidfile=pidfile), SLOW) as (_, changes):
            return await changes.until(1)

    (status,) = asyncio.run(scenario())
    assert (status.up, status.detail) == (False, detail.format(path=pidfile))


def test_a_name_tracker_counts_the_processes_with_that_name_and_sees_the_exit_at_once(
    service: Service,
) -> None:
    process, name = service.process, service.name

    seen, lag = asyncio.run(killed_and_seen(ProcessCheck(name=name), process))
    assert [(s.up, s.detail) for s in seen] == [
        (True, f"1 process named {name} (pid {process.pid})"),
        (False, f"no process named {name}"),
    ]
    assert lag < 2.0, f"seen {lag:.2f}s after the kill: the exit event was missed"


def test_a_stopped_tracker_leaves_no_pidfd_open(service: Service) -> None:
    pidfile = service.pidfile
    before = len(os.listdir("/proc/self/fd"))

    async def scenario() -> None:
        async with running(ProcessCheck(pidfile=pidfile), SLOW) as (_, changes):
            await changes.until(1)

    asyncio.run(scenario())
    assert len(os.listdir("/proc/self/fd")) <= before


# --------------------------------------------------------------------------- /proc options

MOUNTINFO = (
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "23 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc {options}\n"
    "24 22 0:6 / /sys rw,nosuid shared:3 - sysfs sysfs rw\n"
)


@pytest.mark.parametrize(
    ("options", "hidden"),
    [
        ("rw", None),
        ("rw,hidepid=off", None),
        ("rw,hidepid=0", None),
        ("rw,hidepid=invisible,subset=pid", "hidepid=invisible"),
        ("rw,hidepid=2", "hidepid=2"),
        ("rw,hidepid=noaccess", "hidepid=noaccess"),
        ("rw,hidepid=ptraceable", "hidepid=ptraceable"),
    ],
)
def test_the_proc_mount_options_that_hide_other_users_processes(
    options: str, hidden: str | None
) -> None:
    assert hidden_processes(MOUNTINFO.format(options=options)) == hidden


def test_this_host_proc_is_read_from_mountinfo() -> None:
    assert hidden_processes() == hidden_processes(Path("/proc/self/mountinfo").read_text())


NAME_TRACKER = """
[[tracker]]
name = "haproxy"
process = "haproxy"

[[tracker]]
name = "haproxy-pid"
pidfile = "/run/haproxy.pid"

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
vips = ["192.0.2.100/24"]
track = ["haproxy", "haproxy-pid"]
"""


def test_a_name_tracker_under_a_proc_that_hides_other_users_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = parse(NAME_TRACKER)
    monkeypatch.setattr(sandbox, "hidden_processes", lambda: "hidepid=invisible")
    monkeypatch.setattr(sandbox, "sees_every_process", lambda: False)
    with pytest.raises(runtime.StartupError) as refused:
        runtime._check_sandbox(config)
    message = str(refused.value)
    assert message == (
        "tracker 'haproxy' looks for processes named 'haproxy' in /proc, but /proc is mounted"
        " hidepid=invisible (the unit's ProtectProc=invisible), which hides other users'"
        " processes from the agent: track the service's PID file instead"
        ' (pidfile = "/run/haproxy.pid"), or add a drop-in with ProtectProc=default'
        " (systemctl edit vipguard)"
    )
    monkeypatch.setattr(sandbox, "sees_every_process", lambda: True)  # root with CAP_SYS_PTRACE
    runtime._check_sandbox(config)
    monkeypatch.setattr(sandbox, "sees_every_process", lambda: False)
    monkeypatch.setattr(sandbox, "hidden_processes", lambda: None)  # ProtectProc=default
    runtime._check_sandbox(config)
