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

import ipaddress
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from daemons import PeerDaemon, session_members
from netns import Topology

__all__ = ["Keepalived", "VrrpInstance", "find_binary", "session_members"]

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


class Keepalived(PeerDaemon):
    """keepalived with one VRRP instance on one host of a topology (see :class:`PeerDaemon`).

    A graceful stop is SIGTERM to the parent, which stops the VRRP child: it sends priority 0
    adverts and removes its VIPs."""

    kind = "keepalived"
    state_line = STATE_LINE
    reject_line = REJECT_LINE
    priority_zero_line = "Backup received priority 0 advertisement"

    def __init__(
        self, topology: Topology, host: str, instance: VrrpInstance, binary: str | None = None
    ) -> None:
        super().__init__(topology, host, prefix="ka-")
        self.instance = instance
        self.binary = binary or find_binary() or "keepalived"
        self.conf = self.dir / "keepalived.conf"
        self.pidfile = self.dir / "keepalived.pid"
        self.vrrp_pidfile = self.dir / "vrrp.pid"

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

    def prepare(self) -> None:
        for stale in (self.pidfile, self.vrrp_pidfile):  # left by a kill; PIDs get reused
            stale.unlink(missing_ok=True)
        self.conf.write_text(self.instance.render(router_id=f"{self.topology.tag}-{self.host}"))

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

    def own_pids(self) -> list[int]:
        return [pid for pid in self.pids().values() if pid]

    def instance_matches(self, match: re.Match[str]) -> bool:
        return match["instance"] == self.instance.name

    def held_vips(self) -> list[str]:
        held = {a.address for a in self.topology.addresses(self.host, self.instance.interface)}
        vips = [str(ipaddress.ip_interface(v).ip) for v in self.instance.vips]
        return [vip for vip in vips if vip in held]

    def holds_vips(self) -> bool:
        return len(self.held_vips()) == len(self.instance.vips)

    def release_vips(self) -> None:
        held = set(self.held_vips())
        for vip in self.instance.vips:
            if str(ipaddress.ip_interface(vip).ip) in held:
                self.topology.ip(self.host, "addr", "del", vip, "dev", self.instance.interface)

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"Keepalived(host={self.host!r}, pid={pid}, vrid={self.instance.vrid})"
