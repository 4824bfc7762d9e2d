"""The sync-group rules: virtual routers that share one state (a front and a back side of one LB).

Each alignment looks at every member and says what to do:

* a member faulted by itself (its own trackers, links or source address) faults the others;
* a member in Backup because a better master holds its network ("outranked") holds the others:
  they follow any master instead of preempting;
* when a member *becomes* outranked, the other members still Master step down (priority 0 first,
  so their peers take over after Skew_Time). When the outranked member becomes Master again (its
  peer lost priority, or died), the hold ends and the others preempt on their own.

So a group preempts only when none of its members is outranked: when two hosts disagree (one wins
the front, the other the back), the incumbent keeps both sides instead of the hosts fighting over
them. A held backup still takes over from a master that falls silent, and then stays Master: a
network with no master at all is worse than a group split for as long as the peer cannot serve
that side. That is why stepping down follows a member becoming outranked, not its staying so.

The agent (:mod:`vipguard.agent.sync`) and the simulator both build the views, apply the actions
and align again until nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..proto.effects import State
from ..proto.router import VirtualRouter
from ..proto.timers import STOP_PRIORITY, outranks

SYNC_TRACKER = "sync-group"
"""The tracker through which a group faults its members."""


@dataclass(frozen=True, slots=True)
class MemberView:
    """What the rules need to know of one member."""

    state: State
    faulted_by_itself: bool  # by a tracker, link or source of its own, not by the group
    faulted_by_group: bool  # the group's fault is on it now
    outranked: bool  # in Backup under a better master
    was_outranked: bool  # outranked at the previous alignment already


@dataclass(frozen=True, slots=True)
class PropagateFault:
    """Put the group's fault on a member (``on``) or take it off."""

    member: int
    on: bool


@dataclass(frozen=True, slots=True)
class Hold:
    """Whether a member is held (follows any master instead of preempting). A level, not an
    edge: every alignment states it for every member."""

    member: int
    on: bool


@dataclass(frozen=True, slots=True)
class StepDown:
    """A master hands its side over, because another member has just become outranked."""

    member: int


SyncAction = PropagateFault | Hold | StepDown


def align(members: Sequence[MemberView]) -> list[SyncAction]:
    """The actions that bring the group back in line, member by member (by index in
    ``members``): its fault, its hold, its step-down."""
    actions: list[SyncAction] = []
    for index, member in enumerate(members):
        others = [m for i, m in enumerate(members) if i != index]
        fault = any(m.faulted_by_itself for m in others)
        faulting = fault and not member.faulted_by_group
        if fault != member.faulted_by_group:
            actions.append(PropagateFault(index, fault))
        actions.append(Hold(index, held(others)))
        newly = any(m.outranked and not m.was_outranked for m in others)
        # A master faulted by this very alignment leaves Master anyway: nothing to step down.
        if newly and member.state is State.MASTER and not faulting:
            actions.append(StepDown(index))
    return actions


def held(others: Sequence[MemberView]) -> bool:
    """A member is held while any other member is outranked."""
    return any(m.outranked for m in others)


def is_outranked(router: VirtualRouter) -> bool:
    """In Backup because another router with a better priority is master of its network."""
    master = router.master
    if router.state is not State.BACKUP or master is None or master.priority == STOP_PRIORITY:
        return False
    return outranks(master.priority, master.address, router.priority, router.config.source)


def view(router: VirtualRouter, *, was_outranked: bool) -> MemberView:
    """A member's view, read from its core."""
    faulted = router.faulted
    return MemberView(
        state=router.state,
        faulted_by_itself=any(name != SYNC_TRACKER for name in faulted),
        faulted_by_group=SYNC_TRACKER in faulted,
        outranked=is_outranked(router),
        was_outranked=was_outranked,
    )
