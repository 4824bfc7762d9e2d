"""One VRRP node of either implementation (vipguard or keepalived) on a host of a topology.

The benchmark drives both implementations through the same small interface, :class:`Node`: start
and wait for a state, crash (SIGKILL to every process of it), graceful stop (SIGTERM), and the
process ids whose CPU time and memory it reads from /proc. Built on the namespace-test helpers in
``netns-tests/`` (agents.py, keepalived.py, netns.py), which it never modifies.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "netns-tests"))

from agents import Agent, Cluster, web
from keepalived import Keepalived, VrrpInstance, session_members
from netns import Topology, wait_until

VIP = "192.0.2.100/24"
VIP_ADDRESS = str(ipaddress.ip_interface(VIP).ip)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- /proc accounting


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime + cutime + cstime (clock ticks) summed over ``pids``: every thread of each
    process, and children it has already reaped; live children must be in ``pids`` themselves."""
    total = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total


def runtime_ms(pids: list[int]) -> float | None:
    """CPU time in ms (ns precision) of every thread of ``pids``, from ``se.sum_exec_runtime`` in
    /proc/<pid>/task/<tid>/sched; None where the kernel does not provide it."""
    total = 0.0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                text = (task / "sched").read_text()
            except OSError:
                return None
            line = next((x for x in text.splitlines() if x.startswith("se.sum_exec_runtime")), None)
            if line is None:
                return None
            total += float(line.split(":", 1)[1])
    return total


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(VmRSS, Pss) in KiB summed over ``pids``. Summed RSS counts pages shared between a parent
    and its forked child twice; PSS splits them, so its sum is the real footprint."""
    rss = pss = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss


# --------------------------------------------------------------------------- VIPs


def vip_holders(topology: Topology, hosts: tuple[str, ...] = ("lb1", "lb2")) -> list[str]:
    return [h for h in hosts if any(a.address == VIP_ADDRESS for a in topology.addresses(h))]


def release_vip(topology: Topology, host: str) -> None:
    """Remove the VIP a killed node left on ``host`` (as if the host had died with it)."""
    if host in vip_holders(topology, (host,)):
        topology.ip(host, "addr", "del", VIP, "dev", "eth0")


# --------------------------------------------------------------------------- nodes


class Node:
    """Common interface; see :class:`VipguardNode` and :class:`KeepalivedNode`."""

    kind = ""

    def __init__(self, topology: Topology, host: str, priority: int, interval_ms: int) -> None:
        self.topology, self.host = topology, host
        self.priority, self.interval_ms = priority, interval_ms

    def pid(self) -> int | None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def state(self) -> str | None:
        """ "master", "backup", "fault", ... or "stopped"."""
        raise NotImplementedError

    def log(self) -> str:
        raise NotImplementedError

    def transitions(self) -> int:
        """A counter that grows with every state change (to wait for a *new* state)."""
        raise NotImplementedError

    def wait_new_state(self, state: str, since: int, timeout: float) -> float:
        """Seconds until the node is in ``state`` after at least one transition past ``since``."""
        return wait_until(
            lambda: self.transitions() > since and self.state() == state,
            timeout,
            interval=0.01,
            what=f"{self} entering {state}",
        )

    def wait_state(self, state: str, timeout: float) -> float:
        return wait_until(
            lambda: self.state() == state, timeout, interval=0.01, what=f"{self} in {state}"
        )

    def processes(self) -> list[int]:
        """Every live process of the node (its session)."""
        pid = self.pid()
        return session_members(pid) if pid else []

    def alive(self) -> bool:
        return bool(self.processes())

    def crash(self) -> None:
        """SIGKILL to the node's whole process group at once (no goodbye advert, no clean-up),
        then to anything of its session that left the group; wait until nothing is left."""
        pid = self.pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        for other in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
        self._reap(5.0)
        wait_until(lambda: not self.alive(), 3.0, what=f"{self}: every process gone")

    def terminate(self) -> None:
        """Graceful stop: SIGTERM to the main process, returning at once."""
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGTERM)

    def wait_stopped(self, timeout: float = 5.0) -> int:
        """After :meth:`terminate`: the exit status; every process gone."""
        status = self._reap(timeout)
        wait_until(lambda: not self.alive(), 3.0, what=f"{self}: every process gone")
        return status

    def _reap(self, timeout: float) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Teardown: stop whatever still runs (SIGTERM, then SIGKILL), by PID."""
        if self.alive():
            with contextlib.suppress(Exception):
                self.terminate()
                self.wait_stopped(3.0)
        if self.alive():
            self.crash()

    def __repr__(self) -> str:
        pid = self.pid()
        return f"{self.kind}@{self.host}(prio {self.priority}, {self.interval_ms} ms, pid {pid})"


def advert_setting(interval_ms: int) -> str:
    return f"{interval_ms // 1000}s" if interval_ms % 1000 == 0 else f"{interval_ms}ms"


class VipguardNode(Node):
    """A vipguard agent: VRRPv3/IPv4, VRID 51, the pseudo-header checksum (keepalived's)."""

    kind = "vipguard"

    def __init__(
        self, topology: Topology, cluster: Cluster, host: str, priority: int, interval_ms: int
    ) -> None:
        super().__init__(topology, host, priority, interval_ms)
        instance = web(
            priority,
            advert_interval=advert_setting(interval_ms),
            checksum="pseudo-header",
            vips=[VIP],
        )
        self.agent: Agent = cluster.agent(host, [instance])
        self._last_state: str | None = None
        self._changes = 0

    def pid(self) -> int | None:
        p = self.agent.process
        return p.pid if p and p.poll() is None else None

    def start(self) -> None:
        self.agent.start()

    def status(self) -> dict[str, Any]:
        return self.agent.instance("web")

    def state(self) -> str | None:
        if self.pid() is None:
            return "stopped"
        state = str(self.status()["state"]).lower()
        if state != self._last_state:
            self._last_state, self._changes = state, self._changes + 1
        return state

    def transitions(self) -> int:
        self.state()
        return self._changes

    def log(self) -> str:
        return self.agent.log()

    def _reap(self, timeout: float) -> int:
        assert self.agent.process
        return self.agent.process.wait(timeout)


class KeepalivedNode(Node):
    """Debian's keepalived (parent + VRRP child): VRRPv3/IPv4, VRID 51, default checksum."""

    kind = "keepalived"

    def __init__(
        self, topology: Topology, host: str, priority: int, interval_ms: int, binary: str
    ) -> None:
        super().__init__(topology, host, priority, interval_ms)
        instance = VrrpInstance(
            priority=priority, vips=(VIP,), version=3, advert_int=interval_ms / 1000
        )
        self.ka = Keepalived(topology, host, instance, binary=binary)

    def pid(self) -> int | None:
        p = self.ka.process
        return p.pid if p and p.poll() is None else None

    def processes(self) -> list[int]:
        return self.ka.survivors() if self.ka.process else []

    def start(self) -> None:
        self.ka.start()

    def state(self) -> str | None:
        return self.ka.state()

    def transitions(self) -> int:
        return len(self.ka.states())

    def log(self) -> str:
        return self.ka.log()

    def _reap(self, timeout: float) -> int:
        assert self.ka.process
        return self.ka.process.wait(timeout)

    def close(self) -> None:
        super().close()
        self.ka.close()
