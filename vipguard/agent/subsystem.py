"""The one interface every subsystem of the agent implements, and the subsystems of today.

The agent holds its subsystems in a list and, in that order, starts them with the configuration
(before any router is made), lets them adopt each new configuration once the routers are in
place (at start-up, then at every reload), and stops them, each within a bound, after the routers
have stopped. Each gives an immutable snapshot of itself, taken on the event loop, which
`vipguard status` and `/metrics` render (agent/snapshot.py).

A new subsystem (backend pools, guards) implements :class:`Subsystem` and takes one line in
``Agent.__init__``; what it needs of the routers it is given at construction.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, TypeVar

from ..config import Config
from . import sync
from .events import EventBus
from .fitness import Fitness, group_refs
from .hooks import HookRunner
from .kernel import NetlinkPort
from .maintenance import Maintenance, MaintenanceStoreError
from .preflight import StartupError
from .routers import Routers
from .snapshot import (
    EventsSnapshot,
    FitnessSnapshot,
    HooksSnapshot,
    MaintenanceSnapshot,
    SyncSnapshot,
)
from .sync import SyncGroup

Snapshot_co = TypeVar("Snapshot_co", covariant=True)


class Subsystem(Protocol[Snapshot_co]):
    name: str

    async def start(self, config: Config) -> None:
        """Begin with ``config``; raise StartupError to refuse the start-up."""

    async def reload(self, config: Config) -> None:
        """Adopt ``config`` and the routers now running (start-up, then every reload)."""

    async def stop(self, timeout: float) -> None:
        """End within ``timeout`` seconds."""

    def snapshot(self) -> Snapshot_co:
        """An immutable view of the subsystem now (called on the event loop)."""


# ---------------------------------------------------------------------- maintenance


class MaintenanceSubsystem:
    """The instances in maintenance, read from the state directory at start: new routers of
    those instances start in Maintenance."""

    name = "maintenance"

    def __init__(self, maintenance: Maintenance, routers: Routers) -> None:
        self.maintenance, self._routers = maintenance, routers

    async def start(self, config: Config) -> None:
        try:
            self.maintenance.load()
        except MaintenanceStoreError as error:
            raise StartupError(str(error)) from None

    async def reload(self, config: Config) -> None:
        pass  # routers are marked as they are made (Agent._add_router), before they start

    async def stop(self, timeout: float) -> None:
        pass

    def snapshot(self) -> MaintenanceSnapshot:
        return MaintenanceSnapshot(frozenset(self.maintenance.names))


# ---------------------------------------------------------------------- fitness


class FitnessSubsystem:
    """The `[[tracker]]` runners, wired to the routers that use them."""

    name = "fitness"

    def __init__(self, fitness: Fitness, routers: Routers, netlink: NetlinkPort) -> None:
        self.fitness, self._routers, self._netlink = fitness, routers, netlink

    async def start(self, config: Config) -> None:
        pass  # the trackers start with their users, once the routers are made (reload)

    async def reload(self, config: Config) -> None:
        refs = group_refs(config)
        uses = {record.driver: refs[record.instance] for record in self._routers}
        await self.fitness.adopt(config, uses, self._netlink)

    async def stop(self, timeout: float) -> None:
        await asyncio.wait_for(self.fitness.stop(), timeout)

    def snapshot(self) -> FitnessSnapshot:
        return FitnessSnapshot.of(self.fitness, self._routers.drivers)


# ---------------------------------------------------------------------- sync groups


class SyncSubsystem:
    """Sync groups: their members move together (agent/sync.py)."""

    name = "sync"

    def __init__(self, routers: Routers) -> None:
        self._routers = routers
        self.groups: dict[str, SyncGroup] = {}  # by instance name

    async def start(self, config: Config) -> None:
        pass  # the groups are built of their members, once the routers are made (reload)

    async def reload(self, config: Config) -> None:
        instance_of = {record.driver: record.instance for record in self._routers}
        self.groups = sync.build(config.sync_groups, instance_of, instance_of.__getitem__)

    async def stop(self, timeout: float) -> None:
        pass

    def snapshot(self) -> SyncSnapshot:
        return SyncSnapshot.of((r.driver, self.groups.get(r.instance)) for r in self._routers)


# ---------------------------------------------------------------------- hooks


class HooksSubsystem:
    """Notify hooks; their commands come with each transition from the instance's config."""

    name = "hooks"

    def __init__(self, hooks: HookRunner) -> None:
        self.hooks = hooks

    async def start(self, config: Config) -> None:
        pass

    async def reload(self, config: Config) -> None:
        pass

    async def stop(self, timeout: float) -> None:
        await self.hooks.stop(timeout)  # the hooks of the last transitions may run this long

    def snapshot(self) -> HooksSnapshot:
        return HooksSnapshot.of(self.hooks)


# ---------------------------------------------------------------------- events


class EventsSubsystem:
    """The event bus behind `vipguard events`."""

    name = "events"

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def start(self, config: Config) -> None:
        pass

    async def reload(self, config: Config) -> None:
        pass

    async def stop(self, timeout: float) -> None:
        self.bus.close()  # ends every subscriber's stream at once

    def snapshot(self) -> EventsSnapshot:
        return EventsSnapshot(self.bus.subscribers)
