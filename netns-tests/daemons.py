"""A third-party VRRP daemon (keepalived, FRR's vrrpd) run as a peer inside a topology host.

:class:`PeerDaemon` holds what every such peer shares: a short private temporary directory for
its files, one process tree started in a session of its own (so a crash is one SIGKILL to the
whole group and :meth:`PeerDaemon.survivors` proves nothing is left), graceful stop, teardown,
and the states and refusals read from its console log. A subclass says how to start it
(:meth:`argv`, :meth:`prepare`), how its log names states and refusals, and which VIPs it
holds.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Self

from netns import Process, Topology, wait_until


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


class PeerDaemon:
    """One VRRP instance of a third-party daemon on one host of a topology.

    Usage::

        peer = Subclass(topology, "lb1", ...).start()
        peer.wait_state("master")
        ...
        peer.stop()      # graceful: SIGTERM; it advertises priority 0 and gives up its VIPs
        peer.kill()      # crash: SIGKILL to all its processes; VIPs go as with a dead host
        peer.close()     # at teardown: stops whatever runs, removes the temporary directory
    """

    kind = "daemon"
    state_line: re.Pattern[str]
    """Matches a log line of entering a state; group ``state`` holds it."""
    reject_line: re.Pattern[str]
    """Matches a log line in which the daemon refused or complained about a received advert."""
    priority_zero_line: str | None = None
    """What it logs when, as backup, it hears the master's priority-0 advert (if anything)."""

    def __init__(self, topology: Topology, host: str, prefix: str) -> None:
        self.topology, self.host = topology, host
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.process: Process | None = None

    # --- what a subclass provides -------------------------------------------------------------

    def argv(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write the configuration, remove what a killed run left behind."""

    def own_pids(self) -> list[int]:
        """Live PIDs the daemon's own pid files name (in case one left the session)."""
        return []

    def held_vips(self) -> list[str]:
        """The VIPs (addresses without prefix) through which this host answers now."""
        raise NotImplementedError

    def release_vips(self) -> None:
        """After a crash: what a dead host no longer answers for."""

    def instance_matches(self, match: re.Match[str]) -> bool:
        return True

    def advert_interface(self) -> str:
        """The interface its adverts leave by (whose link-local address IPv6 adverts carry)."""
        return "eth0"

    # --- running ------------------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> Self:
        """Start the daemon and wait until its VRRP instance has entered its first state."""
        if self.running():
            raise RuntimeError(f"{self} is already running")
        self.prepare()
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
        # the daemon's (or its launcher's) and the group leader.
        wait_until(lambda: os.getpgid(pid) == pid, 2.0, what=f"{self} leading its own session")

        def entered() -> bool:
            assert self.process
            if self.process.poll() is not None:
                raise RuntimeError(f"{self} exited ({self.process.poll()}): {self.log()[-2000:]}")
            return bool(self.states())

        wait_until(entered, timeout, what=f"{self} entering its first state")

    def running(self) -> bool:
        return bool(self.process and self.process.poll() is None) or bool(self.survivors())

    def survivors(self) -> list[int]:
        """Live processes of the current run: its session and whatever its pid files name."""
        found = set(session_members(self.process.pid)) if self.process else set()
        found.update(self.own_pids())
        return sorted(found)

    def terminate(self) -> None:
        """Ask for a graceful stop (SIGTERM to the process we started) and return at once."""
        assert self.process, "not started"
        self.process.signal(signal.SIGTERM)

    def stop(self, timeout: float = 5.0) -> int:
        """Graceful stop; returns the exit status. SIGKILLs whatever is still there after
        ``timeout`` and raises then."""
        self.terminate()
        assert self.process
        try:
            status = self.process.wait(timeout)
        except Exception:
            self.kill(release_vips=False)
            raise
        wait_until(lambda: not self.survivors(), 2.0, what=f"{self}: every process gone")
        return status

    def kill(self, *, release_vips: bool = True) -> None:
        """Crash: SIGKILL to the whole process group at once (no goodbye advert), then make sure
        no process of it survives. With ``release_vips`` also take away what it left answering
        for, as if the host had died with it (else a stale VIP keeps answering)."""
        assert self.process, "not started"
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        for other in self.survivors():  # anything that left the group
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
        self.process.wait(5.0)
        wait_until(lambda: not self.survivors(), 2.0, what=f"{self}: every process gone")
        if release_vips:
            self.release_vips()

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

    # --- watching -----------------------------------------------------------------------------

    def log(self) -> str:
        """Console log of the current run."""
        if not self.process:
            return ""
        return self.process.stderr() + self.process.stdout()

    def states(self) -> list[str]:
        """States the instance entered in the current run, in order: "backup", "master", ..."""
        return [
            m["state"].lower()
            for m in self.state_line.finditer(self.log())
            if self.instance_matches(m)
        ]

    def state(self) -> str | None:
        """The state it last logged; "stopped" once no process of it is left."""
        if self.process and self.process.poll() is not None and not self.survivors():
            return "stopped"
        states = self.states()
        return states[-1] if states else None

    def wait_state(self, state: str, timeout: float = 5.0) -> float:
        return wait_until(lambda: self.state() == state, timeout, what=f"{self} in state {state}")

    def rejections(self) -> list[str]:
        return [line for line in self.log().splitlines() if self.reject_line.search(line)]

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"{type(self).__name__}(host={self.host!r}, pid={pid})"
