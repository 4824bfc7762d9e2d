"""Helpers for driving :class:`VirtualRouter` in tests without sockets or real time.

* :class:`FakeClock`: a float of seconds stepped forward by hand, handing out :class:`Instant`.
* :func:`received`: what another router's socket hands its core for one :class:`Transmit`.
* :func:`advert_packet`: a hand-made advertisement from an arbitrary (fake) sender.
* :class:`Link`: an in-memory segment; each Transmit reaches the other live routers of its VRID
  at once (multicast to all of them, unicast to the one owning the destination address).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_interface
from typing import Any, TypeVar

from vipguard.proto.addresses import IPAddress, IPInterface, vrrp_group
from vipguard.proto.checksum import ChecksumMode
from vipguard.proto.effects import Effect, StateChanged, Transmit
from vipguard.proto.packet import Advertisement, ReceivedPacket, decode, encode
from vipguard.proto.router import RouterConfig, VirtualRouter
from vipguard.proto.timers import Instant
from vipguard.proto.wire import ChecksumPolicy

EPOCH_NS = 1_767_225_600 * 1_000_000_000
"""Wall-clock nanoseconds at fake time 0 (2026-01-01): authenticated sequences need a sane epoch."""

VIPS_V4: tuple[IPInterface, ...] = (ip_interface("192.0.2.100/24"),)
VIPS_V6: tuple[IPInterface, ...] = (ip_interface("2001:db8::100/64"),)

E = TypeVar("E")


@dataclass(slots=True)
class FakeClock:
    now: float = 0.0

    def instant(self) -> Instant:
        return Instant(self.now, EPOCH_NS + round(self.now * 1e9))

    def advance(self, seconds: float) -> Instant:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.now += seconds
        return self.instant()

    def advance_to(self, moment: float) -> Instant:
        if moment < self.now:
            raise ValueError(f"cannot go back from {self.now} to {moment}")
        self.now = moment
        return self.instant()


def make_config(priority: int = 100, source: str = "192.0.2.2", **overrides: Any) -> RouterConfig:
    """A VRID 1 router on 192.0.2.0/24 (or on IPv6 when ``source`` is an IPv6 address)."""
    address = ip_address(source)
    overrides.setdefault("vips", VIPS_V6 if address.version == 6 else VIPS_V4)
    overrides.setdefault("vrid", 1)
    return RouterConfig(priority=priority, source=address, **overrides)


def received(transmit: Transmit, source: IPAddress, *, ttl: int = 255) -> ReceivedPacket:
    """The packet a receiver's socket delivers for ``transmit`` sent from ``source``."""
    return ReceivedPacket(source, transmit.destination, ttl, transmit.payload)


def advert_packet(
    source: str | IPAddress,
    priority: int,
    *,
    vrid: int = 1,
    interval_cs: int = 100,
    version: int = 3,
    addresses: tuple[IPAddress, ...] | None = None,
    destination: IPAddress | None = None,
    ttl: int = 255,
    checksum_mode: ChecksumMode = ChecksumMode.PSEUDO_HEADER,
) -> ReceivedPacket:
    """An unauthenticated advertisement as a receiver gets it (multicast unless ``destination``),
    by default in the VRRPv3/IPv4 checksum form keepalived and FRR send."""
    sender = ip_address(source) if isinstance(source, str) else source
    if addresses is None:
        addresses = tuple(vip.ip for vip in (VIPS_V6 if sender.version == 6 else VIPS_V4))
    target = destination or vrrp_group(sender)
    advert = Advertisement(version, vrid, priority, interval_cs, addresses)
    payload = encode(advert, source=sender, destination=target, checksum_mode=checksum_mode)
    return ReceivedPacket(sender, target, ttl, payload)


def expected_transmits(
    config: RouterConfig, priority: int, mode: ChecksumMode | None = None
) -> list[Transmit]:
    """What an unauthenticated router sends for one advert: by default in the checksum form of
    a router that has heard no peer yet (pseudo-header under "auto", the widely deployed one)."""
    if mode is None:
        policy = config.checksum
        auto = policy is ChecksumPolicy.AUTO
        mode = ChecksumMode.PSEUDO_HEADER if auto else ChecksumMode(policy.value)
    advert = config.advertisement(priority)
    return [
        Transmit(
            dest,
            encode(advert, source=config.source, destination=dest, checksum_mode=mode),
            priority,
        )
        for dest in config.wire_config().destinations
    ]


def sent_checksum_mode(transmit: Transmit, source: IPAddress) -> ChecksumMode | None:
    """The VRRPv3/IPv4 checksum variant ``transmit`` was sealed with."""
    return decode(received(transmit, source)).checksum_mode


def of_type(effects: list[Effect], kind: type[E]) -> list[E]:
    return [effect for effect in effects if isinstance(effect, kind)]


@dataclass(frozen=True, slots=True)
class Event:
    time: float
    router: str
    effect: Effect


@dataclass
class Link:
    """An in-memory segment: zero-latency, lossless delivery to every live router of a VRID."""

    clock: FakeClock = field(default_factory=FakeClock)
    routers: dict[str, VirtualRouter] = field(default_factory=dict)
    crashed: set[str] = field(default_factory=set)
    log: list[Event] = field(default_factory=list)
    observers: list[Callable[[], None]] = field(default_factory=list)  # after every input

    def add(self, name: str, config: RouterConfig) -> VirtualRouter:
        router = VirtualRouter(config)
        self.routers[name] = router
        return router

    def live(self) -> dict[str, VirtualRouter]:
        return {n: r for n, r in self.routers.items() if n not in self.crashed}

    # -------------------------------------------------------------- inputs at the current time

    def start(self, name: str) -> list[Effect]:
        return self._handle(name, self.routers[name].start(self.clock.instant()))

    def shutdown(self, name: str, *, handover: bool = False) -> list[Effect]:
        router = self.routers[name]
        return self._handle(name, router.shutdown(self.clock.instant(), handover=handover))

    def maintenance(self, name: str, on: bool) -> list[Effect]:
        router = self.routers[name]
        return self._handle(name, router.set_maintenance(on, self.clock.instant()))

    def step_down(self, name: str) -> list[Effect]:
        return self._handle(name, self.routers[name].step_down(self.clock.instant()))

    def track(self, name: str, tracker: str, **change: Any) -> list[Effect]:
        router = self.routers[name]
        return self._handle(name, router.track(tracker, self.clock.instant(), **change))

    def crash(self, name: str) -> None:
        """The router vanishes: it is neither polled nor delivered to any more."""
        self.crashed.add(name)

    def run_until(self, moment: float, *, max_steps: int = 100_000) -> None:
        """Jump from deadline to deadline up to ``moment``, polling every due live router."""
        for _ in range(max_steps):
            deadlines = [
                deadline
                for router in self.live().values()
                if (deadline := router.next_deadline()) is not None
            ]
            due = min(deadlines, default=None)
            if due is None or due > moment:
                self.clock.advance_to(moment)
                return
            now = self.clock.advance_to(max(due, self.clock.now))
            for name, router in self.live().items():
                deadline = router.next_deadline()
                if deadline is not None and deadline <= now.monotonic:
                    self._handle(name, router.poll(now))
        raise AssertionError(f"no progress after {max_steps} steps (a timer that never moves?)")

    # -------------------------------------------------------------- delivery and queries

    def _handle(self, name: str, effects: list[Effect]) -> list[Effect]:
        queue: deque[tuple[str, list[Effect]]] = deque([(name, effects)])
        now = self.clock.instant()
        while queue:
            sender, batch = queue.popleft()
            for effect in batch:
                self.log.append(Event(now.monotonic, sender, effect))
                if isinstance(effect, Transmit) and sender not in self.crashed:
                    for target, reply in self._deliver(sender, effect, now):
                        queue.append((target, reply))
        for observer in self.observers:
            observer()
        return effects

    def _deliver(
        self, sender: str, transmit: Transmit, now: Instant
    ) -> list[tuple[str, list[Effect]]]:
        source_router = self.routers[sender]
        packet = received(transmit, source_router.config.source)
        replies = []
        for name, router in self.live().items():
            if name == sender or router.config.vrid != source_router.config.vrid:
                continue
            if transmit.destination.is_multicast or transmit.destination == router.config.source:
                replies.append((name, router.receive(packet, now)))
        return replies

    def events(self, router: str | None = None, kind: type[Any] | None = None) -> list[Event]:
        return [
            event
            for event in self.log
            if (router is None or event.router == router)
            and (kind is None or isinstance(event.effect, kind))
        ]

    def transmits(self, router: str) -> list[tuple[float, Transmit]]:
        return [
            (event.time, event.effect)
            for event in self.log
            if event.router == router and isinstance(event.effect, Transmit)
        ]

    def state_changes(self, router: str) -> list[tuple[float, StateChanged]]:
        return [
            (event.time, event.effect)
            for event in self.log
            if event.router == router and isinstance(event.effect, StateChanged)
        ]
