"""Virtual MACs (RFC 5798 §7.3): a private-mode macvlan per VRID and family carrying
00-00-5E-00-01-{VRID} (IPv6: 00-00-5E-00-02-{VRID}), so clients never relearn a VIP's MAC.

The agent creates (or, after a crash, adopts) them at start and removes them at stop, and it
restores the interface sysctls it changed for them. A macvlan is up only while its router is
master: down, it sends nothing (no IGMP/MLD report, no SLAAC), so the switches never learn the
virtual MAC on a backup's port, and the parent receives the master's adverts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ..io.frames import virtual_mac
from ..io.netlink import InterfaceConflict, Link
from ..io.sysctl import set_sysctl
from ..proto.addresses import IPInterface
from .kernel import AnnouncerPort, NetlinkPort, OpenAnnouncer, OpenSocket, SocketPort


class VmacError(RuntimeError):
    """A virtual MAC cannot be set up; the message says why and what to do."""


@dataclass(slots=True)
class Vmac:
    name: str
    link: Link
    sender: SocketPort
    announcer: AnnouncerPort


def vmac_name(vrid: int, ipv6: bool) -> str:
    return f"vrrp{'6' if ipv6 else ''}.{vrid}"


class VirtualMacs:
    def __init__(
        self, netlink: NetlinkPort, open_socket: OpenSocket, open_announcer: OpenAnnouncer
    ) -> None:
        self._netlink = netlink
        self._open_socket, self._open_announcer = open_socket, open_announcer
        self._open: dict[str, Vmac] = {}
        self._sysctls: dict[str, str] = {}

    async def open(self, parent: Link, vrid: int, ipv6: bool, vips: list[IPInterface]) -> Vmac:
        name, mac = vmac_name(vrid, ipv6), virtual_mac(vrid, ipv6)
        if name in self._open:
            raise VmacError(
                f"VRID {vrid} uses a virtual MAC on two interfaces; one MAC cannot serve both:"
                " give one of them another VRID"
            )
        try:
            link = await self._netlink.ensure_macvlan(parent.index, name, mac)
        except InterfaceConflict as error:
            raise VmacError(f"{error}; delete it") from None
        for vip in vips:
            await self._netlink.remove_address(link.index, vip)  # left by a crashed agent
        try:
            self._tune(parent.name, name, ipv6)
            sender = self._open_socket(name, link.index, ipv6, True)  # freebind: no own address
            vmac = Vmac(name, link, sender, self._open_announcer(name, mac))
        except BaseException:  # a refused start leaves no macvlan behind
            with contextlib.suppress(Exception):
                await self._netlink.delete_link(link.index)
            raise
        self._open[name] = vmac
        return vmac

    def _tune(self, parent: str, name: str, ipv6: bool) -> None:
        if not ipv6:
            # Only the macvlan may tie a VIP to a MAC: it answers ARP for the VIPs (arp_ignore),
            # and the parent never names a VIP as the sender of its own ARP (arp_announce).
            for ifname in (parent, name):
                self._set_sysctl(f"net/ipv4/conf/{ifname}/arp_ignore", "1")
                self._set_sysctl(f"net/ipv4/conf/{ifname}/arp_announce", "2")
        # Up (master), it must not build a SLAAC address (nor a default route) from the virtual
        # MAC: two nodes would derive the same one. IPv6 runs on an IPv4 macvlan too.
        for setting in ("accept_ra", "autoconf"):
            self._set_sysctl(f"net/ipv6/conf/{name}/{setting}", "0")

    def _set_sysctl(self, key: str, value: str) -> None:
        try:
            previous = set_sysctl(key, value)
        except OSError as error:
            raise VmacError(
                f"cannot set {key} ({error.strerror}); under systemd add a drop-in with"
                " ProtectKernelTunables=no and ProcSubset=all for use_vmac"
            ) from None
        self._sysctls.setdefault(key, previous)

    async def remove(self, name: str) -> None:
        vmac = self._open.pop(name, None)
        if vmac is None:
            return
        vmac.sender.close()
        vmac.announcer.close()
        with contextlib.suppress(Exception):
            await self._netlink.delete_link(vmac.link.index)

    async def remove_all(self) -> None:
        for name in list(self._open):
            await self.remove(name)
        for key, previous in self._sysctls.items():
            with contextlib.suppress(OSError):
                set_sysctl(key, previous)
        self._sysctls.clear()
