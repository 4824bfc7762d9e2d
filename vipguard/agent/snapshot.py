"""One immutable snapshot of the agent, which `vipguard status` and `/metrics` both render.

Snapshots are taken on the event loop only (each subsystem gives its part, each router its
record's facts) and never change afterwards: the metrics thread renders the latest one
:class:`SnapshotBoard` holds, swapped whole, and never reads a live agent object. Times in a
snapshot are the agent clock's, read once when it is taken (``taken_at``).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..config import InstanceConfig
from ..proto.effects import State
from .driver import RouterDriver
from .fitness import Fitness, TrackerStatus
from .hooks import HookRunner
from .sync import SyncGroup

# ---------------------------------------------------------------------- routers


@dataclass(frozen=True, slots=True)
class MasterView:
    address: str
    priority: int
    self: bool


@dataclass(frozen=True, slots=True)
class HandoverView:
    reason: str
    peer: str | None


@dataclass(frozen=True, slots=True)
class CountersView:
    adverts_in: int
    adverts_out: int
    send_errors: int
    transitions: int
    announcements: int
    rejected: Mapping[str, int]
    transitions_by: Mapping[tuple[str, str, str], int]  # (from, to, reason)


@dataclass(frozen=True, slots=True)
class RouterSnapshot:
    name: str
    instance: str
    interface: str
    vmac: str | None
    family: int
    vrid: int
    version: int
    state: State
    state_since: float  # monotonic
    base_priority: int
    effective_priority: int
    contributions: Mapping[str, int]
    faults: tuple[str, ...]
    source: str
    peers: tuple[str, ...]
    vips: tuple[tuple[str, bool], ...]  # (address, bound)
    master: MasterView | None
    advert_interval_cs: int
    master_advert_interval_cs: int
    master_down_interval: float  # seconds
    checksum: str
    auth: str
    last_transition: Mapping[str, Any] | None
    counters: CountersView
    maintenance: bool
    handover: HandoverView | None
    last_failover: float | None  # seconds
    hooks: tuple[str, ...]  # the configured notify hooks' keys ("master", "any", ...)

    @classmethod
    def of(cls, driver: RouterDriver, instance: InstanceConfig) -> RouterSnapshot:
        router, config, counters = driver.router, driver.router.config, driver.counters
        master, handover = router.master, router.handover
        last = driver.last_transition
        return cls(
            name=driver.name,
            instance=instance.name,
            interface=driver.egress.interface,
            vmac=driver.egress.vmac,
            family=driver.family,
            vrid=config.vrid,
            version=config.version,
            state=router.state,
            state_since=router.state_since,
            base_priority=config.priority,
            effective_priority=router.priority,
            contributions=MappingProxyType(dict(router.contributions)),
            faults=tuple(router.faulted),
            source=str(config.source),
            peers=tuple(str(peer) for peer in config.peers),
            vips=tuple((str(vip), vip in driver.bound) for vip in config.vips),
            master=None
            if master is None
            else MasterView(str(master.address), master.priority, master.address == config.source),
            advert_interval_cs=config.interval_cs,
            master_advert_interval_cs=router.master_adver_interval_cs,
            master_down_interval=router.master_down_interval,
            checksum=_checksum(driver),
            auth=config.auth.mode.value if config.auth else "off",
            last_transition=None if last is None else MappingProxyType(dict(last)),
            counters=CountersView(
                counters.adverts_in,
                counters.adverts_out,
                counters.send_errors,
                counters.transitions,
                counters.announcements,
                MappingProxyType(dict(counters.rejected)),
                MappingProxyType(dict(counters.transitions_by)),
            ),
            maintenance=router.maintenance,
            handover=None
            if handover is None
            else HandoverView(
                handover.reason.value,
                None if handover.peer is None else str(handover.peer.address),
            ),
            last_failover=driver.last_failover,
            hooks=tuple(key for key, _ in instance.notify.commands) if instance.notify else (),
        )


def _checksum(driver: RouterDriver) -> str:
    """What the adverts' checksum covers: only VRRPv3 over IPv4 has a choice."""
    config = driver.router.config
    if config.version == 2:
        return "message"
    if driver.family == 6:
        return "pseudo-header"
    return driver.router.wire.send_checksum_mode.value


# ---------------------------------------------------------------------- subsystems


@dataclass(frozen=True, slots=True)
class TrackerUse:
    """What one tracker does to one router."""

    name: str
    kind: str
    up: bool | None
    value: int | None
    weight: int
    contribution: int
    fault: bool
    detail: str
    latency_ms: float | None


@dataclass(frozen=True, slots=True)
class FitnessSnapshot:
    trackers: tuple[TrackerStatus, ...]
    uses: Mapping[str, tuple[TrackerUse, ...]]  # by router name

    @classmethod
    def of(cls, fitness: Fitness, drivers: Iterable[RouterDriver]) -> FitnessSnapshot:
        trackers = tuple(tracker.status for tracker in fitness.trackers.values())
        uses = {
            driver.name: tuple(TrackerUse(**line) for line in fitness.describe(driver))  # type: ignore[arg-type]
            for driver in drivers
        }
        return cls(trackers, MappingProxyType(uses))


@dataclass(frozen=True, slots=True)
class GroupMembership:
    name: str
    members: tuple[str, ...]
    held: bool


@dataclass(frozen=True, slots=True)
class SyncSnapshot:
    by_router: Mapping[str, GroupMembership]  # routers in a sync group, by name

    @classmethod
    def of(cls, groups: Iterable[tuple[RouterDriver, SyncGroup | None]]) -> SyncSnapshot:
        by_router = {
            driver.name: GroupMembership(
                group.name, tuple(m.name for m in group.members), _held(group, driver)
            )
            for driver, group in groups
            if group is not None
        }
        return cls(MappingProxyType(by_router))


def _held(group: SyncGroup, member: RouterDriver) -> bool:
    return bool(group.describe(member)["held"])


@dataclass(frozen=True, slots=True)
class HooksSnapshot:
    counts: Mapping[tuple[str, str, str], int]  # (router, hook key, outcome) -> runs
    running: tuple[str, ...]
    queued: int

    @classmethod
    def of(cls, hooks: HookRunner) -> HooksSnapshot:
        summary = hooks.summary()
        return cls(
            MappingProxyType(dict(Counter(hooks.counts))),
            tuple(summary["running"]),
            summary["queued"],
        )


@dataclass(frozen=True, slots=True)
class EventsSnapshot:
    subscribers: int


@dataclass(frozen=True, slots=True)
class MaintenanceSnapshot:
    instances: frozenset[str]


# ---------------------------------------------------------------------- the agent


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    pid: int
    config: str
    taken_at: float  # the agent clock's monotonic seconds
    started_at: float
    unknown_vrid: int
    routers: tuple[RouterSnapshot, ...]
    fitness: FitnessSnapshot
    sync: SyncSnapshot
    hooks: HooksSnapshot
    events: EventsSnapshot
    maintenance: MaintenanceSnapshot


class SnapshotBoard:
    """The latest snapshot, for readers in other threads. ``take`` runs on the event loop
    only: :meth:`fresh` asks the loop for a new one and waits for it (bounded), falling back
    to the latest if the loop does not answer in time."""

    def __init__(self, take: Callable[[], AgentSnapshot]) -> None:
        self._take = take
        self.latest: AgentSnapshot | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self) -> AgentSnapshot:
        """On the event loop: take a snapshot and make it the latest (one reference swap)."""
        self._loop = asyncio.get_running_loop()
        snapshot = self._take()
        self.latest = snapshot
        return snapshot

    def fresh(self, timeout: float) -> AgentSnapshot | None:
        """From another thread: a snapshot taken now, or the latest one after ``timeout``."""
        loop, taken = self._loop, threading.Event()

        def take() -> None:
            try:
                self.publish()
            finally:
                taken.set()

        if loop is not None:
            try:
                loop.call_soon_threadsafe(take)
            except RuntimeError:  # the loop is closed: the agent is stopping
                return self.latest
            taken.wait(timeout)
        return self.latest
