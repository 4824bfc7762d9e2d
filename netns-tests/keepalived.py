"""Run Debian's keepalived as a VRRP peer inside a :class:`netns.Topology` host.

:class:`Keepalived` writes a ``keepalived.conf`` holding one ``vrrp_instance`` into a short private
temporary directory, starts ``keepalived`` in the foreground (VRRP subsystem only, logging to the
console, not to syslog) inside the host's namespace, and watches it: the ``Entering ... STATE``
lines of its log, the VIPs on its interface, and the packets it refused. Every file it uses (config,
parent/VRRP/checker/BFD pid files) lives in that directory, so nothing collides with a system
keepalived or another test run, and the process only ever sees its own namespace.

keepalived runs as two processes (the parent and its VRRP child). Like every process a topology
starts, it leads a session and process group of its own, which both share: :meth:`Keepalived.kill`
(a crash) sends SIGKILL to that whole group at once, so the child cannot outlive the parent or
send a goodbye advert, and :meth:`Keepalived.survivors` proves that nothing is left.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from netns import Process, Topology, wait_until

STATE_LINE = re.compile(r"\((?P<instance>[^)]+)\) Entering (?P<state>MASTER|BACKUP|FAULT) STATE")
REJECT_LINE = re.compile(
    r"Invalid VRRPv[23] checksum|invalid TTL|wrong version|vrrp packet too"
    r"|advertisement interval mismatch|unexpected ip number count|ip_tot_len mismatch"
    r"|expected \d+ VIPs but received|not present in MASTER advert|Invalid packet type"
    r"|received an? \d+ auth|received an invalid passwd"
)
"""Log lines keepalived 2.2.x writes when it refuses (or complains about) a received advert."""


def find_binary() -> str | None:
    """Path of ``keepalived`` (it lives in /usr/sbin, which is not always on PATH)."""
    return shutil.which("keepalived") or shutil.which("keepalived", path="/usr/sbin:/sbin")


@dataclass(frozen=True)
class VrrpInstance:
    """One ``vrrp_instance`` block; the defaults mirror agents.web(): VRID 51, one IPv4 VIP."""

    priority: int
    vips: tuple[str, ...] = ("192.0.2.100/24",)
    version: int = 3
    advert_int: float = 0.1
    """Seconds: whole seconds for VRRPv2, multiples of 10 ms for VRRPv3."""
    vrid: int = 51
    interface: str = "eth0"
    name: str = "VI_1"
    preempt: bool = True
    options: tuple[str, ...] = field(default=())
    """Further raw lines for the block, e.g. ``("garp_master_repeat 1",)``."""

    def render(self, router_id: str) -> str:
        advert = f"{self.advert_int:g}"
        lines = [
            "global_defs {",
            f"    router_id {router_id}",
            "}",
            "",
            f"vrrp_instance {self.name} {{",
            "    state BACKUP",
            f"    interface {self.interface}",
            f"    virtual_router_id {self.vrid}",
            f"    priority {self.priority}",
            f"    version {self.version}",
            f"    advert_int {advert}",
            *([] if self.preempt else ["    nopreempt"]),
            *(f"    {line}" for line in self.options),
            "    virtual_ipaddress {",
            *(f"        {vip}" for vip in self.vips),
            "    }",
            "}",
        ]
        return "\n".join(lines) + "\n"


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is ``sid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid pgrp session ..."; comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


class Keepalived:
    """keepalived with one VRRP instance on one host of a topology.

    Usage::

        ka = Keepalived(topology, "lb1", VrrpInstance(priority=150)).start()
        ka.wait_state("master")
        ...
        ka.stop()        # graceful: SIGTERM, it sends priority 0 and removes its VIPs
        ka.kill()        # crash: SIGKILL to all its processes; VIPs go as with a dead host
        ka.close()       # at teardown: stops whatever runs, removes the temporary directory
    """

    def __init__(
        self, topology: Topology, host: str, instance: VrrpInstance, binary: str | None = None
    ) -> None:
        self.topology, self.host, self.instance = topology, host, instance
        self.binary = binary or find_binary() or "keepalived"
        self.dir = Path(tempfile.mkdtemp(prefix="ka-"))
        self.conf = self.dir / "keepalived.conf"
        self.pidfile = self.dir / "keepalived.pid"
        self.vrrp_pidfile = self.dir / "vrrp.pid"
        self.process: Process | None = None

    # --- running ----------------------------------------------------------------------------

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
            f"--use-file={self.conf}",
            f"--pid={self.pidfile}",
            f"--vrrp_pid={self.vrrp_pidfile}",
            # Unused with --vrrp, but keepalived reads them to detect a running instance.
            f"--checkers_pid={self.dir / 'checkers.pid'}",
            f"--bfd_pid={self.dir / 'bfd.pid'}",
        ]

    def start(self, timeout: float = 5.0) -> Keepalived:
        """Start keepalived and wait until its VRRP instance has entered its first state."""
        if self.running():
            raise RuntimeError(f"{self} is already running")
        for stale in (self.pidfile, self.vrrp_pidfile):  # left by a kill; PIDs get reused
            stale.unlink(missing_ok=True)
        self.conf.write_text(self.instance.render(router_id=f"{self.topology.tag}-{self.host}"))
        self.process = self.topology.popen(self.host, self.argv())
        try:
            self._wait_started(timeout)
        except BaseException:
            self.kill(release_vips=False)
            raise
        return self

    def _wait_started(self, timeout: float) -> None:
        assert self.process
        pid = self.process.pid
        # Started with a session of its own; `ip netns exec` execs, so the PID we hold becomes
        # keepalived's parent and its group leader.
        wait_until(lambda: os.getpgid(pid) == pid, 2.0, what=f"{self} leading its own session")

        def entered() -> bool:
            assert self.process
            if self.process.poll() is not None:
                raise RuntimeError(f"{self} exited ({self.process.poll()}): {self.log()[-2000:]}")
            return bool(self.states())

        wait_until(entered, timeout, what=f"{self} entering its first state")

    def running(self) -> bool:
        return bool(self.process and self.process.poll() is None) or bool(self.survivors())

    def _pid_from(self, pidfile: Path) -> int | None:
        """The PID in ``pidfile`` if that process is alive and runs our config (PIDs get reused)."""
        try:
            pid = int(pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        return pid if str(self.conf).encode() in cmdline and state != "Z" else None

    def pids(self) -> dict[str, int | None]:
        """Live PIDs of the parent and of the VRRP child (from their pid files)."""
        return {"parent": self._pid_from(self.pidfile), "vrrp": self._pid_from(self.vrrp_pidfile)}

    def survivors(self) -> list[int]:
        """Live processes of the current run: its session (parent, VRRP child, anything they
        started) and whatever the pid files name, in case something left the session."""
        found = set(session_members(self.process.pid)) if self.process else set()
        found.update(pid for pid in self.pids().values() if pid)
        return sorted(found)

    def stop(self, timeout: float = 5.0) -> int:
        """Graceful stop (SIGTERM to the parent, which stops the VRRP child: it sends priority 0
        adverts and removes its VIPs). Returns the exit status; SIGKILLs whatever is still
        there after ``timeout`` and raises then."""
        assert self.process, "not started"
        self.process.signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout)
        except Exception:
            self.kill(release_vips=False)
            raise
        wait_until(lambda: not self.survivors(), 2.0, what=f"{self}: every process gone")
        return status

    def kill(self, *, release_vips: bool = True) -> None:
        """Crash: SIGKILL to keepalived's whole process group at once (no goodbye advert), then
        make sure no process of it survives. With ``release_vips`` remove the VIPs it left on the
        interface, as if the host had died with it (else the stale VIP keeps answering)."""
        assert self.process, "not started"
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # parent and child at once
        for other in self.survivors():  # anything that left the group
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
        self.process.wait(5.0)
        wait_until(lambda: not self.survivors(), 2.0, what=f"{self}: every process gone")
        if release_vips:
            self.release_vips()

    def release_vips(self) -> None:
        held = {a.address for a in self.topology.addresses(self.host, self.instance.interface)}
        for vip in self.instance.vips:
            if str(ipaddress.ip_interface(vip).ip) in held:
                self.topology.ip(self.host, "addr", "del", vip, "dev", self.instance.interface)

    def close(self) -> list[str]:
        """Teardown: stop anything still running (by PID) and remove the temporary directory.
        Returns problems (processes that had to be killed or would not die)."""
        problems = []
        if self.process and self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.stop()
        left = self.survivors()
        if left:
            problems.append(f"{self}: processes {left} survived; killing them")
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not self.survivors(), 2.0)
            if self.survivors():
                problems.append(f"{self}: processes {self.survivors()} would not die")
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    # --- watching ---------------------------------------------------------------------------

    def log(self) -> str:
        """Console log of the current run (keepalived writes it to stderr)."""
        if not self.process:
            return ""
        return self.process.stderr() + self.process.stdout()

    def states(self) -> list[str]:
        """States the instance entered in the current run, in order: "backup", "master", ..."""
        return [
            m["state"].lower()
            for m in STATE_LINE.finditer(self.log())
            if m["instance"] == self.instance.name
        ]

    def state(self) -> str | None:
        """The state keepalived last logged; "stopped" once no process of it is left."""
        if self.process and self.process.poll() is not None and not self.survivors():
            return "stopped"
        states = self.states()
        return states[-1] if states else None

    def wait_state(self, state: str, timeout: float = 5.0) -> float:
        return wait_until(lambda: self.state() == state, timeout, what=f"{self} in state {state}")

    def rejections(self) -> list[str]:
        """Log lines in which keepalived refused or complained about a received advert."""
        return [line for line in self.log().splitlines() if REJECT_LINE.search(line)]

    def holds_vips(self) -> bool:
        held = {a.address for a in self.topology.addresses(self.host, self.instance.interface)}
        return all(str(ipaddress.ip_interface(v).ip) in held for v in self.instance.vips)

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"Keepalived(host={self.host!r}, pid={pid}, vrid={self.instance.vrid})"
