"""The running virtual routers: one record per router, holding everything that router owns.

A record is made in two steps, as the start-up and each reload run them: the facts a router
needs are resolved first (its port and advert source: :func:`resolve_source`, which may refuse
while nothing has changed), then the router is built (sockets joined, a virtual MAC created,
its sequence loaded) and kept. Removing a router is removing its record: :meth:`Routers.remove`
stops it and closes what it owns.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..io.clock import Clock
from ..io.netlink import Link
from ..io.nftables import NeighbourSuppression
from ..proto.addresses import IPAddress, IPInterface, vrrp_group
from ..proto.effects import StateChanged
from ..proto.router import VirtualRouter
from . import logs
from .driver import AnnouncePolicy, Egress, RouterDriver
from .kernel import NetlinkPort, SocketPort
from .plan import RouterKey, RouterPlan
from .ports import Port, Ports, join
from .preflight import StartupError
from .sequences import SequenceStore
from .vmacs import VirtualMacs, VmacError


@dataclass(eq=False, slots=True)
class RouterRecord:
    """One running router and what it owns or uses: its plan, its port (interface, link state),
    its driver (egress, virtual MAC, timers, authentication sequence), the sockets it listens
    on, and whether its advert source was assigned when it was made."""

    plan: RouterPlan
    port: Port
    driver: RouterDriver
    listeners: tuple[SocketPort, ...]
    source_present: bool

    @property
    def instance(self) -> str:
        return self.plan.instance.name


class Routers:
    def __init__(
        self,
        *,
        netlink: NetlinkPort,
        ports: Ports,
        vmacs: VirtualMacs,
        sequences: SequenceStore,
        clock: Clock,
        on_failure: Callable[[BaseException], None],
        on_transition: Callable[[RouterDriver, StateChanged], None],
        on_wake: Callable[[], None],
    ) -> None:
        self._netlink, self._ports, self._vmacs = netlink, ports, vmacs
        self._sequences, self._clock = sequences, clock
        self._on_failure, self._on_transition = on_failure, on_transition
        self._on_wake = on_wake  # each time a router is woken (the watchdog rides on it)
        self.records: dict[RouterKey, RouterRecord] = {}
        self.suppression: NeighbourSuppression | None = None  # set up before the first router

    def __iter__(self) -> Iterator[RouterRecord]:
        return iter(list(self.records.values()))

    def __len__(self) -> int:
        return len(self.records)

    @property
    def drivers(self) -> list[RouterDriver]:
        return [record.driver for record in self.records.values()]

    def of(self, driver: RouterDriver) -> RouterRecord:
        return next(record for record in self.records.values() if record.driver is driver)

    # ------------------------------------------------------------------ building

    async def add(self, plan: RouterPlan, port: Port, source: IPAddress) -> RouterRecord:
        instance = plan.instance
        router_config = instance.router_config(plan.family, source)
        group = None if router_config.peers else router_config.group or vrrp_group(source)
        if instance.use_vmac:
            egress, listeners = await self._vmac_egress(plan, port, group)
        else:
            listener = self._ports.socket(port, plan.ipv6)
            link = port.link
            egress = Egress(link.name, link.index, link.index, listener, port.announcer)
            listeners = (listener,)
        if group is not None:
            for listener in listeners:
                join(listener, group)
        router = VirtualRouter(router_config, last_sent_sequence=self._sequences.load(plan.name))
        driver = RouterDriver(
            name=plan.name,
            router=router,
            egress=egress,
            netlink=self._netlink,
            clock=self._clock,
            labels=labels(plan),
            announce=announce_policy(plan),
            on_failure=self._on_failure,
            on_transition=self._on_transition,
            on_signed=self._signed_advert_sent,
            on_wake=self._on_wake,
            suppression=self.suppression,
        )
        present = await self._source_present(plan, port.link, source)
        record = RouterRecord(plan, port, driver, listeners, present)
        self.records[plan.key] = record
        self._ports.listen(listeners, instance.vrid, driver)
        return record

    async def _source_present(self, plan: RouterPlan, link: Link, source: IPAddress) -> bool:
        local = {address.interface.ip for address in await self._netlink.addresses(link.index)}
        if source not in local:
            logs.event(
                "source_missing",
                logging.WARNING,
                instance=plan.name,
                source=source,
                interface=link.name,
                hint="the instance stays in fault until it appears",
            )
        return source in local

    async def _vmac_egress(
        self, plan: RouterPlan, port: Port, group: IPAddress | None
    ) -> tuple[Egress, tuple[SocketPort, ...]]:
        """VIPs on the instance's virtual-MAC macvlan, adverts and announcements from it while
        it is up (master); down otherwise, so that a backup never sends from the virtual MAC.

        Multicast adverts are read on the parent and on the macvlan: while a private-mode
        macvlan is up it takes every multicast frame sent from its own MAC (a competing master's
        adverts) away from the parent; while it is down the parent gets them (the driver reads
        one side, see RouterDriver.hears). Unicast adverts arrive on the parent's address."""
        vips = [vip.interface for vip in plan.instance.vips_of(plan.family)]
        try:
            vmac = await self._vmacs.open(port.link, plan.instance.vrid, plan.ipv6, vips)
        except VmacError as error:
            raise StartupError(f"instance {plan.instance.name!r}: {error}") from None
        parent = self._ports.socket(port, plan.ipv6)
        egress = Egress(
            port.link.name,
            port.link.index,
            vmac.link.index,
            vmac.sender,
            vmac.announcer,
            vmac.name,
            parent,
        )
        return egress, (parent, vmac.sender) if group is not None else (parent,)

    # ------------------------------------------------------------------ running

    def start(self, record: RouterRecord) -> None:
        link_up = record.port.link.up
        record.driver.start(link_up=link_up, source_present=record.source_present)

    async def remove(self, record: RouterRecord) -> None:
        """Stop one router gracefully (priority 0, VIPs released) and close what it owns."""
        await record.driver.stop()
        self.save_sequence(record)
        del self.records[record.plan.key]
        self._ports.forget(record.listeners, record.plan.instance.vrid)
        if record.driver.egress.vmac:
            await self._vmacs.remove(record.driver.egress.vmac)

    def save_sequences(self) -> None:
        for record in self:
            self.save_sequence(record)

    def _signed_advert_sent(self, driver: RouterDriver, sequence: int) -> None:
        """Sequences are saved on the adverts themselves, at most once per SAVE_EVERY."""
        with contextlib.suppress(OSError):  # as at shutdown: the margin on load covers a miss
            self._sequences.save_if_due(driver.name, sequence, self._clock.now().monotonic)

    def save_sequence(self, record: RouterRecord) -> None:
        authenticator = record.driver.router.wire.authenticator
        if authenticator and authenticator.sequences.last_sent is not None:
            with contextlib.suppress(OSError):
                self._sequences.save(record.driver.name, authenticator.sequences.last_sent)


async def resolve_source(netlink: NetlinkPort, plan: RouterPlan, link: Link) -> IPAddress:
    """The adverts' source; checked before anything is removed from the interface."""
    source = await _find_source(netlink, plan, link)
    if any(vip.interface.ip == source for vip in plan.instance.vips_of(plan.family)):
        raise StartupError(
            f"instance {plan.instance.name!r}: VIP {source} is {link.name}'s own address,"
            " which vipguard would remove and re-add; VIPs must be extra addresses"
        )
    return source


async def _find_source(netlink: NetlinkPort, plan: RouterPlan, link: Link) -> IPAddress:
    configured = plan.instance.source_of(plan.family)
    if configured is not None:
        return configured
    found = await netlink.primary_address(link.index, plan.ipv6)
    if found is None:
        what = "link-local IPv6" if plan.ipv6 else "IPv4"
        raise StartupError(
            f"instance {plan.instance.name!r}: interface {link.name} has no {what} address to"
            " send adverts from; add one" + ("" if plan.ipv6 else " or set unicast_source")
        )
    return found


def announce_policy(plan: RouterPlan) -> AnnouncePolicy:
    settings = plan.instance.announce
    return AnnouncePolicy(settings.count, settings.interval, settings.refresh)


def labels(plan: RouterPlan) -> dict[IPInterface, str | None]:
    # A label must start with the name of the interface holding the address.
    vmac = plan.instance.use_vmac
    return {
        vip.interface: None if vmac else vip.label for vip in plan.instance.vips_of(plan.family)
    }
