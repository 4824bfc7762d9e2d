"""The agent's kernel adapters, as one value the ``Agent`` is given.

Everything the agent asks of the kernel (links and addresses, the link watcher, VRRP sockets,
ARP/NA announcers, nftables, systemd's notify socket, the privilege probes) goes through a
:class:`Kernel`. :meth:`Kernel.real` builds the real adapters of ``vipguard.io``, the one place
they are chosen; tests hand the agent an in-memory kernel instead (tests/kernel_fake.py), so
start-up order, stale-VIP removal and reload run without root.

The protocols below name what the agent uses of each adapter, no more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..io.announce import Announcer
from ..io.netlink import Address, KernelEvent, KernelWatcher, Link, Netlink
from ..io.nftables import NeighbourSuppression
from ..io.privileges import can_administer_network, can_open_raw_sockets
from ..io.systemd import Notifier
from ..io.vrrp_socket import HeldRepeat, VrrpSocket
from ..proto.addresses import IPAddress, IPInterface
from ..proto.packet import ReceivedPacket
from .neighbours import open_suppression


class NetlinkPort(Protocol):
    """Links and addresses (io.netlink.Netlink)."""

    def close(self) -> None: ...
    async def link(self, name: str) -> Link: ...
    async def ensure_macvlan(self, parent: int, name: str, mac: str) -> Link: ...
    async def set_up(self, index: int, up: bool) -> None: ...
    async def delete_link(self, index: int) -> None: ...
    async def addresses(self, index: int) -> list[Address]: ...
    async def primary_address(self, index: int, ipv6: bool) -> IPAddress | None: ...
    async def add_address(self, index: int, vip: IPInterface, label: str | None) -> bool: ...
    async def remove_address(self, index: int, vip: IPInterface) -> bool: ...


class WatcherPort(Protocol):
    """Link and address events, read when ``fileno`` is readable (io.netlink.KernelWatcher)."""

    def fileno(self) -> int: ...
    def read(self) -> list[KernelEvent] | None: ...
    def close(self) -> None: ...


class SocketPort(Protocol):
    """One VRRP socket of an interface and family (io.vrrp_socket.VrrpSocket)."""

    def join(self, group: IPAddress) -> None: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...
    def send(self, payload: bytes, source: IPAddress, destination: IPAddress) -> None: ...
    def receive(self) -> ReceivedPacket | None: ...
    def hold_repeats(self, expected: Sequence[ReceivedPacket]) -> None: ...
    def take_repeats(self) -> list[HeldRepeat]: ...


class AnnouncerPort(Protocol):
    """Gratuitous ARP / unsolicited NA on one interface (io.announce.Announcer)."""

    def announce(self, address: IPAddress) -> None: ...
    def close(self) -> None: ...


class NotifierPort(Protocol):
    """systemd's notify protocol (io.systemd.Notifier)."""

    @property
    def watchdog_interval(self) -> float | None: ...
    def ready(self, status: str) -> bool: ...
    def watchdog(self) -> bool: ...
    def stopping(self) -> bool: ...


# (interface name, interface index, IPv6, freebind) -> socket
OpenSocket = Callable[[str, int, bool, bool], SocketPort]
# (interface name, MAC) -> announcer
OpenAnnouncer = Callable[[str, str], AnnouncerPort]


@dataclass(frozen=True, slots=True)
class Kernel:
    netlink: NetlinkPort
    open_watcher: Callable[[], WatcherPort]
    open_socket: OpenSocket
    open_announcer: OpenAnnouncer
    notifier: NotifierPort
    # nftables tables of the neighbour suppression, or None where unavailable (logged)
    open_suppression: Callable[[], NeighbourSuppression | None]
    can_open_raw_sockets: Callable[[], bool]
    can_administer_network: Callable[[], bool]

    @classmethod
    def real(cls) -> Kernel:
        """The host's kernel through the io adapters."""
        return cls(
            netlink=Netlink(),
            open_watcher=KernelWatcher,
            open_socket=_open_vrrp_socket,
            open_announcer=Announcer,
            notifier=Notifier(),
            open_suppression=open_suppression,
            can_open_raw_sockets=can_open_raw_sockets,
            can_administer_network=can_administer_network,
        )


def _open_vrrp_socket(ifname: str, index: int, ipv6: bool, freebind: bool) -> SocketPort:
    return VrrpSocket(ifname, index, ipv6, freebind=freebind)
