"""Interfaces and addresses through rtnetlink (pyroute2), and a watch of link changes.

VIP changes are idempotent: adding a present address or removing an absent one is success, and
nothing but the addresses named by the configuration is ever touched.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_interface

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..proto.addresses import IPAddress, IPInterface

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
IFA_F_NODAD = 0x02
IFA_F_SECONDARY = 0x01
IFA_F_TENTATIVE = 0x40
RT_SCOPE_LINK = 253


class InterfaceMissing(LookupError):
    pass


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

    async def close(self) -> None:
        await self._ipr.close()

    async def link(self, name: str) -> Link:
        indexes = await self._ipr.link_lookup(ifname=name)
        if not indexes:
            raise InterfaceMissing(f"interface {name!r} does not exist")
        links = [_link(m) async for m in await self._ipr.link("get", index=indexes[0])]
        return links[0]

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


async def watch_links() -> AsyncIterator[Link]:
    """Every RTM_NEWLINK the kernel reports (state changes included), until cancelled."""
    monitor = AsyncIPRoute()
    try:
        await monitor.bind()
        async for message in monitor.get():
            if message.get("event") == "RTM_NEWLINK":
                yield _link(message)
    finally:
        await monitor.close()


def parse_address(text: str) -> IPAddress:
    return ip_address(text)
