"""Layer 1: the sync-group rules over plain member views, no routers or drivers."""

from __future__ import annotations

from ipaddress import ip_address

from routerkit import FakeClock, advert_packet, make_config

from vipguard.proto.effects import State
from vipguard.proto.router import VirtualRouter
from vipguard.rules.sync_group import (
    SYNC_TRACKER,
    Hold,
    MemberView,
    PropagateFault,
    StepDown,
    SyncAction,
    align,
    is_outranked,
    view,
)


def member(
    state: State = State.BACKUP,
    *,
    faulted: bool = False,
    by_group: bool = False,
    outranked: bool = False,
    was: bool | None = None,
) -> MemberView:
    return MemberView(state, faulted, by_group, outranked, outranked if was is None else was)


MASTER = member(State.MASTER)
BACKUP = member()


def edges(actions: list[SyncAction]) -> list[SyncAction]:
    """The actions that move a member (holds are restated on every alignment)."""
    return [a for a in actions if not isinstance(a, Hold)]


def holds(actions: list[SyncAction]) -> list[bool]:
    return [a.on for a in actions if isinstance(a, Hold)]


def test_an_aligned_group_only_restates_that_nobody_is_held() -> None:
    actions = align([MASTER, MASTER])
    assert edges(actions) == []
    assert actions == [Hold(0, False), Hold(1, False)]


def test_a_member_faulted_by_itself_faults_the_others_but_not_itself() -> None:
    faulted = member(State.FAULT, faulted=True)
    assert edges(align([faulted, MASTER, BACKUP])) == [
        PropagateFault(1, True),
        PropagateFault(2, True),
    ]


def test_the_group_fault_is_not_restated_once_on() -> None:
    faulted = member(State.FAULT, faulted=True)
    assert edges(align([faulted, member(State.FAULT, by_group=True)])) == []


def test_the_group_fault_comes_off_when_no_member_is_faulted_by_itself() -> None:
    # Both carry only the group's fault: neither is a cause, so both are released.
    by_group = member(State.FAULT, by_group=True)
    assert edges(align([by_group, by_group])) == [
        PropagateFault(0, False),
        PropagateFault(1, False),
    ]


def test_a_fault_of_the_group_itself_does_not_spread() -> None:
    """Only a member's own faults count: the group's fault on one member is no cause."""
    by_group = member(State.FAULT, by_group=True)
    assert edges(align([by_group, MASTER])) == [PropagateFault(0, False)]


def test_an_outranked_member_holds_the_others_not_itself() -> None:
    actions = align([member(outranked=True), MASTER, BACKUP])
    assert holds(actions) == [False, True, True]


def test_masters_step_down_when_a_member_becomes_outranked() -> None:
    newly = member(outranked=True, was=False)
    actions = align([newly, MASTER, BACKUP, MASTER])
    assert edges(actions) == [StepDown(1), StepDown(3)]
    assert actions.index(Hold(1, True)) < actions.index(StepDown(1))  # held before it hands over


def test_a_member_outranked_already_makes_nobody_step_down() -> None:
    """A held backup that took over a silent side stays Master: a split group beats a side
    with no master at all."""
    assert edges(align([member(outranked=True, was=True), MASTER])) == []


def test_a_master_faulted_by_the_same_alignment_does_not_step_down() -> None:
    faulted = member(State.FAULT, faulted=True)
    newly = member(outranked=True, was=False)
    assert edges(align([faulted, MASTER, newly])) == [
        PropagateFault(1, True),
        PropagateFault(2, True),
    ]


def test_a_member_that_stopped_being_outranked_releases_the_hold() -> None:
    assert holds(align([member(State.MASTER, was=True), BACKUP])) == [False, False]


def backup_hearing(priority: int, master_priority: int, master: str = "192.0.2.9") -> VirtualRouter:
    clock = FakeClock()
    router = VirtualRouter(make_config(priority, "192.0.2.2"))
    router.start(clock.instant())
    router.receive(advert_packet(master, master_priority), clock.advance(0.1))
    return router


def test_a_backup_under_a_better_master_is_outranked() -> None:
    router = backup_hearing(100, 150)
    assert router.state is State.BACKUP
    assert is_outranked(router)


def test_a_backup_that_defers_to_a_lower_master_is_not_outranked(clock: FakeClock) -> None:
    # Held (or preempt off), it follows a worse master: it is not "outranked".
    router = VirtualRouter(make_config(150, "192.0.2.2", preempt=False))
    router.start(clock.instant())
    router.receive(advert_packet("192.0.2.9", 100), clock.advance(0.1))
    assert router.master is not None and router.master.address == ip_address("192.0.2.9")
    assert not is_outranked(router)


def test_a_master_stepping_down_to_priority_zero_outranks_nobody() -> None:
    assert not is_outranked(backup_hearing(100, 0))


def test_the_view_tells_its_own_faults_from_the_groups(clock: FakeClock) -> None:
    router = VirtualRouter(make_config(100, "192.0.2.2"))
    router.start(clock.instant())
    router.track(SYNC_TRACKER, clock.instant(), fault=True)
    seen = view(router, was_outranked=True)
    assert (seen.faulted_by_group, seen.faulted_by_itself, seen.state) == (True, False, State.FAULT)
    router.track("link", clock.instant(), fault=True)
    assert view(router, was_outranked=False).faulted_by_itself
    assert seen.was_outranked and not seen.outranked
