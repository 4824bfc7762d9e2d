"""Run FRR's vrrpd (Debian ``frr``) as a VRRP peer inside a :class:`netns.Topology` host.

FRR's VRRP needs zebra beside it and a macvlan per family that the operator creates: on the
parent interface, in bridge mode, carrying the virtual MAC (00:00:5e:00:01:VRID for IPv4,
00:00:5e:00:02:VRID for IPv6) and the VIPs. vrrpd keeps that macvlan in protodown while it is not
master, so the host answers for the VIPs exactly while the macvlan is up and not protodown.

:class:`Frr` creates the macvlan, writes zebra's and vrrpd's configuration into a private
temporary directory (readable by the ``frr`` user the daemons drop to), and starts both from one
launcher in a session of their own: zebra in the background, then, once zebra's socket is there,
vrrpd in the launcher's place. A crash is one SIGKILL to the session; the host dying with it
also takes its macvlan away.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from daemons import PeerDaemon
from netns import Topology

DAEMONS = Path("/usr/lib/frr")
STATE_LINE = re.compile(
    r"\[VRID (?P<vrid>\d+)\] \[IPv(?P<family>[46])\] \w+ -> (?P<state>Master|Backup|Initialize)"
)
# What vrrpd logs when it drops a received advert (vrrp_packet.c / vrrp.c, FRR 8.4).
REJECT_LINE = re.compile(
    r"Bad VRRP|bad checksum|improperly formatted|Discarding|mismatch|too short|Invalid",
    re.IGNORECASE,
)


def find_binaries() -> tuple[Path, Path] | None:
    """zebra and vrrpd, if FRR is installed."""
    zebra, vrrpd = DAEMONS / "zebra", DAEMONS / "vrrpd"
    return (zebra, vrrpd) if zebra.exists() and vrrpd.exists() else None


@dataclass(frozen=True)
class FrrInstance:
    """One ``vrrp`` VRID on one interface; the defaults mirror agents.web()."""

    priority: int
    vips: tuple[str, ...] = ("192.0.2.100/24",)
    version: int = 3
    advert_ms: int = 100
    vrid: int = 51
    interface: str = "eth0"
    preempt: bool = True

    @property
    def family(self) -> int:
        return ipaddress.ip_interface(self.vips[0]).version

    @property
    def macvlan(self) -> str:
        return f"vrrp{self.family}-{self.vrid}"

    @property
    def virtual_mac(self) -> str:
        return f"00:00:5e:00:0{1 if self.family == 4 else 2}:{self.vrid:02x}"

    def render(self) -> str:
        vrid = f" vrrp {self.vrid}"
        keyword = "ip" if self.family == 4 else "ipv6"
        lines = [
            # vrrpd drops a bad advert silently unless packet debugging is on.
            "debug vrrp packets",
            f"interface {self.interface}",
            f"{vrid} version {self.version}",
            f"{vrid} priority {self.priority}",
            f"{vrid} advertisement-interval {self.advert_ms}",
            *([] if self.preempt else [f" no{vrid} preempt"]),
            *(f"{vrid} {keyword} {ipaddress.ip_interface(v).ip}" for v in self.vips),
        ]
        return "\n".join(lines) + "\n"


class Frr(PeerDaemon):
    """zebra + vrrpd with one VRID on one host (see :class:`PeerDaemon`)."""

    kind = "frr"
    state_line = STATE_LINE
    reject_line = REJECT_LINE

    def __init__(self, topology: Topology, host: str, instance: FrrInstance) -> None:
        super().__init__(topology, host, prefix="frr-")
        self.instance = instance
        # The daemons run as the frr user: they must reach their directory and own it.
        self.dir.chmod(0o755)
        shutil.chown(self.dir, "frr", "frr")

    def argv(self) -> list[str]:
        common = [
            *("--log", "stdout", "--vty_socket", str(self.dir), "-A", "127.0.0.1"),
            *("-z", str(self.dir / "zserv.api")),
        ]
        zebra = [str(DAEMONS / "zebra"), *common, "-f", str(self.dir / "zebra.conf")]
        zebra += ["-i", str(self.dir / "zebra.pid")]
        vrrpd = [str(DAEMONS / "vrrpd"), *common, "-f", str(self.dir / "vrrpd.conf")]
        vrrpd += ["-i", str(self.dir / "vrrpd.pid")]
        socket = self.dir / "zserv.api"
        # Bounded: 100 tries of 50 ms for zebra's socket, then vrrpd replaces the launcher.
        script = (
            f"{' '.join(zebra)} & i=0; while [ ! -S {socket} ] && [ $i -lt 100 ]; do"
            f" sleep 0.05; i=$((i+1)); done; exec {' '.join(vrrpd)}"
        )
        return ["sh", "-c", script]

    def prepare(self) -> None:
        # As FRR's documentation asks: only the macvlan answers ARP for the VIPs (the kernel
        # would answer through the parent too), and the parent never names a VIP as sender.
        self.topology.sysctl(self.host, f"net.ipv4.conf.{self.instance.interface}.arp_ignore", 1)
        self.topology.sysctl(self.host, f"net.ipv4.conf.{self.instance.interface}.arp_announce", 2)
        for stale in ("zebra.pid", "vrrpd.pid", "zserv.api"):
            (self.dir / stale).unlink(missing_ok=True)
        (self.dir / "zebra.conf").write_text("")
        (self.dir / "vrrpd.conf").write_text(self.instance.render())
        for name in ("zebra.conf", "vrrpd.conf"):
            shutil.chown(self.dir / name, "frr", "frr")
        self._add_macvlan()

    def _add_macvlan(self) -> None:
        i, ip = self.instance, self.topology.ip
        if any(a.ifname == i.macvlan for a in self._links()):
            return
        ip(self.host, "link", "add", "link", i.interface, "name", i.macvlan, "type", "macvlan")
        ip(self.host, "link", "set", i.macvlan, "type", "macvlan", "mode", "bridge")
        ip(self.host, "link", "set", i.macvlan, "address", i.virtual_mac)
        for vip in i.vips:
            extra = ["nodad"] if i.family == 6 else []
            ip(self.host, "addr", "add", vip, "dev", i.macvlan, *extra)
        # Silent until vrrpd makes it master: up but in protodown, as vrrpd keeps a backup's.
        ip(self.host, "link", "set", i.macvlan, "protodown", "on")
        ip(self.host, "link", "set", i.macvlan, "up")

    def _links(self) -> list[_Link]:
        out = self.topology.ip(self.host, "-j", "-d", "link", "show")
        return [_Link(e["ifname"], bool(e.get("proto_down"))) for e in json.loads(out)]

    def terminate(self) -> None:
        """SIGTERM to vrrpd and zebra: vrrpd advertises priority 0 and goes down."""
        assert self.process, "not started"
        os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 5.0) -> int:
        """Graceful stop. zebra clears the macvlan's protodown as it exits, so a stopped FRR
        would go on answering for the VIPs: take the macvlan away too, as an operator's
        ``ExecStopPost=`` has to (the next start makes it anew)."""
        status = super().stop(timeout)
        self.release_vips()
        return status

    def own_pids(self) -> list[int]:
        found = []
        for name in ("zebra.pid", "vrrpd.pid"):
            try:
                pid = int((self.dir / name).read_text().split()[0])
                stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except (OSError, ValueError, IndexError):
                continue
            if (
                stat[0] != "Z"
                and Path(f"/proc/{pid}/cmdline").read_bytes().find(str(self.dir).encode()) >= 0
            ):
                found.append(pid)
        return found

    def advert_interface(self) -> str:
        """IPv6 adverts leave from the macvlan (its link-local address is the VMAC's EUI-64)."""
        return self.instance.macvlan if self.instance.family == 6 else self.instance.interface

    def instance_matches(self, match: re.Match[str]) -> bool:
        family = str(self.instance.family)
        return int(match["vrid"]) == self.instance.vrid and match["family"] == family

    def held_vips(self) -> list[str]:
        """The VIPs, while the macvlan carrying them is up and not in protodown."""
        macvlan = self.instance.macvlan
        if not any(link.ifname == macvlan and not link.protodown for link in self._links()):
            return []
        held = {a.address for a in self.topology.addresses(self.host, macvlan)}
        vips = [str(ipaddress.ip_interface(v).ip) for v in self.instance.vips]
        return [vip for vip in vips if vip in held]

    def release_vips(self) -> None:
        """A dead host's macvlan answers for nothing: delete it (the next start makes it anew)."""
        if any(link.ifname == self.instance.macvlan for link in self._links()):
            self.topology.ip(self.host, "link", "del", self.instance.macvlan)

    def close(self) -> list[str]:
        problems = super().close()
        try:
            self.release_vips()
        except Exception as error:  # the namespace may be gone already
            problems.append(f"{self}: removing {self.instance.macvlan}: {error}")
        return problems


@dataclass(frozen=True)
class _Link:
    ifname: str
    protodown: bool
