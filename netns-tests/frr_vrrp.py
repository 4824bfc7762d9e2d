"""FRR's vrrpd (Debian ``frr``) as a VRRP peer inside a :class:`netns.Topology` host.

FRR does not create virtual-MAC interfaces itself: as its documentation asks, :class:`FrrVrrp`
creates the macvlan ``vrrp4-2-<vrid>`` with the virtual MAC and the VIP on ``eth0``, then runs
zebra and vrrpd in the foreground (``-u frr``, logging to stdout) with every file in a private
temporary directory, so nothing touches a system FRR. Both processes are stopped by PID.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from netns import Process, Topology, wait_until

DAEMONS = Path("/usr/lib/frr")


def find_vrrpd() -> Path | None:
    vrrpd = DAEMONS / "vrrpd"
    return vrrpd if vrrpd.exists() and (DAEMONS / "zebra").exists() else None


class FrrVrrp:
    """One IPv4 VRRPv3 router (VRID 51 by default) of FRR on ``host``, using the virtual MAC."""

    def __init__(
        self, topology: Topology, host: str, priority: int, vip: str, vrid: int = 51
    ) -> None:
        self.topology, self.host, self.priority, self.vip, self.vrid = (
            topology,
            host,
            priority,
            vip,
            vrid,
        )
        self.dir = Path(tempfile.mkdtemp(prefix="frr-"))
        self.dir.chmod(0o777)  # zebra and vrrpd drop to user frr
        self.zebra: Process | None = None
        self.vrrpd: Process | None = None

    def start(self, timeout: float = 10.0) -> FrrVrrp:
        macvlan = f"vrrp4-2-{self.vrid}"
        ip = self.topology.ip
        ip(self.host, *f"link add {macvlan} link eth0 type macvlan mode bridge".split())
        ip(self.host, "link", "set", macvlan, "address", f"00:00:5e:00:01:{self.vrid:02x}")
        ip(self.host, "addr", "add", f"{self.vip}/24", "dev", macvlan)
        ip(self.host, "link", "set", macvlan, "up")
        (self.dir / "zebra.conf").write_text("")
        (self.dir / "vrrpd.conf").write_text(
            "interface eth0\n"
            f" vrrp {self.vrid} version 3\n"
            f" vrrp {self.vrid} priority {self.priority}\n"
            f" vrrp {self.vrid} advertisement-interval 100\n"
            f" vrrp {self.vrid} ip {self.vip}\n"
        )
        zserv = self.dir / "zserv.api"
        self.zebra = self._daemon("zebra", zserv)
        wait_until(zserv.exists, timeout, what="zebra's socket")
        self.vrrpd = self._daemon("vrrpd", zserv)
        return self

    def _daemon(self, name: str, zserv: Path) -> Process:
        argv = [
            str(DAEMONS / name),
            *("-u", "frr", "-g", "frr", "--log", "stdout", "-P", "0"),
            *("--vty_socket", str(self.dir), "-z", str(zserv)),
            *("-i", str(self.dir / f"{name}.pid"), "-f", str(self.dir / f"{name}.conf")),
        ]
        return self.topology.popen(self.host, argv)

    def wait_master(self, timeout: float = 5.0) -> None:
        assert self.vrrpd
        vrrpd = self.vrrpd
        wait_until(lambda: "Backup -> Master" in vrrpd.stdout(), timeout, what="FRR master")

    def stop(self) -> None:
        """vrrpd first (it sends priority 0 as it shuts down), then zebra."""
        for process in (self.vrrpd, self.zebra):
            if process is not None:
                process.stop()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
