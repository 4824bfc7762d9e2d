"""Trackers wired to the routers that use them.

Each configured ``[[tracker]]`` runs once, however many instances use it; every change of its
state is turned into each user's contribution or fault (by that user's weight) and fed to the
router as tracker ``tracker:<name>``. Members of a sync group use the trackers of the whole group,
so their priorities move together.

A reload keeps every tracker whose configuration is unchanged running with its state; new and
changed trackers start fresh and reach the routers with their first result (until then a changed
one's previous effect stays), or as down if they have none within their timeout
(:meth:`Fitness.apply_pending`); removed ones stop and their weight leaves the routers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...config import Config, InterfaceCheck, TrackerConfig, TrackRef
from ...io.clock import monotonic
from ...io.netlink import InterfaceMissing
from ...rules.checks import contribution
from .. import logs
from ..changes import Changes
from ..driver import RouterDriver
from ..kernel import NetlinkPort
from .tracker import Tracker, TrackerStatus

PREFIX = "tracker:"


@dataclass(frozen=True, slots=True)
class Use:
    driver: RouterDriver
    weight: int


class Fitness:
    def __init__(
        self,
        on_change: Callable[[TrackerStatus], None] = lambda status: None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._clock = clock  # monotonic seconds: the trackers' ``since`` and latencies
        self.trackers: dict[str, Tracker] = {}
        self._configs: dict[str, TrackerConfig] = {}
        self._uses: dict[str, list[Use]] = {}
        self._on_change = on_change
        self._results = Changes()
        self._links: dict[str, list[Tracker]] = {}  # interface trackers by interface name

    # ------------------------------------------------------------------ configuration

    def configure(
        self, config: Config, refs: Mapping[RouterDriver, tuple[TrackRef, ...]]
    ) -> tuple[list[Tracker], list[Tracker]]:
        """Adopt ``config``'s trackers and who uses them with which weight. Returns the trackers
        to start (new or changed) and to stop (removed or changed); the caller does both."""
        wanted = {tracker.name: tracker for tracker in config.trackers}
        stale = [n for n, c in self._configs.items() if wanted.get(n) != c]
        stopped = [self.trackers.pop(name) for name in stale]
        for name in stale:
            del self._configs[name]
        started = [self._create(c) for n, c in wanted.items() if n not in self.trackers]
        previous = {(use.driver, name) for name, uses in self._uses.items() for use in uses}
        self._uses = {name: [] for name in wanted}
        for driver, driver_refs in refs.items():
            for ref in driver_refs:
                self._uses[ref.tracker].append(Use(driver, ref.weight))
        for driver, name in previous:
            if not any(use.driver is driver for use in self._uses.get(name, ())):
                driver.untrack(PREFIX + name)
        fresh = {tracker.name for tracker in started}
        for name in wanted.keys() - fresh:  # running trackers: their users get their state
            self._apply(self.trackers[name].status)
        return started, stopped

    def apply_pending(self) -> None:
        """Trackers still without a result count as down for their users."""
        for tracker in self.trackers.values():
            if tracker.status.up is None:
                self._apply(tracker.status)

    def _create(self, config: TrackerConfig) -> Tracker:
        tracker = Tracker(config, self._changed, self._clock)
        self.trackers[config.name] = tracker
        self._configs[config.name] = config
        return tracker

    async def adopt(
        self,
        config: Config,
        refs: Mapping[RouterDriver, tuple[TrackRef, ...]],
        netlink: NetlinkPort,
    ) -> None:
        """:meth:`configure`, then stop the stale trackers, start the new ones and wait for
        their first results (bounded): routers start, or go on, knowing their fitness."""
        started, stopped = self.configure(config, refs)
        await self.stop(stopped)
        await self.follow_links(netlink)
        for tracker in started:
            tracker.start()
        waiting = await self.first_results()
        if waiting:
            logs.event(
                "trackers_without_result",
                logging.WARNING,
                trackers=",".join(waiting),
                hint="they count as down until their first result",
            )
        self.apply_pending()

    async def follow_links(self, netlink: NetlinkPort) -> None:
        """Interface trackers follow kernel link events by name (an interface made anew is
        followed too); read each link's state now."""
        self._links = {}
        for name, config in self._configs.items():
            if not isinstance(check := config.check, InterfaceCheck):
                continue
            tracker = self.trackers[name]
            self._links.setdefault(check.interface, []).append(tracker)
            try:
                link = await netlink.link(check.interface)
            except InterfaceMissing:
                logs.event(
                    "tracked_interface_missing",
                    logging.WARNING,
                    tracker=name,
                    interface=check.interface,
                    hint="the tracker counts as down until the interface appears",
                )
                tracker.set_link(False)
                continue
            tracker.set_link(link.up)

    def on_link(self, interface: str | None, up: bool) -> None:
        """A kernel link event."""
        for tracker in self._links.get(interface or "", ()):
            tracker.set_link(up)

    async def stop(self, trackers: list[Tracker] | None = None) -> None:
        chosen = list(self.trackers.values()) if trackers is None else trackers
        await asyncio.gather(*(tracker.stop() for tracker in chosen), return_exceptions=True)

    # ------------------------------------------------------------------ changes

    async def first_results(self) -> list[str]:
        """Wait until every tracker has its first result, at most its timeout (plus a second):
        routers then start knowing their fitness, instead of passing through Fault because a
        check had not answered yet. Returns the trackers still without a result."""
        timeout = max((c.rhythm.timeout for c in self._configs.values()), default=0.0) + 1.0

        def pending() -> list[str]:
            return [name for name, t in self.trackers.items() if t.status.up is None]

        await self._results.wait_until(lambda: not pending(), timeout)
        return pending()

    def _changed(self, status: TrackerStatus) -> None:
        self._apply(status)
        self._results.notify()
        self._on_change(status)

    def _apply(self, status: TrackerStatus) -> None:
        for use in self._uses.get(status.name, ()):
            weight, fault = _effect(use.weight, status)
            use.driver.track(PREFIX + status.name, contribution=weight, fault=fault)

    # ------------------------------------------------------------------ status

    def describe(self, driver: RouterDriver) -> list[dict[str, object]]:
        """Each tracker ``driver`` uses: its state and what it does to the router."""
        lines: list[dict[str, object]] = []
        for name, uses in self._uses.items():
            for use in (use for use in uses if use.driver is driver):
                status = self.trackers[name].status
                weight, fault = _effect(use.weight, status)
                latency = status.last_latency
                lines.append(
                    {
                        "name": name,
                        "kind": status.kind,
                        "up": status.up,
                        "value": status.value,
                        "weight": use.weight,
                        "contribution": weight,
                        "fault": fault,
                        "detail": status.detail,
                        "latency_ms": None if latency is None else round(latency * 1000, 2),
                    }
                )
        return lines


def _effect(weight: int, status: TrackerStatus) -> tuple[int, bool]:
    """(priority contribution, fault) of ``status`` for a user with ``weight``."""
    up = bool(status.up)  # no result yet counts as down
    return contribution(weight, up, status.value, file=status.kind == "file")


def group_refs(config: Config) -> dict[str, tuple[TrackRef, ...]]:
    """Every instance's tracker references, a sync group's members sharing the group's: a
    member's own weight for a tracker it names, otherwise the first member's that names it."""
    refs = {instance.name: instance.track for instance in config.instances}
    for group in config.sync_groups:
        pooled: dict[str, TrackRef] = {}
        for member in group.instances:
            for ref in refs[member]:
                pooled.setdefault(ref.tracker, ref)
        for member in group.instances:
            own = {ref.tracker for ref in refs[member]}
            refs[member] = refs[member] + tuple(r for t, r in pooled.items() if t not in own)
    return refs
