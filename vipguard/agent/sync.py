"""Sync groups: virtual routers that share one state (a front and a back side of one LB).

After every input a member's core handles, the group is brought back in line:

* a member that is faulted (by its own trackers, links or source address) faults the others;
* a member in Backup because a better master holds its network "holds" the others: they follow
  any master instead of preempting; and when a member becomes outranked, the members still
  Master step down (priority 0 first, so their peers take over after Skew_Time). When the
  outranked member becomes Master again (its peer lost priority, or died), the hold ends and the
  others preempt on their own.

So a group preempts only when none of its members is outranked: when the two hosts disagree
(one wins the front, the other the back), the incumbent keeps both sides instead of the hosts
fighting over them.

A held backup still takes over from a master that falls silent, and then stays Master: a network
with no master at all is worse than a group split for as long as the peer cannot serve that side.
That is why stepping down follows a member *becoming* outranked, not its staying so.

Tracker weights are not propagated here: the runtime gives every member the trackers of the whole
group, so the members' priorities move together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..config import SyncGroup as SyncGroupConfig
from ..proto.effects import State
from ..proto.timers import STOP_PRIORITY, outranks
from .driver import RouterDriver

SYNC_TRACKER = "sync-group"


class SyncGroup:
    def __init__(self, name: str, members: Iterable[RouterDriver]) -> None:
        self.name = name
        self.members = list(members)
        self._updating = False
        # Members outranked already (a group rebuilt by a reload): not news, nobody steps down.
        self._outranked = {member for member in self.members if _outranked(member)}

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
        changed = False
        outranked = {m for m in self.members if _outranked(m)}
        newly, self._outranked = outranked - self._outranked, outranked
        for member in self.members:
            others = [m for m in self.members if m is not member]
            fault = any(_faulted_by_itself(m) for m in others)
            if (SYNC_TRACKER in member.router.faulted) != fault:
                member.track(SYNC_TRACKER, fault=fault)
                changed = True
            member.hold(bool(outranked - {member}))
            if newly - {member} and member.router.state is State.MASTER:
                member.step_down()
                changed = True
        return changed

    def describe(self, member: RouterDriver) -> dict[str, object]:
        """The group as `vipguard status` shows it for ``member``."""
        return {
            "name": self.name,
            "members": [m.name for m in self.members],
            "held": any(_outranked(m) for m in self.members if m is not member),
        }


def _faulted_by_itself(driver: RouterDriver) -> bool:
    return any(name != SYNC_TRACKER for name in driver.router.faulted)


def _outranked(driver: RouterDriver) -> bool:
    """In Backup because another router with a better priority is master of its network."""
    router = driver.router
    master = router.master
    if router.state is not State.BACKUP or master is None or master.priority == STOP_PRIORITY:
        return False
    return outranks(master.priority, master.address, router.priority, router.config.source)


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
