"""Interfaces and addresses through rtnetlink (pyroute2), and a watch of link changes.

VIP changes are idempotent: adding a present address or removing an absent one is success, and
nothing but the addresses named by the configuration is ever touched.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_interface

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..proto.addresses import IPAddress, IPInterface
from .sysctl import set_sysctl

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
IFA_F_NODAD = 0x02
IFA_F_SECONDARY = 0x01
IFA_F_TENTATIVE = 0x40
RT_SCOPE_LINK = 253
RTMGRP_LINK = 1
RTM_NEWLINK = 16
_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")


class InterfaceMissing(LookupError):
    pass


class InterfaceConflict(RuntimeError):
    """An interface vipguard wants to create exists already as something else."""


@dataclass(frozen=True, slots=True)
class Link:
    index: int
    name: str
    mac: str
    up: bool


@dataclass(frozen=True, slots=True)
class Address:
    interface: IPInterface
    label: str | None
    secondary: bool
    link_scope: bool


def _link(message: object) -> Link:
    get = message.get  # type: ignore[attr-defined]
    flags = get("flags") or 0
    up = bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)
    return Link(message["index"], get("ifname"), get("address") or "", up)  # type: ignore[index]


class Netlink:
    def __init__(self) -> None:
        self._ipr = AsyncIPRoute()

    def close(self) -> None:
        self._ipr.close()

    async def link(self, name: str) -> Link:
        indexes = await self._ipr.link_lookup(ifname=name)
        if not indexes:
            raise InterfaceMissing(f"interface {name!r} does not exist")
        messages = await self._ipr.link("get", index=indexes[0])
        return _link(messages[0])

    async def ensure_macvlan(self, parent: int, name: str, mac: str) -> Link:
        """Create (or adopt, after a crash) the private-mode macvlan ``name`` carrying ``mac`` on
        ``parent`` and bring it up. It gets no IPv6 link-local address: on a backup, any packet
        it sent (MLD, NDP) would teach the switches that the virtual MAC lives there."""
        try:
            await self._ipr.link(
                "add", ifname=name, kind="macvlan", link=parent, macvlan_mode="private", address=mac
            )
        except NetlinkError as error:
            if error.code != errno.EEXIST:
                raise
        link = await self.link(name)
        if link.mac.lower() != mac.lower():
            raise InterfaceConflict(f"{name} exists with MAC {link.mac}, not the virtual MAC {mac}")
        set_sysctl(f"net/ipv6/conf/{name}/addr_gen_mode", "1")
        await self._ipr.link("set", index=link.index, state="up")
        return await self.link(name)

    async def delete_link(self, index: int) -> None:
        try:
            await self._ipr.link("del", index=index)
        except NetlinkError as error:
            if error.code != errno.ENODEV:
                raise

    async def addresses(self, index: int) -> list[Address]:
        found = []
        async for message in await self._ipr.addr("dump", index=index):
            prefix = f"{message.get('address')}/{message['prefixlen']}"
            flags = message.get("flags") or message["flags"]
            found.append(
                Address(
                    ip_interface(prefix),
                    message.get("label"),
                    bool(flags & IFA_F_SECONDARY),
                    message["scope"] == RT_SCOPE_LINK,
                )
            )
        return found

    async def primary_address(self, index: int, ipv6: bool) -> IPAddress | None:
        """IPv4: the first non-secondary address; IPv6: the link-local address."""
        for address in await self.addresses(index):
            ip = address.interface.ip
            if ipv6 and isinstance(ip, IPv6Address) and ip.is_link_local:
                return ip
            if not ipv6 and isinstance(ip, IPv4Address) and not address.secondary:
                return ip
        return None

    async def add_address(self, index: int, vip: IPInterface, label: str | None) -> bool:
        """Bind ``vip``; False if it was already there."""
        options: dict[str, object] = {"address": str(vip.ip), "prefixlen": vip.network.prefixlen}
        if isinstance(vip.ip, IPv6Address):
            options["flags"] = IFA_F_NODAD
        elif label:
            options["label"] = label
        try:
            await self._ipr.addr("add", index=index, **options)
        except NetlinkError as error:
            if error.code == errno.EEXIST:
                return False
            raise
        return True

    async def remove_address(self, index: int, vip: IPInterface) -> bool:
        """Unbind ``vip``; False if it was not there."""
        try:
            await self._ipr.addr(
                "del", index=index, address=str(vip.ip), prefixlen=vip.network.prefixlen
            )
        except NetlinkError as error:
            if error.code in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ENODEV):
                return False
            raise
        return True


class LinkWatcher:
    """Link state changes straight from the kernel's RTMGRP_LINK multicast group.

    Only the fixed ifinfomsg header is read (index and flags), so nothing can be lost in a
    library's message dispatch; the event loop reads it with ``add_reader``. If the socket
    overflows (ENOBUFS), ``read`` returns None and the caller re-reads every link it cares about.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            self.sock.setblocking(False)
            self.sock.bind((0, RTMGRP_LINK))
        except OSError:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def read(self) -> list[tuple[int, bool]] | None:
        """(index, up) for every link message queued now; None if some were lost."""
        changes: list[tuple[int, bool]] = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return changes
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    return None
                raise
            changes += _link_messages(data)


def _link_messages(data: bytes) -> list[tuple[int, bool]]:
    found = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
        if length < _NLMSGHDR.size:
            break
        body = offset + _NLMSGHDR.size
        if kind == RTM_NEWLINK and body + _IFINFOMSG.size <= len(data):
            _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, body)
            found.append((index, bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)))
        offset += (length + 3) & ~3
    return found
