"""An in-memory kernel for the agent: links, addresses, VRRP sockets, announcers, the link watcher
and systemd's notify socket, as plain Python objects that write down, in order, every call the
agent makes. ``FakeKernel.adapters()`` is what ``Agent(config, kernel=...)`` takes; a test then
drives start-up, reload and shutdown without root and reads the order of things from ``calls``.

Sockets and the watcher are readable through a real socket pair each, so the agent's event loop
watches them as it watches the kernel's (``add_reader``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import textwrap
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_interface
from pathlib import Path
from typing import Any

from vipguard.agent.driver import AnnouncePolicy, Egress, RouterDriver
from vipguard.agent.kernel import Kernel
from vipguard.agent.runtime import Agent
from vipguard.config import Config, load
from vipguard.io.clock import SteadyWallClock
from vipguard.io.netlink import Address, InterfaceMissing, KernelEvent, Link, Netlink
from vipguard.io.nftables import NftablesError
from vipguard.io.vrrp_socket import HeldRepeat
from vipguard.proto.addresses import IPAddress, IPInterface
from vipguard.proto.packet import ReceivedPacket
from vipguard.proto.router import RouterConfig, VirtualRouter

Call = tuple[Any, ...]


class _Readable:
    """A file descriptor the event loop can watch, made readable while something is queued."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)

    def fileno(self) -> int:
        return self._reader.fileno()

    def wake(self) -> None:
        self._writer.send(b"\0")

    def drain(self) -> None:
        try:
            while self._reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


class FakeSocket(_Readable):
    def __init__(self, kernel: FakeKernel, ifname: str, ipv6: bool) -> None:
        super().__init__()
        self.kernel, self.ifname, self.ipv6 = kernel, ifname, ipv6
        self.inbox: deque[ReceivedPacket] = deque()
        self.sent: list[tuple[bytes, IPAddress, IPAddress]] = []
        self.groups: list[IPAddress] = []
        self.closed = False
        self._watched = False
        # Held repeats, as the real socket's filter sorts them: the expected ones wait apart,
        # with their arrival time, without making the socket readable.
        self.held: tuple[ReceivedPacket, ...] = ()
        self.holding: list[tuple[ReceivedPacket, float]] = []
        self.hold_changes = 0

    def fileno(self) -> int:
        # The event loop asks for the descriptor when it starts watching the socket: the first
        # time is written down, so tests see when the agent began to read it.
        if not self._watched:
            self._watched = True
            self.kernel.calls.append(("watch_socket", self.ifname, self.ipv6))
        return super().fileno()

    def join(self, group: IPAddress) -> None:
        self.groups.append(group)
        self.kernel.calls.append(("join", self.ifname, str(group)))

    def send(self, payload: bytes, source: IPAddress, destination: IPAddress) -> None:
        self.sent.append((payload, source, destination))
        # Last, the advert's priority (its third byte): a stepping-down master sends 0.
        self.kernel.calls.append(("send", self.ifname, str(source), str(destination), payload[2]))

    def deliver(self, packet: ReceivedPacket) -> None:
        if packet in self.held:
            self.holding.append((packet, self.kernel.monotonic()))
            return
        self.inbox.append(packet)
        self.wake()

    def hold_repeats(self, expected: Sequence[ReceivedPacket]) -> None:
        if tuple(expected) != self.held:
            self.held = tuple(expected)
            self.hold_changes += 1

    def take_repeats(self) -> list[HeldRepeat]:
        now = self.kernel.monotonic()
        taken = [HeldRepeat(packet, now - at) for packet, at in self.holding]
        self.holding.clear()
        return taken

    def receive(self) -> ReceivedPacket | None:
        if not self.inbox:
            self.drain()
            return None
        return self.inbox.popleft()

    def close(self) -> None:
        self.closed = True
        self.kernel.calls.append(("close_socket", self.ifname, self.ipv6))
        super().close()


@dataclass
class FakeAnnouncer:
    kernel: FakeKernel
    ifname: str
    announced: list[IPAddress] = field(default_factory=list)
    closed: bool = False

    def announce(self, address: IPAddress) -> None:
        self.announced.append(address)
        self.kernel.calls.append(("announce", self.ifname, str(address)))

    def close(self) -> None:
        self.closed = True


class FakeWatcher(_Readable):
    def __init__(self) -> None:
        super().__init__()
        self.queued: list[KernelEvent] = []
        self._overflowed = False

    def push(self, *events: KernelEvent) -> None:
        self.queued += events
        self.wake()

    def overflow(self) -> None:
        """The kernel's queue overflowed: what was queued is lost, the next read says so."""
        self.queued, self._overflowed = [], True
        self.wake()

    def read(self) -> list[KernelEvent] | None:
        self.drain()
        if self._overflowed:
            self._overflowed = False
            return None
        events, self.queued = self.queued, []
        return events


class FakeNetlink:
    """Links and their addresses, changed only by what the agent asks.

    ``fail_adds``: that many next ``add_address`` calls fail as a busy kernel's do (not written
    down). ``on_removed``: told of each removal before ``remove_address`` answers, as the
    kernel's address events reach a driver (a test hands it ``driver.on_address``)."""

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel
        self.links: dict[str, Link] = {}
        self.addresses_of: dict[int, list[Address]] = {}
        self.closed = False
        self.fail_adds = 0
        self.on_removed: Callable[[int, IPAddress], None] | None = None

    def add_link(self, name: str, *addresses: str, up: bool = True) -> Link:
        index = len(self.links) + 2
        link = Link(index, name, f"02:00:00:00:00:{index:02x}", up)
        self.links[name] = link
        self.addresses_of[index] = [
            Address(ip_interface(a), None, secondary=n > 0, link_scope=False)
            for n, a in enumerate(addresses)
        ]
        return link

    def holds(self, name: str, address: str) -> bool:
        wanted = ip_interface(address)
        return any(a.interface == wanted for a in self.addresses_of[self.links[name].index])

    def close(self) -> None:
        self.closed = True

    async def link(self, name: str) -> Link:
        self.kernel.calls.append(("link", name))
        if name not in self.links:
            raise InterfaceMissing(f"interface {name!r} does not exist")
        return self.links[name]

    async def ensure_macvlan(self, parent: int, name: str, mac: str) -> Link:
        raise NotImplementedError("the fake kernel has no macvlans")

    async def set_up(self, index: int, up: bool) -> None:
        raise NotImplementedError("the fake kernel has no macvlans")

    async def delete_link(self, index: int) -> None:
        raise NotImplementedError("the fake kernel has no macvlans")

    async def addresses(self, index: int) -> list[Address]:
        return list(self.addresses_of.get(index, []))

    # The real rule (IPv4: the first non-secondary address; IPv6: the link-local one), over
    # the fake's addresses.
    primary_address = Netlink.primary_address

    async def add_address(self, index: int, vip: IPInterface, label: str | None) -> bool:
        if self.fail_adds:
            self.fail_adds -= 1
            raise OSError("netlink says no")
        self.kernel.calls.append(("add_address", str(vip), label))
        present = self.addresses_of.setdefault(index, [])
        if any(a.interface == vip for a in present):
            return False
        present.append(Address(vip, label, secondary=True, link_scope=False))
        return True

    async def remove_address(self, index: int, vip: IPInterface) -> bool:
        present = self.addresses_of.get(index, [])
        kept = [a for a in present if a.interface != vip]
        self.addresses_of[index] = kept
        removed = len(kept) != len(present)
        self.kernel.calls.append(("remove_address", str(vip), removed))
        if removed and self.on_removed is not None:
            self.on_removed(index, vip.ip)
        return removed


class FakeSuppression:
    """The nftables tables that hold back ARP / ND answers for a VIP during a handover;
    ``fail`` makes every silencing fail, ``fail_restores`` that many next restores."""

    def __init__(self, kernel: FakeKernel, fail: bool = False, fail_restores: int = 0) -> None:
        self.kernel, self.fail, self.fail_restores = kernel, fail, fail_restores

    def silence(self, address: IPAddress) -> None:
        if self.fail:
            raise NftablesError("Error: Could not process rule: Operation not permitted")
        self.kernel.calls.append(("silence", str(address)))

    def restore(self, address: IPAddress) -> None:
        if self.fail_restores:
            self.fail_restores -= 1
            raise NftablesError("Error: Could not process rule: No buffer space available")
        self.kernel.calls.append(("answer", str(address)))


@dataclass
class FakeNotifier:
    kernel: FakeKernel
    watchdog_interval: float | None = None

    def ready(self, status: str) -> bool:
        self.kernel.calls.append(("ready", status))
        return True

    def watchdog(self) -> bool:
        return True

    def stopping(self) -> bool:
        self.kernel.calls.append(("stopping",))
        return True


class FakeKernel:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.netlink = FakeNetlink(self)
        self.watcher = FakeWatcher()
        self.notifier = FakeNotifier(self)
        self.sockets: list[FakeSocket] = []
        self.announcers: list[FakeAnnouncer] = []
        # When a held repeat arrives: the event loop's clock unless a test steps its own.
        self.monotonic: Callable[[], float] = time.monotonic

    def adapters(self) -> Kernel:
        return Kernel(
            netlink=self.netlink,
            open_watcher=lambda: self.watcher,
            open_socket=self._open_socket,
            open_announcer=self._open_announcer,
            notifier=self.notifier,
            open_suppression=lambda: None,  # no nftables here: the agent logs it and goes on
            can_open_raw_sockets=lambda: True,
            can_administer_network=lambda: True,
        )

    def _open_socket(self, ifname: str, index: int, ipv6: bool, freebind: bool) -> FakeSocket:
        sock = FakeSocket(self, ifname, ipv6)
        self.sockets.append(sock)
        self.calls.append(("open_socket", ifname, ipv6))
        return sock

    def _open_announcer(self, ifname: str, mac: str) -> FakeAnnouncer:
        announcer = FakeAnnouncer(self, ifname)
        self.announcers.append(announcer)
        return announcer

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]

    def first(self, *call: Any) -> int:
        """The position of the first call starting with ``call``."""
        return next(n for n, made in enumerate(self.calls) if made[: len(call)] == call)

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Until ``condition`` holds, polled on the event loop; fails after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if loop.time() > deadline:
                raise AssertionError(f"not reached within {timeout}s; calls: {self.calls}")
            await asyncio.sleep(0.01)


def instance(
    name: str,
    vrid: int,
    *lines: str,
    vips: str = '"192.0.2.100/24"',
    interface: str = "eth0",
) -> str:
    """One ``[[instance]]`` table, with ``lines`` added (``"priority = 255"``)."""
    extra = "".join(f"{line}\n" for line in lines)
    return (
        f'[[instance]]\nname = "{name}"\ninterface = "{interface}"\nvrid = {vrid}\n'
        f"vips = [{vips}]\n{extra}"
    )


OWNER = instance("web", 51, "priority = 255")  # master at once: its first advert at start


def write_config(directory: Path, instances: str) -> Config:
    """A configuration file in ``directory`` (control socket and state there, no metrics)
    holding ``instances``, loaded as the agent would."""
    path = directory / "vipguard.toml"
    agent = (
        f'[agent]\ncontrol_socket = "{directory / "agent.sock"}"\n'
        f'state_dir = "{directory / "state"}"\nmetrics = ""\n'
    )
    path.write_text(agent + textwrap.dedent(instances))
    return load(path)


@contextlib.asynccontextmanager
async def running(agent: Agent, kernel: FakeKernel) -> AsyncIterator[asyncio.Task[int]]:
    """The agent serving (start-up done: systemd was told READY) until the block ends; then
    stopped, and its exit status checked."""
    task = asyncio.create_task(agent.run())
    try:
        await kernel.until(lambda: "ready" in kernel.kinds() or task.done())
        if task.done():
            raise AssertionError(f"the agent did not start: exit status {task.result()}")
        yield task
    finally:
        agent.stop()
        status = await asyncio.wait_for(task, 30)
    assert status == 0, f"exit status {status}"


def quiet_driver(
    config: RouterConfig, kernel: FakeKernel, **observers: Any
) -> tuple[RouterDriver, FakeSocket]:
    """A driver of ``config`` on the fake kernel's eth0, and its socket (which keeps what it
    is asked to send)."""
    link = kernel.netlink.add_link("eth0", f"{config.source}/24")
    socket = FakeSocket(kernel, "eth0", ipv6=False)
    egress = Egress("eth0", link.index, link.index, socket, FakeAnnouncer(kernel, "eth0"))
    driver = RouterDriver(
        name="web",
        router=VirtualRouter(config),
        egress=egress,  # type: ignore[arg-type]
        netlink=kernel.netlink,  # type: ignore[arg-type]
        clock=SteadyWallClock(),
        labels={vip: None for vip in config.vips},
        announce=AnnouncePolicy(count=1),
        **observers,
    )
    return driver, socket
