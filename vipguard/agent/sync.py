"""Sync groups wired to their members' drivers: after every input a member's core handles, the
group is brought back in line by the pure rules of :mod:`vipguard.rules.sync_group` (fault
propagation, hold, step down; their docstring says why), applied here to the drivers.

Tracker weights are not propagated here: the runtime gives every member the trackers of the whole
group, so the members' priorities move together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import assert_never

from ..config import SyncGroup as SyncGroupConfig
from ..rules import sync_group as rules
from ..rules.sync_group import SYNC_TRACKER, Hold, PropagateFault, StepDown, SyncAction
from .driver import RouterDriver

__all__ = ["SYNC_TRACKER", "SyncGroup", "build"]


class SyncGroup:
    def __init__(self, name: str, members: Iterable[RouterDriver]) -> None:
        self.name = name
        self.members = list(members)
        self._updating = False
        # Members outranked already (a group rebuilt by a reload): not news, nobody steps down.
        self._outranked = {m for m in self.members if rules.is_outranked(m.router)}

    def update(self, _changed: RouterDriver | None = None) -> None:
        """Re-align the members (an ``on_input`` observer). Inputs fed while aligning come
        back here; they are folded into the loop instead of recursing."""
        if self._updating:
            return
        self._updating = True
        try:
            for _ in range(4):  # each pass can only move members towards Backup or Fault
                if not self._align():
                    break
        finally:
            self._updating = False

    def _align(self) -> bool:
        """One pass; whether anything was changed."""
        views = [rules.view(m.router, was_outranked=m in self._outranked) for m in self.members]
        self._outranked = {m for m, v in zip(self.members, views, strict=True) if v.outranked}
        changed = False
        for action in rules.align(views):
            changed |= self._apply(action)
        return changed

    def _apply(self, action: SyncAction) -> bool:
        """One action on its member's driver; whether it can have moved the member."""
        member = self.members[action.member]
        match action:
            case PropagateFault(on=on):
                member.track(SYNC_TRACKER, fault=on)
                return True
            case Hold(on=on):
                member.hold(on)
                return False
            case StepDown():
                member.step_down()
                return True
            case _:
                assert_never(action)

    def describe(self, member: RouterDriver) -> dict[str, object]:
        """The group as `vipguard status` shows it for ``member``."""
        return {
            "name": self.name,
            "members": [m.name for m in self.members],
            "held": any(rules.is_outranked(m.router) for m in self.members if m is not member),
        }


def build(
    configured: Iterable[SyncGroupConfig],
    drivers: Iterable[RouterDriver],
    instance_of: Callable[[RouterDriver], str],
) -> dict[str, SyncGroup]:
    """The sync groups by instance name, wired to their members (start-up and reload); a
    router outside every group is released from any hold a former group left on it."""
    drivers = list(drivers)
    groups: dict[str, SyncGroup] = {}
    for group in configured:
        members = [d for d in drivers if instance_of(d) in group.instances]
        sync = SyncGroup(group.name, members)
        groups.update({name: sync for name in group.instances})
    for driver in drivers:
        sync_group = groups.get(instance_of(driver))
        driver.on_input = sync_group.update if sync_group else _ignore
        if sync_group is None:
            driver.hold(False)
            driver.untrack(SYNC_TRACKER)
    for sync in set(groups.values()):
        sync.update()
    return groups


def _ignore(_driver: RouterDriver) -> None:
    pass
