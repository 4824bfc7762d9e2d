"""Interfaces and addresses through rtnetlink (pyroute2), and a watch of link changes.

VIP changes are idempotent: adding a present address or removing an absent one is success, and
nothing but the addresses named by the configuration is ever touched.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_interface

from .lean_imports import package_without_init

package_without_init("pyroute2")  # its rtnetlink alone, not its whole library (6 MiB less)

from pyroute2.iproute.linux import AsyncIPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402

from ..proto.addresses import IPAddress, IPInterface  # noqa: E402

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
IFA_F_NODAD = 0x02
IN6_ADDR_GEN_MODE_NONE = 1
IFA_F_SECONDARY = 0x01
IFA_F_TENTATIVE = 0x40
RT_SCOPE_LINK = 253
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWLINK = 16
RTM_DELLINK = 17
IFLA_IFNAME = 3
RTM_NEWADDR = 20
RTM_DELADDR = 21
IFA_ADDRESS = 1
IFA_LOCAL = 2
_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")


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
        ``parent``, administratively down and without IPv6 address generation (no link-local
        address, hence no DAD or MLD from one once it is up): a backup must never send a frame
        from the virtual MAC, or the switches learn that it lives there. ``set_up`` raises it."""
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
        await self.set_up(link.index, False)  # an adopted one may be up
        no_addresses = [["IFLA_INET6_ADDR_GEN_MODE", IN6_ADDR_GEN_MODE_NONE]]
        await self._ipr.link(
            "set", index=link.index, af_spec={"attrs": [["AF_INET6", {"attrs": no_addresses}]]}
        )
        return await self.link(name)

    async def set_up(self, index: int, up: bool) -> None:
        """Bring an interface administratively up or down."""
        await self._ipr.link("set", index=index, state="up" if up else "down")

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


@dataclass(frozen=True, slots=True)
class LinkChange:
    index: int
    up: bool
    name: str | None = None  # the interface's name when the kernel said it (it always does)


@dataclass(frozen=True, slots=True)
class AddressChange:
    index: int
    address: IPAddress
    added: bool


KernelEvent = LinkChange | AddressChange


class KernelWatcher:
    """Link and address changes straight from the kernel's rtnetlink multicast groups.

    Only fixed headers and the address attribute are read, so nothing can be lost in a library's
    message dispatch; the event loop reads it with ``add_reader``. If the socket overflows
    (ENOBUFS), ``read`` returns None and the caller re-reads what it cares about.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            self.sock.setblocking(False)
            self.sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        except OSError:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def read(self) -> list[KernelEvent] | None:
        """Every link and address event queued now; None if some were lost."""
        events: list[KernelEvent] = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return events
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    return None
                raise
            events += parse_events(data)


def parse_events(data: bytes) -> list[KernelEvent]:
    events: list[KernelEvent] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        body = data[offset + _NLMSGHDR.size : offset + length]
        link = kind in (RTM_NEWLINK, RTM_DELLINK)
        event = _link_event(kind, body) if link else _address_event(kind, body)
        if event is not None:
            events.append(event)
        offset += (length + 3) & ~3
    return events


def _attributes(body: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    """The (type, value) route attributes of a message body from ``offset`` on."""
    while offset + _RTATTR.size <= len(body):
        attr_length, attr_type = _RTATTR.unpack_from(body, offset)
        if attr_length < _RTATTR.size:
            return
        yield attr_type, body[offset + _RTATTR.size : offset + attr_length]
        offset += (attr_length + 3) & ~3


def _link_event(kind: int, body: bytes) -> LinkChange | None:
    if len(body) < _IFINFOMSG.size:
        return None
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(body)
    up = kind == RTM_NEWLINK and bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)
    names = (v for t, v in _attributes(body, _IFINFOMSG.size) if t == IFLA_IFNAME)
    name = next(names, b"").split(b"\0", 1)[0].decode(errors="replace") or None
    return LinkChange(index, up, name)


def _address_event(kind: int, body: bytes) -> AddressChange | None:
    if kind not in (RTM_NEWADDR, RTM_DELADDR) or len(body) < _IFADDRMSG.size:
        return None
    family, _prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(body)
    width = {socket.AF_INET: 4, socket.AF_INET6: 16}.get(family)
    # IPv4 names the interface's own address IFA_LOCAL (IFA_ADDRESS is the peer on p2p links).
    wanted = IFA_LOCAL if family == socket.AF_INET else IFA_ADDRESS
    for attr_type, value in _attributes(body, _IFADDRMSG.size) if width else ():
        if attr_type == wanted and len(value) == width:
            address = IPv4Address(value) if width == 4 else IPv6Address(value)
            return AddressChange(index, address, kind == RTM_NEWADDR)
    return None
