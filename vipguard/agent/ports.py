"""Ports: the configured interfaces, their VRRP sockets and the receive loop.

One port per interface (its link state, its announcer, one socket per address family, shared by
the interface's routers). Each receiving socket feeds the routers that listen on it by VRID: the
receive loop reads a bounded batch per wake-up and hands each advert to the router of its VRID.

Held repeats: each socket is told the steady repeats of the backups that listen on it
(``RouterDriver.steady``), which the kernel then queues apart without waking anyone (see
io.vrrp_socket). They are caught up with, in the order they came, before anything else reaches
a router of the socket: a datagram read from it, a router's timer or any other input, a snapshot.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..io.clock import Clock
from ..io.netlink import Link
from ..io.vrrp_socket import HeldRepeat
from ..proto.addresses import IPAddress
from ..proto.packet import ReceivedPacket
from . import logs
from .driver import RouterDriver
from .kernel import AnnouncerPort, Kernel, SocketPort

MAX_READS_PER_WAKEUP = 64


@dataclass(slots=True)
class Port:
    """One configured interface: its link state, its announcer, one raw socket per family."""

    link: Link
    announcer: AnnouncerPort
    sockets: dict[bool, SocketPort] = field(default_factory=dict)


class Ports:
    def __init__(self, kernel: Kernel, clock: Clock) -> None:
        self._kernel, self._clock = kernel, clock
        self.by_name: dict[str, Port] = {}
        # Each receiving socket and the routers it feeds, by VRID.
        self._listeners: dict[SocketPort, dict[int, RouterDriver]] = {}
        self._watched: set[SocketPort] = set()
        self._taken: dict[SocketPort, float] = {}  # when it last handed over held repeats
        self._holding: dict[SocketPort, bool] = {}  # may have repeats queued: holds some now?
        self._catching_up = False
        self._packet_errors = logs.RateLimiter(10.0)
        self.unknown_vrid = 0

    # ------------------------------------------------------------------ interfaces

    async def prepare(self, names: Iterable[str]) -> dict[str, Port]:
        """The ports of ``names``: the open ones, and new ones looked up but not yet kept
        (:meth:`adopt` keeps them, :meth:`abandon` closes them). Raises InterfaceMissing."""
        found: dict[str, Port] = {}
        try:
            for name in names:
                if name not in found:
                    found[name] = self.by_name.get(name) or await self._lookup(name)
        except BaseException:
            self.abandon(found)
            raise
        return found

    async def _lookup(self, name: str) -> Port:
        link = await self._kernel.netlink.link(name)
        return Port(link, self._kernel.open_announcer(name, link.mac))

    def adopt(self, prepared: dict[str, Port]) -> None:
        for name, port in prepared.items():
            self.by_name.setdefault(name, port)

    def abandon(self, prepared: dict[str, Port]) -> None:
        """Close what :meth:`prepare` opened and nobody kept."""
        for name, port in prepared.items():
            if self.by_name.get(name) is not port:
                port.announcer.close()

    def socket(self, port: Port, ipv6: bool) -> SocketPort:
        if ipv6 not in port.sockets:
            port.sockets[ipv6] = self._kernel.open_socket(
                port.link.name, port.link.index, ipv6, False
            )
        return port.sockets[ipv6]

    # ------------------------------------------------------------------ demultiplexing

    def listen(self, sockets: Iterable[SocketPort], vrid: int, driver: RouterDriver) -> None:
        listened = tuple(sockets)
        for sock in listened:
            self._listeners.setdefault(sock, {})[vrid] = driver
        driver.catch_up = lambda: self.catch_up(listened)
        driver.on_steady = lambda _driver: self._hold(listened)

    def forget(self, sockets: Iterable[SocketPort], vrid: int) -> None:
        """``vrid``'s router no longer listens on ``sockets``; unwatch those nobody reads."""
        for sock in sockets:
            feeds = self._listeners[sock]
            del feeds[vrid]
            self._hold((sock,))
            if not feeds:
                del self._listeners[sock]
                self._holding.pop(sock, None)
                self._taken.pop(sock, None)
                if sock in self._watched:
                    asyncio.get_running_loop().remove_reader(sock.fileno())
                    self._watched.discard(sock)

    def watch(self) -> None:
        """Read every listened socket from the event loop (the new ones since last time)."""
        loop = asyncio.get_running_loop()
        for sock in self._listeners.keys() - self._watched:
            loop.add_reader(sock.fileno(), self._readable, sock)
            self._watched.add(sock)

    def _readable(self, sock: SocketPort) -> None:
        drivers = self._listeners[sock]
        self.catch_up((sock,))  # what was held back came first
        for _ in range(MAX_READS_PER_WAKEUP):
            packet = sock.receive()
            if packet is None:
                return
            driver = drivers.get(packet.payload[1]) if len(packet.payload) > 1 else None
            if driver is None:
                self.unknown_vrid += 1
                continue
            if not driver.hears(sock):  # a copy of what its other socket receives
                continue
            try:
                driver.on_packet(packet)
            except Exception as error:  # a core bug: drop the packet, keep the protocol running
                held = self._packet_errors.allow("packet", self._clock.now().monotonic)
                if held is not None:
                    logs.event(
                        "packet_failed",
                        logging.ERROR,
                        instance=driver.name,
                        source=packet.source,
                        error=repr(error),
                        suppressed=held,
                    )

    # ------------------------------------------------------------------ held repeats

    def _hold(self, sockets: Iterable[SocketPort]) -> None:
        """Tell each of ``sockets`` the steady repeats of the routers that hear it now."""
        for sock in sockets:
            drivers = self._listeners.get(sock, {}).values()
            steady = [d.steady for d in drivers if d.steady is not None and d.hears(sock)]
            sock.hold_repeats(steady)
            if steady or sock in self._holding:  # what it held until now is still to be taken
                self._holding[sock] = bool(steady)

    def catch_up_all(self) -> None:
        self.catch_up(list(self._listeners))

    def catch_up(self, sockets: Iterable[SocketPort]) -> None:
        """Hand the routers the repeats ``sockets`` held back since the last time, in order;
        a router's input while doing so does not start another round (it would overtake)."""
        if self._catching_up or not self._holding:  # a master's every advert: nothing held
            return
        self._catching_up = True
        try:
            for sock in sockets:
                if sock in self._holding:
                    self._catch_up(sock)
        finally:
            self._catching_up = False

    def _catch_up(self, sock: SocketPort) -> None:
        repeats = sock.take_repeats()
        if not repeats:
            if not self._holding[sock]:  # let go of, and nothing left of what it held
                del self._holding[sock]
            return
        now = self._clock.now().monotonic
        since, self._taken[sock] = self._taken.get(sock, now), now
        drivers = self._listeners.get(sock, {})
        for packet, age, count in _runs(repeats):
            driver = drivers.get(packet.payload[1])
            if driver is not None and driver.hears(sock):
                # Each arrived after the last take that found any (which emptied the queue).
                driver.on_repeats(packet, max(since, now - age), count)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self._watched:
            loop.remove_reader(sock.fileno())
        self._watched.clear()
        for port in self.by_name.values():
            for sock in port.sockets.values():
                sock.close()
            port.announcer.close()


def _runs(repeats: list[HeldRepeat]) -> list[tuple[ReceivedPacket, float, int]]:
    """Each VRID's consecutive equal datagrams as one (the datagram, the age of its last copy,
    how many), in the order each VRID's came."""
    runs: dict[int, list[tuple[ReceivedPacket, float, int]]] = {}
    for repeat in repeats:
        packet = repeat.packet
        own = runs.setdefault(packet.payload[1], [])
        if own and own[-1][0] == packet:
            own[-1] = (packet, repeat.age, own[-1][2] + 1)
        else:
            own.append((packet, repeat.age, 1))
    return [run for own in runs.values() for run in own]


def join(sock: SocketPort, group: IPAddress) -> None:
    try:
        sock.join(group)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:  # EADDRINUSE: another instance joined it already
            raise
