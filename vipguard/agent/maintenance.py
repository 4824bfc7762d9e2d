"""Maintenance: which instances are in it, kept in the state directory so that a node put into
maintenance stays out of the election across agent restarts and reboots, and the `vipguard
maintenance on|off` requests that change it.

The file (``maintenance``) holds one instance name per line. It is written atomically and
fsynced before the agent reports the change: an operator who was told "in maintenance" can
reboot at once. An unreadable file is a start-up error rather than a guess: guessing "not in
maintenance" could make a node under repair grab the VIP.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..proto.effects import State
from . import logs
from .driver import RouterDriver
from .events import EventBus
from .status import handover_view

REPORT_SLACK = 1.0  # `maintenance on` waits Master_Down_Interval + this for a peer,
REPORT_LIMIT = 20.0  # but never longer than this: the CLI waits 30 s for its answer

FILE_NAME = "maintenance"


class MaintenanceStoreError(RuntimeError):
    """The file exists but cannot be read; the message names it and the fix."""


class MaintenanceStore:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def load(self) -> set[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError) as error:
            raise MaintenanceStoreError(
                f"cannot read {self.path} ({error}): fix or remove it (removing it takes every"
                " instance out of maintenance)"
            ) from None
        return {line.strip() for line in text.splitlines() if line.strip()}

    def save(self, names: set[str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            file.write("".join(f"{name}\n" for name in sorted(names)))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class Maintenance:
    """The instances in maintenance: saved before they are applied, one change at a time."""

    def __init__(self, store: MaintenanceStore, events: EventBus) -> None:
        self.store, self._events = store, events
        self.names: set[str] = set()
        self._lock = asyncio.Lock()

    def load(self) -> None:
        """At start-up; raises MaintenanceStoreError if the file cannot be read."""
        self.names = self.store.load()

    async def change(
        self, on: bool, names: set[str], drivers: Iterable[RouterDriver]
    ) -> list[dict[str, Any]]:
        """Put ``names`` (whose routers are ``drivers``) in or out of maintenance. With "on",
        returns once each master has handed over and released its VIPs (bounded)."""
        chosen = list(drivers)
        async with self._lock:  # each change read, saved and applied whole
            wanted = self.names | names if on else self.names - names
            await asyncio.to_thread(self.store.save, wanted)  # saved, then applied
            self.names = wanted
            for driver in chosen:
                driver.set_maintenance(on)
        self._events.publish("maintenance", on=on, instances=sorted(names))
        logs.event("maintenance", on=on, instances=",".join(sorted(names)))
        if on:
            await asyncio.gather(*(_handed_over(driver) for driver in chosen))
        return [_view(driver) for driver in chosen]


async def _handed_over(driver: RouterDriver) -> None:
    """Until the router has handed over and its VIPs are released (bounded)."""
    bound = min(driver.router.master_down_interval + REPORT_SLACK, REPORT_LIMIT)
    if await driver.wait_until(lambda: driver.router.state is not State.MASTER, bound):
        await driver.drained(REPORT_SLACK)


def _view(driver: RouterDriver) -> dict[str, Any]:
    router = driver.router
    return {
        "name": driver.name,
        "state": router.state.value,
        "maintenance": router.maintenance,
        "handover": handover_view(router),
        "master": None if router.master is None else str(router.master.address),
    }
