"""Layer-2 unit tests of the VRRP state machine (RFC 5798 §6 plus vipguard's Fault state).

Times are dyadic fractions wherever a value is compared exactly (0.609375 = 39/64 …), so float
equality is safe. Addresses: the router under test is 192.0.2.2 / fe80::2; peers sit below
(.1 / fe80::1) and above (.3 / fe80::3) it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from ipaddress import ip_address
from typing import Any

import pytest
from routerkit import (
    VIPS_V4,
    FakeClock,
    Link,
    advert_packet,
    expected_transmits,
    make_config,
    of_type,
    received,
    sent_checksum_mode,
)

from vipguard.proto.addresses import IPAddress, vrrp_group
from vipguard.proto.auth import TRAILER_LENGTH, AuthConfig, AuthKey, AuthMode
from vipguard.proto.checksum import ChecksumMode
from vipguard.proto.effects import (
    Announce,
    BindVips,
    Effect,
    Reason,
    Rejected,
    State,
    StateChanged,
    Transmit,
    UnbindVips,
)
from vipguard.proto.errors import ProtocolUsageError, RejectReason
from vipguard.proto.router import TRANSITIONS, MasterSeen, RouterConfig, VirtualRouter
from vipguard.proto.timers import effective_priority, master_down_interval, outranks, skew_time
from vipguard.proto.wire import ChecksumPolicy

ME, LOWER, HIGHER = "192.0.2.2", "192.0.2.1", "192.0.2.3"
ME6, LOWER6, HIGHER6 = "fe80::2", "fe80::1", "fe80::3"
TICK = 2.0**-10  # a little before a deadline, still exactly representable

MDI_100 = 3.609375  # priority 100 @ 1 s: 3 + 156/256
MDI_150 = 3.4140625  # priority 150 @ 1 s: 3 + 106/256
MDI_200 = 3.21875  # priority 200 @ 1 s: 3 + 56/256
SKEW_100 = 0.609375


# ---------------------------------------------------------------------------- helpers


def backup(clock: FakeClock, priority: int = 100, **overrides: Any) -> VirtualRouter:
    """A router started at the clock's time that is now in Backup."""
    router = VirtualRouter(make_config(priority, overrides.pop("source", ME), **overrides))
    router.start(clock.instant())
    assert router.state is State.BACKUP
    return router


def master(clock: FakeClock, priority: int = 100, **overrides: Any) -> VirtualRouter:
    """A router in Master: the owner at once, others by the master-down timer (moves the clock)."""
    router = VirtualRouter(make_config(priority, overrides.pop("source", ME), **overrides))
    router.start(clock.instant())
    deadline = router.next_deadline()
    if router.state is State.BACKUP and deadline is not None:
        router.poll(clock.advance_to(deadline))
    assert router.state is State.MASTER
    return router


def hear(
    router: VirtualRouter, clock: FakeClock, source: str, priority: int, **kw: Any
) -> list[Effect]:
    return router.receive(advert_packet(source, priority, **kw), clock.instant())


def became_master(config: RouterConfig, reason: Reason, old: State = State.BACKUP) -> list[Effect]:
    """The exact effects of entering Master (unauthenticated, RFC 9568 checksum)."""
    accept = config.accept or config.priority == 255
    return [
        BindVips(config.vips, accept),
        *expected_transmits(config, config.priority),
        Announce(config.vips),
        StateChanged(old, State.MASTER, reason),
    ]


def auth(secret: bytes) -> AuthConfig:
    """One 32..64-byte key, enforce mode, time-based anti-replay (the defaults)."""
    return AuthConfig(keys=(AuthKey(1, secret),), active_key=1, mode=AuthMode.ENFORCE)


# ---------------------------------------------------------------------------- timers


@pytest.mark.parametrize(
    ("priority", "interval_cs", "skew", "mdi"),
    [
        (100, 100, SKEW_100, MDI_100),
        (200, 100, 0.21875, MDI_200),
        (150, 100, 0.4140625, MDI_150),
        (254, 100, 0.0078125, 3.0078125),
        (1, 100, 0.99609375, 3.99609375),
        (100, 200, 1.21875, 7.21875),
        (100, 50, 0.3046875, 1.8046875),
    ],
)
def test_v3_skew_and_master_down_interval_scale_with_the_interval(
    priority: int, interval_cs: int, skew: float, mdi: float
) -> None:
    assert skew_time(priority, interval_cs, 3) == skew
    assert master_down_interval(priority, interval_cs, 3) == mdi


@pytest.mark.parametrize("interval_cs", [100, 200, 500, 25500])
@pytest.mark.parametrize(("priority", "skew"), [(100, SKEW_100), (200, 0.21875), (1, 0.99609375)])
def test_v2_skew_time_is_independent_of_the_interval(
    interval_cs: int, priority: int, skew: float
) -> None:
    assert skew_time(priority, interval_cs, 2) == skew
    assert master_down_interval(priority, interval_cs, 2) == 3 * interval_cs / 100 + skew


@pytest.mark.parametrize(
    ("base", "contributions", "expected"),
    [
        (100, [], 100),
        (100, [50], 150),
        (100, [50, -20], 130),
        (100, [200], 254),
        (100, [154], 254),
        (100, [-99], 1),
        (100, [-200], 1),
        (1, [-1], 1),
        (254, [1], 254),
        (255, [-100], 255),
        (255, [-254, -254], 255),
    ],
)
def test_effective_priority_is_clamped_to_1_254_and_255_is_fixed(
    base: int, contributions: list[int], expected: int
) -> None:
    assert effective_priority(base, contributions) == expected


@pytest.mark.parametrize(
    ("a", "b", "a_wins"),
    [
        ((101, "192.0.2.1"), (100, "192.0.2.9"), True),
        ((100, "192.0.2.9"), (101, "192.0.2.1"), False),
        ((100, "192.0.2.10"), (100, "192.0.2.9"), True),  # numeric, not lexical
        ((100, "192.0.2.9"), (100, "192.0.2.10"), False),
        ((100, "10.0.0.1"), (100, "9.255.255.255"), True),
        ((100, "192.0.2.1"), (100, "192.0.2.1"), False),
        ((255, "fe80::1"), (254, "fe80::ffff"), True),
        ((100, "fe80::10"), (100, "fe80::f"), True),
        ((100, "fe80::f"), (100, "fe80::10"), False),
        ((100, "fe80::1:0"), (100, "fe80::ffff"), True),
    ],
)
def test_outranks_compares_priority_then_address(
    a: tuple[int, str], b: tuple[int, str], a_wins: bool
) -> None:
    assert outranks(a[0], ip_address(a[1]), b[0], ip_address(b[1])) is a_wins


# ---------------------------------------------------------------------------- start


@pytest.mark.parametrize("peers", [(), (ip_address(LOWER), ip_address(HIGHER))])
def test_owner_starts_as_master_with_bind_transmit_announce_statechanged(
    peers: tuple[IPAddress, ...],
) -> None:
    config = make_config(255, ME, peers=peers)
    router = VirtualRouter(config)
    effects = router.start(FakeClock(7.0).instant())
    assert effects == [
        BindVips(VIPS_V4, True),
        *expected_transmits(config, 255),
        Announce(VIPS_V4),
        StateChanged(State.INITIALIZE, State.MASTER, Reason.ADDRESS_OWNER),
    ]
    assert len(of_type(effects, Transmit)) == max(1, len(peers))
    assert (router.state, router.last_reason, router.state_since) == (
        State.MASTER,
        Reason.ADDRESS_OWNER,
        7.0,
    )
    assert router.next_deadline() == 8.0
    assert router.master == MasterSeen(config.source, 255, 100)


@pytest.mark.parametrize(
    ("priority", "interval_cs", "version", "mdi"),
    [
        (100, 100, 3, MDI_100),
        (254, 100, 3, 3.0078125),
        (100, 200, 3, 7.21875),
        (100, 200, 2, 6.609375),
    ],
)
def test_non_owner_starts_as_backup_timed_by_master_down_interval(
    priority: int, interval_cs: int, version: int, mdi: float
) -> None:
    router = VirtualRouter(make_config(priority, ME, interval_cs=interval_cs, version=version))
    effects = router.start(FakeClock(10.0).instant())
    assert effects == [StateChanged(State.INITIALIZE, State.BACKUP, Reason.STARTUP)]
    assert router.master_down_interval == mdi
    assert router.next_deadline() == 10.0 + mdi
    assert router.master is None


@pytest.mark.parametrize("priority", [100, 255])
def test_a_tracker_faulted_before_start_starts_in_fault(clock: FakeClock, priority: int) -> None:
    router = VirtualRouter(make_config(priority))
    assert router.track("link", clock.instant(), fault=True) == []
    assert router.state is State.INITIALIZE
    effects = router.start(clock.instant())
    assert effects == [StateChanged(State.INITIALIZE, State.FAULT, Reason.FAULT)]
    assert router.next_deadline() is None
    assert router.faulted == ("link",)


# ---------------------------------------------------------------------------- backup


def test_backup_becomes_master_when_the_master_down_timer_expires() -> None:
    clock = FakeClock(10.0)
    router = backup(clock)
    assert router.poll(clock.advance_to(10.0 + MDI_100 - TICK)) == []
    assert router.state is State.BACKUP
    effects = router.poll(clock.advance_to(10.0 + MDI_100))
    assert effects == became_master(router.config, Reason.MASTER_DOWN_TIMER_EXPIRED)
    assert router.next_deadline() == 10.0 + MDI_100 + 1.0
    assert router.poll(clock.instant()) == []  # the advert timer is not due yet


@pytest.mark.parametrize(
    ("source", "priority"),
    [
        (LOWER, 101),  # higher priority from a lower address
        (HIGHER, 100),  # equal priority, higher address
        (LOWER, 255),  # the address owner
    ],
)
@pytest.mark.parametrize(
    ("interval_cs", "mdi"), [(100, MDI_100), (200, 7.21875), (50, 1.8046875), (400, 14.4375)]
)
def test_backup_defers_to_an_outranking_master_and_learns_its_interval(
    clock: FakeClock, source: str, priority: int, interval_cs: int, mdi: float
) -> None:
    router = backup(clock)
    clock.advance_to(2.0)
    assert hear(router, clock, source, priority, interval_cs=interval_cs) == []
    assert router.master_adver_interval_cs == interval_cs
    assert router.master_down_interval == mdi
    assert router.next_deadline() == 2.0 + mdi
    assert router.master == MasterSeen(ip_address(source), priority, interval_cs)
    # ... and goes on resetting the timer, so it never takes over from a live master.
    for second in range(3, 30):
        clock.advance_to(float(second))
        assert router.poll(clock.instant()) == []
        assert hear(router, clock, source, priority, interval_cs=interval_cs) == []
    assert router.state is State.BACKUP
    assert router.next_deadline() == 29.0 + mdi


@pytest.mark.parametrize("interval_cs", [100, 300])
def test_v2_backup_times_the_master_with_its_own_interval_and_v2_skew(
    clock: FakeClock, interval_cs: int
) -> None:
    router = backup(clock, version=2, interval_cs=interval_cs)
    clock.advance_to(1.0)
    assert hear(router, clock, HIGHER, 200, version=2, interval_cs=interval_cs) == []
    assert router.next_deadline() == 1.0 + 3 * interval_cs / 100 + SKEW_100
    assert router.master_adver_interval_cs == interval_cs


def test_v2_backup_rejects_an_advert_with_another_interval(clock: FakeClock) -> None:
    router = backup(clock, version=2)
    effects = hear(router, clock, HIGHER, 200, version=2, interval_cs=200)
    assert effects == [Rejected(RejectReason.INTERVAL_MISMATCH, ip_address(HIGHER))]
    assert router.next_deadline() == MDI_100


@pytest.mark.parametrize(("learned_cs", "skew"), [(100, SKEW_100), (200, 1.21875), (50, 0.3046875)])
def test_priority_zero_sets_the_timer_to_skew_time_then_takes_over(
    clock: FakeClock, learned_cs: int, skew: float
) -> None:
    router = backup(clock)
    clock.advance_to(1.0)
    hear(router, clock, HIGHER, 200, interval_cs=learned_cs)
    clock.advance_to(2.0)
    assert hear(router, clock, HIGHER, 0, interval_cs=learned_cs) == []
    assert router.skew_time == skew
    assert router.next_deadline() == 2.0 + skew
    assert router.poll(clock.advance_to(2.0 + skew - TICK)) == []
    effects = router.poll(clock.advance_to(2.0 + skew))
    assert effects == became_master(router.config, Reason.PRIORITY_ZERO_RECEIVED)
    assert router.master_adver_interval_cs == 100  # a master uses its own interval again


def test_preempting_backup_ignores_a_lower_master_and_takes_over_when_its_timer_expires(
    clock: FakeClock,
) -> None:
    router = backup(clock, 200)
    for second in (1.0, 2.0, 3.0):
        clock.advance_to(second)
        assert hear(router, clock, HIGHER, 100, interval_cs=50) == []
        assert router.next_deadline() == MDI_200  # not reset
        assert router.master_adver_interval_cs == 100  # not learned from a master it preempts
    effects = router.poll(clock.advance_to(MDI_200))
    assert effects == became_master(router.config, Reason.PREEMPTED_LOWER_PRIORITY)


@pytest.mark.parametrize(("source", "priority"), [(HIGHER, 100), (LOWER, 150), (LOWER, 200)])
def test_non_preempting_backup_keeps_a_lower_master_forever(
    clock: FakeClock, source: str, priority: int
) -> None:
    router = backup(clock, 200, preempt=False)
    for second in range(1, 121):
        clock.advance_to(float(second))
        assert router.poll(clock.instant()) == []
        assert hear(router, clock, source, priority) == []
        assert router.next_deadline() == second + MDI_200
    assert router.state is State.BACKUP
    assert router.master == MasterSeen(ip_address(source), priority, 100)


@pytest.mark.parametrize("delay", [2.0, 5.0, 7.5])
def test_preempt_delay_tolerates_a_lower_master_then_takes_over(
    clock: FakeClock, delay: float
) -> None:
    router = backup(clock, 200, preempt_delay=delay)
    first_advert = 1.0
    last_accepted = max(s for s in range(1, 100) if s < first_advert + delay)
    takeover = last_accepted + MDI_200
    second = first_advert
    while second < takeover:
        clock.advance_to(second)
        assert router.poll(clock.instant()) == []
        assert hear(router, clock, HIGHER, 100) == []
        tolerated = second < first_advert + delay
        assert router.next_deadline() == (second if tolerated else last_accepted) + MDI_200
        second += 1.0
    assert router.poll(clock.advance_to(takeover - TICK)) == []
    effects = router.poll(clock.advance_to(takeover))
    assert effects == became_master(router.config, Reason.PREEMPTED_LOWER_PRIORITY)


def test_preempt_delay_restarts_for_a_lower_master_that_returns_after_a_better_one(
    clock: FakeClock,
) -> None:
    router = backup(clock, 200, preempt_delay=5.0)
    clock.advance_to(1.0)
    hear(router, clock, LOWER, 100)  # tolerated until 6.0 ...
    for second in range(2, 10):
        clock.advance_to(float(second))
        hear(router, clock, HIGHER, 250)  # ... but a better master takes over meanwhile
    clock.advance_to(10.0)
    assert hear(router, clock, LOWER, 100) == []  # a fresh delay: tolerated until 15.0
    assert router.next_deadline() == 10.0 + MDI_200
    assert router.master == MasterSeen(ip_address(LOWER), 100, 100)


@pytest.mark.parametrize("preempt", [True, False])
def test_equal_priority_master_with_lower_address_is_preempted_only_with_preempt(
    clock: FakeClock,
    preempt: bool,
) -> None:
    router = backup(clock, 100, preempt=preempt)
    for second in (1.0, 2.0, 3.0):
        clock.advance_to(second)
        assert hear(router, clock, LOWER, 100) == []
    effects = router.poll(clock.advance_to(MDI_100))
    if preempt:
        assert effects == became_master(router.config, Reason.PREEMPTED_LOWER_PRIORITY)
    else:
        assert effects == []
        assert router.state is State.BACKUP
        assert router.next_deadline() == 3.0 + MDI_100


def test_backup_that_hears_an_outranking_master_again_forgets_a_pending_preemption(
    clock: FakeClock,
) -> None:
    router = backup(clock, 150)
    clock.advance_to(1.0)
    hear(router, clock, LOWER, 100)  # would preempt at MDI_150 ...
    clock.advance_to(2.0)
    hear(router, clock, LOWER, 200)  # ... but a better master appeared
    effects = router.poll(clock.advance_to(2.0 + MDI_150))
    assert effects == became_master(router.config, Reason.MASTER_DOWN_TIMER_EXPIRED)


# ---------------------------------------------------------------------------- master


@pytest.mark.parametrize("interval_cs", [100, 50, 250, 4000])
def test_master_advertises_once_per_interval(clock: FakeClock, interval_cs: int) -> None:
    config = make_config(255, ME, interval_cs=interval_cs)
    router = VirtualRouter(config)
    router.start(clock.instant())
    interval = interval_cs / 100
    for k in range(1, 6):
        assert router.poll(clock.advance_to(k * interval - TICK)) == []
        assert router.poll(clock.advance_to(k * interval)) == expected_transmits(config, 255)
        assert router.next_deadline() == (k + 1) * interval
    assert router.state is State.MASTER


@pytest.mark.parametrize("source", [LOWER, HIGHER])
def test_master_answers_priority_zero_with_an_immediate_advert(
    clock: FakeClock, source: str
) -> None:
    router = master(clock, 200)
    now = clock.advance_to(MDI_200 + 0.25)
    assert router.receive(advert_packet(source, 0), now) == expected_transmits(router.config, 200)
    assert router.next_deadline() == MDI_200 + 1.25  # the advert timer restarts
    assert router.state is State.MASTER


@pytest.mark.parametrize(
    ("me", "source", "priority", "reason"),
    [
        (ME, LOWER, 101, Reason.HIGHER_PRIORITY_ADVERT),
        (ME, HIGHER, 255, Reason.HIGHER_PRIORITY_ADVERT),
        (ME, HIGHER, 100, Reason.EQUAL_PRIORITY_HIGHER_ADDRESS),
        (ME6, LOWER6, 101, Reason.HIGHER_PRIORITY_ADVERT),
        (ME6, HIGHER6, 100, Reason.EQUAL_PRIORITY_HIGHER_ADDRESS),
    ],
)
@pytest.mark.parametrize("preempt", [True, False])
def test_master_steps_down_for_an_outranking_advert(
    clock: FakeClock, me: str, source: str, priority: int, reason: Reason, preempt: bool
) -> None:
    router = master(clock, 100, source=me, preempt=preempt)
    clock.advance_to(5.0)
    effects = hear(router, clock, source, priority, interval_cs=200)
    assert effects == [
        *expected_transmits(router.config, 100),  # a last advert: the winner re-announces
        UnbindVips(router.config.vips),
        StateChanged(State.MASTER, State.BACKUP, reason),
    ]
    assert (router.state, router.last_reason, router.state_since) == (State.BACKUP, reason, 5.0)
    assert router.master == MasterSeen(ip_address(source), priority, 200)
    assert router.master_adver_interval_cs == 200
    assert router.next_deadline() == 5.0 + 7.21875  # the MDI of the learned 2 s interval


@pytest.mark.parametrize(("source", "priority"), [(HIGHER, 99), (LOWER, 100), (HIGHER, 1)])
def test_master_answers_a_lower_master_at_once_but_once_per_interval(
    clock: FakeClock, source: str, priority: int
) -> None:
    router = master(clock, 100)
    clock.advance_to(4.0)
    answer = [*expected_transmits(router.config, 100), Announce(router.config.vips)]
    assert hear(router, clock, source, priority) == answer
    assert router.state is State.MASTER
    assert router.next_deadline() == 4.0 + 1.0  # the advert timer restarts from the answer
    clock.advance_to(4.5)
    assert hear(router, clock, source, priority) == []  # a flood gets one answer per interval
    clock.advance_to(5.0)
    assert hear(router, clock, source, priority) == answer


# ---------------------------------------------------------------------------- shutdown


@pytest.mark.parametrize("priority", [100, 255])
def test_master_shutdown_sends_priority_zero_then_unbinds(clock: FakeClock, priority: int) -> None:
    router = master(clock, priority)
    effects = router.shutdown(clock.advance(0.5))
    assert effects == [
        *expected_transmits(router.config, 0),
        UnbindVips(router.config.vips),
        StateChanged(State.MASTER, State.INITIALIZE, Reason.SHUTDOWN),
    ]
    assert router.state is State.INITIALIZE
    assert router.next_deadline() is None
    assert router.master is None
    assert router.poll(clock.advance(100.0)) == []


def test_backup_shutdown_just_goes_to_initialize(clock: FakeClock) -> None:
    router = backup(clock)
    effects = router.shutdown(clock.advance(1.0))
    assert effects == [StateChanged(State.BACKUP, State.INITIALIZE, Reason.SHUTDOWN)]
    assert router.next_deadline() is None
    assert router.poll(clock.advance(100.0)) == []


def test_fault_shutdown_goes_to_initialize(clock: FakeClock) -> None:
    router = backup(clock)
    router.track("link", clock.instant(), fault=True)
    effects = router.shutdown(clock.advance(1.0))
    assert effects == [StateChanged(State.FAULT, State.INITIALIZE, Reason.SHUTDOWN)]


def test_shutdown_in_initialize_has_no_effects(clock: FakeClock) -> None:
    router = VirtualRouter(make_config())
    assert router.shutdown(clock.instant()) == []
    router.start(clock.instant())
    router.shutdown(clock.instant())
    assert router.shutdown(clock.instant()) == []
    assert router.receive(advert_packet(HIGHER, 200), clock.instant()) == []


def test_router_can_start_again_after_shutdown(clock: FakeClock) -> None:
    router = master(clock)
    router.shutdown(clock.advance(1.0))
    effects = router.start(clock.advance(1.0))
    assert effects == [StateChanged(State.INITIALIZE, State.BACKUP, Reason.STARTUP)]
    assert router.next_deadline() == clock.now + MDI_100


# ---------------------------------------------------------------------------- track


@pytest.mark.parametrize(
    ("base", "changes", "expected"),
    [
        (100, [("a", 50)], 150),
        (100, [("a", 50), ("b", 30)], 180),
        (100, [("a", 50), ("a", -30)], 70),  # a tracker's new contribution replaces the old
        (100, [("a", 100), ("b", 100)], 254),
        (100, [("a", -100)], 1),
        (255, [("a", -100)], 255),
    ],
)
def test_track_contributions_move_the_effective_priority(
    clock: FakeClock, base: int, changes: list[tuple[str, int]], expected: int
) -> None:
    router = VirtualRouter(make_config(base))
    for name, contribution in changes:
        router.track(name, clock.instant(), contribution=contribution)
    assert router.priority == expected
    assert router.contributions == dict(changes)


@pytest.mark.parametrize(
    ("contribution", "deadline"),
    [(100, MDI_200), (50, MDI_150), (-99, 3.99609375), (-500, 3.99609375), (0, MDI_100)],
)
def test_backup_priority_change_retimes_the_master_down_timer_from_when_it_was_armed(
    clock: FakeClock, contribution: int, deadline: float
) -> None:
    router = backup(clock)
    assert router.track("a", clock.advance_to(1.0), contribution=contribution) == []
    assert router.next_deadline() == deadline
    assert router.state is State.BACKUP


def test_backup_priority_change_retimes_the_skew_timer(clock: FakeClock) -> None:
    router = backup(clock)
    clock.advance_to(2.0)
    hear(router, clock, HIGHER, 0)
    assert router.next_deadline() == 2.0 + SKEW_100
    assert router.track("a", clock.advance_to(2.125), contribution=100) == []
    assert router.next_deadline() == 2.0 + 0.21875
    effects = router.poll(clock.advance_to(2.21875))
    assert effects[-1] == StateChanged(State.BACKUP, State.MASTER, Reason.PRIORITY_ZERO_RECEIVED)


def test_backup_retimed_into_the_past_takes_over_at_the_next_poll(clock: FakeClock) -> None:
    router = backup(clock)
    router.track("a", clock.advance_to(3.5), contribution=100)
    assert router.next_deadline() == MDI_200
    effects = router.poll(clock.instant())
    assert effects[-1] == StateChanged(State.BACKUP, State.MASTER, Reason.MASTER_DOWN_TIMER_EXPIRED)


@pytest.mark.parametrize(("contribution", "priority"), [(-30, 70), (50, 150), (500, 254)])
def test_master_advertises_a_priority_change_at_once(
    clock: FakeClock, contribution: int, priority: int
) -> None:
    router = master(clock)
    now = clock.advance(0.25)
    effects = router.track("a", now, contribution=contribution)
    assert effects == expected_transmits(router.config, priority)
    assert router.next_deadline() == now.monotonic + 1.0
    assert router.master == MasterSeen(router.config.source, priority, 100)


def test_owner_ignores_contributions(clock: FakeClock) -> None:
    router = VirtualRouter(make_config(255))
    router.start(clock.instant())
    assert router.track("a", clock.advance(0.5), contribution=-100) == []
    assert router.priority == 255


@pytest.mark.parametrize("priority", [100, 255])
def test_master_entering_fault_sends_priority_zero_then_unbinds(
    clock: FakeClock, priority: int
) -> None:
    router = master(clock, priority)
    effects = router.track("link", clock.advance(0.5), fault=True)
    assert effects == [
        *expected_transmits(router.config, 0),
        UnbindVips(router.config.vips),
        StateChanged(State.MASTER, State.FAULT, Reason.FAULT),
    ]
    assert router.next_deadline() is None


def test_backup_entering_fault_only_changes_state(clock: FakeClock) -> None:
    router = backup(clock)
    effects = router.track("link", clock.advance(1.0), fault=True)
    assert effects == [StateChanged(State.BACKUP, State.FAULT, Reason.FAULT)]
    assert router.next_deadline() is None
    assert router.poll(clock.advance(100.0)) == []
    assert router.state is State.FAULT


def test_clearing_the_fault_returns_to_backup_with_a_fresh_timer(clock: FakeClock) -> None:
    router = backup(clock)
    hear(router, clock, HIGHER, 200, interval_cs=200)  # learn a 2 s master interval
    router.track("link", clock.advance(1.0), fault=True)
    effects = router.track("link", clock.advance_to(10.0), fault=False)
    assert effects == [StateChanged(State.FAULT, State.BACKUP, Reason.FAULT_CLEARED)]
    assert router.master_adver_interval_cs == 100  # back to its own until a master is heard
    assert router.next_deadline() == 10.0 + MDI_100
    assert router.last_reason is Reason.FAULT_CLEARED


def test_clearing_the_fault_of_the_owner_returns_to_master(clock: FakeClock) -> None:
    router = VirtualRouter(make_config(255))
    router.start(clock.instant())
    router.track("link", clock.advance(1.0), fault=True)
    effects = router.track("link", clock.advance(1.0), fault=False)
    assert effects == became_master(router.config, Reason.ADDRESS_OWNER, old=State.FAULT)
    assert router.next_deadline() == 3.0


def test_fault_lasts_until_every_faulted_tracker_clears(clock: FakeClock) -> None:
    router = backup(clock)
    router.track("link", clock.instant(), fault=True)
    assert router.track("script", clock.instant(), fault=True) == []
    assert router.track("link", clock.instant(), fault=False) == []
    assert router.state is State.FAULT
    assert router.faulted == ("script",)
    effects = router.track("script", clock.instant(), fault=False)
    assert effects == [StateChanged(State.FAULT, State.BACKUP, Reason.FAULT_CLEARED)]


@pytest.mark.parametrize(("source", "priority"), [(HIGHER, 200), (LOWER, 50), (HIGHER, 0)])
def test_adverts_are_ignored_in_fault(clock: FakeClock, source: str, priority: int) -> None:
    router = backup(clock)
    router.track("link", clock.instant(), fault=True)
    assert hear(router, clock, source, priority) == []
    assert router.state is State.FAULT
    assert router.next_deadline() is None
    assert router.master is None


# ---------------------------------------------------------------------------- transition table


@pytest.mark.parametrize("state", [State.BACKUP, State.MASTER, State.FAULT])
def test_start_outside_initialize_is_a_usage_error(clock: FakeClock, state: State) -> None:
    router = master(clock) if state is State.MASTER else backup(clock)
    if state is State.FAULT:
        router.track("link", clock.instant(), fault=True)
    assert router.state is state
    with pytest.raises(ProtocolUsageError):
        router.start(clock.instant())
    assert router.state is state


def _check_step(router: VirtualRouter, before: State, effects: list[Effect]) -> None:
    """Every StateChanged is a TRANSITIONS entry and they chain from ``before`` to the state."""
    state = before
    for change in of_type(effects, StateChanged):
        assert change.old is state
        assert TRANSITIONS[(change.old, change.reason)] is change.new
        state = change.new
        assert router.last_reason is change.reason
    assert router.state is state
    idle = (State.INITIALIZE, State.FAULT, State.MAINTENANCE)
    assert (router.next_deadline() is None) == (state in idle)


NEVER_FOR_OWNER = frozenset(
    {
        Reason.STARTUP,
        Reason.FAULT_CLEARED,
        Reason.HIGHER_PRIORITY_ADVERT,
        Reason.MAINTENANCE_ENDED,
    }
)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("preempt", [True, False])
@pytest.mark.parametrize("priority", [100, 255])
def test_random_inputs_only_produce_table_transitions_and_balanced_binds(
    clock: FakeClock, seed: int, preempt: bool, priority: int
) -> None:
    rng = random.Random(seed)
    router = VirtualRouter(make_config(priority, preempt=preempt))
    bound = 0
    reasons: set[Reason] = set()
    for _ in range(6000):
        before = router.state
        action = rng.randrange(9)
        if action == 0:
            effects = router.poll(clock.advance(rng.choice([0.25, 0.5, 1.0, 2.0, 4.0])))
        elif action == 1:
            source = rng.choice([LOWER, HIGHER])
            effects = hear(router, clock, source, rng.choice([0, 50, 100, 150, 255]))
        elif action == 2:
            effects = router.track("fault", clock.instant(), fault=rng.random() < 0.3)
        elif action == 3:
            weight = rng.choice([-120, -20, 0, 0, 20, 160])
            effects = router.track("weight", clock.instant(), contribution=weight)
        elif action == 4 and rng.random() < 0.1:
            effects = router.shutdown(clock.instant(), handover=rng.random() < 0.5)
        elif action == 6:
            effects = router.set_maintenance(rng.random() < 0.3, clock.instant())
        elif action == 7:
            router.hold(rng.random() < 0.3)
            effects = []
        elif action == 8:
            effects = router.step_down(clock.instant())
        elif router.state is State.INITIALIZE:
            effects = router.start(clock.instant())
        else:
            continue
        _check_step(router, before, effects)
        reasons |= {change.reason for change in of_type(effects, StateChanged)}
        bound += len(of_type(effects, BindVips)) - len(of_type(effects, UnbindVips))
        assert bound == (1 if router.state is State.MASTER else 0)
    unreachable = NEVER_FOR_OWNER if priority == 255 else frozenset({Reason.ADDRESS_OWNER})
    if not preempt:
        unreachable = unreachable | {Reason.PREEMPTED_LOWER_PRIORITY}
    assert reasons == set(Reason) - unreachable


# ---------------------------------------------------------------------------- accept mode


@pytest.mark.parametrize(
    ("accept", "priority", "expected"),
    [(False, 100, False), (True, 100, True), (False, 255, True), (True, 255, True)],
)
def test_bindvips_accept_is_accept_mode_or_owner(
    clock: FakeClock, accept: bool, priority: int, expected: bool
) -> None:
    router = VirtualRouter(make_config(priority, accept=accept))
    effects = router.start(clock.instant())
    if priority != 255:
        effects = router.poll(clock.advance_to(MDI_100))
    assert of_type(effects, BindVips) == [BindVips(VIPS_V4, expected)]


# ---------------------------------------------------------------------------- unicast and TTL

PEERS = (ip_address(LOWER), ip_address(HIGHER))


def test_unicast_sends_one_copy_to_each_peer(clock: FakeClock) -> None:
    router = VirtualRouter(make_config(255, peers=PEERS))
    assert router.wire.config.destinations == PEERS
    effects = router.start(clock.instant())
    assert [t.destination for t in of_type(effects, Transmit)] == list(PEERS)


def test_unicast_rejects_a_sender_that_is_not_a_peer(clock: FakeClock) -> None:
    router = backup(clock, peers=PEERS)
    stranger = "192.0.2.77"
    effects = hear(router, clock, stranger, 200, destination=ip_address(ME))
    assert effects == [Rejected(RejectReason.UNKNOWN_PEER, ip_address(stranger))]
    assert router.next_deadline() == MDI_100


@pytest.mark.parametrize("peers", [(), PEERS])
def test_own_packets_are_rejected(clock: FakeClock, peers: tuple[IPAddress, ...]) -> None:
    router = VirtualRouter(make_config(255, peers=peers))
    transmit = of_type(router.start(clock.instant()), Transmit)[0]
    effects = router.receive(received(transmit, ip_address(ME)), clock.instant())
    assert effects == [Rejected(RejectReason.OWN_PACKET, ip_address(ME))]


@pytest.mark.parametrize("ttl", [0, 1, 64, 254])
def test_multicast_requires_ttl_255(clock: FakeClock, ttl: int) -> None:
    router = backup(clock)
    clock.advance_to(1.0)
    effects = hear(router, clock, HIGHER, 200, ttl=ttl)
    assert effects == [Rejected(RejectReason.BAD_TTL, ip_address(HIGHER))]
    assert router.next_deadline() == MDI_100  # not reset by the rejected advert


@pytest.mark.parametrize("ttl", [1, 64, 255])
def test_unicast_does_not_enforce_ttl(clock: FakeClock, ttl: int) -> None:
    router = backup(clock, peers=PEERS)
    clock.advance_to(1.0)
    assert hear(router, clock, HIGHER, 200, ttl=ttl, destination=ip_address(ME)) == []
    assert router.next_deadline() == 1.0 + MDI_100
    assert router.master == MasterSeen(ip_address(HIGHER), 200, 100)


# ---------------------------------------------------------------------------- checksum policy


def test_auto_checksum_sends_pseudo_header_until_an_rfc9568_advert_is_heard(
    clock: FakeClock,
) -> None:
    """keepalived, FRR and Wireshark use the pseudo-header form: "auto" sends it until a peer
    is heard using the other, so a peer that knows only that form never sees a bad checksum."""
    router = backup(clock, 100)
    source = router.config.source
    clock.advance_to(1.0)
    hear(router, clock, LOWER, 50)  # a pseudo-header peer: nothing changes
    effects = router.poll(clock.advance_to(MDI_100))
    assert [sent_checksum_mode(t, source) for t in of_type(effects, Transmit)] == [
        ChecksumMode.PSEUDO_HEADER
    ]
    effects = hear(router, clock, LOWER, 50, checksum_mode=ChecksumMode.RFC9568)
    assert [sent_checksum_mode(t, source) for t in of_type(effects, Transmit)] == [
        ChecksumMode.RFC9568
    ]  # the answer to the lower master already uses the mode just learned
    effects = router.poll(clock.advance(1.0))
    assert [sent_checksum_mode(t, source) for t in of_type(effects, Transmit)] == [
        ChecksumMode.RFC9568
    ]


@pytest.mark.parametrize(
    ("policy", "sent", "accepted"),
    [
        (ChecksumPolicy.RFC9568, ChecksumMode.RFC9568, True),
        (ChecksumPolicy.RFC9568, ChecksumMode.PSEUDO_HEADER, False),
        (ChecksumPolicy.PSEUDO_HEADER, ChecksumMode.PSEUDO_HEADER, True),
        (ChecksumPolicy.PSEUDO_HEADER, ChecksumMode.RFC9568, False),
        (ChecksumPolicy.AUTO, ChecksumMode.RFC9568, True),
        (ChecksumPolicy.AUTO, ChecksumMode.PSEUDO_HEADER, True),
    ],
)
def test_fixed_checksum_policies_reject_the_other_variant(
    clock: FakeClock, policy: ChecksumPolicy, sent: ChecksumMode, accepted: bool
) -> None:
    router = backup(clock, checksum=policy)
    clock.advance_to(1.0)
    effects = hear(router, clock, HIGHER, 200, checksum_mode=sent)
    assert effects == (
        [] if accepted else [Rejected(RejectReason.BAD_CHECKSUM, ip_address(HIGHER))]
    )
    assert router.next_deadline() == (1.0 if accepted else 0.0) + MDI_100


@pytest.mark.parametrize("policy", [ChecksumPolicy.RFC9568, ChecksumPolicy.PSEUDO_HEADER])
def test_fixed_checksum_policy_sends_its_own_variant(
    clock: FakeClock, policy: ChecksumPolicy
) -> None:
    router = VirtualRouter(make_config(255, checksum=policy))
    effects = router.start(clock.instant())
    (transmit,) = of_type(effects, Transmit)
    assert sent_checksum_mode(transmit, router.config.source) == ChecksumMode(policy.value)


# ---------------------------------------------------------------------------- two routers on a link

KEY = bytes(range(32))


@dataclass(frozen=True)
class Variant:
    family: int = 4
    unicast: bool = False
    authenticated: bool = False

    def __str__(self) -> str:
        parts = [f"v{self.family}", "unicast" if self.unicast else "multicast"]
        return "-".join([*parts, "auth"] if self.authenticated else parts)


VARIANTS = [
    Variant(family, unicast, authenticated)
    for family in (4, 6)
    for unicast in (False, True)
    for authenticated in (False, True)
]


def pair(
    high: int = 150,
    low: int = 100,
    variant: Variant = Variant(),
    *,
    start: bool = True,
    **common: Any,
) -> Link:
    """Router "a" (priority ``high``, lower address) and "b" (``low``, higher address)."""
    link = Link()
    a_src, b_src = (LOWER, HIGHER) if variant.family == 4 else (LOWER6, HIGHER6)
    if variant.authenticated:
        common.setdefault("auth", auth(KEY))
    for name, priority, me, peer in (("a", high, a_src, b_src), ("b", low, b_src, a_src)):
        peers = (ip_address(peer),) if variant.unicast else ()
        link.add(name, make_config(priority, me, peers=peers, **common))
    if start:
        link.start("a")
        link.start("b")
    return link


def transmit_times(link: Link, router: str) -> list[float]:
    return [time for time, _ in link.transmits(router)]


def settle(link: Link, until: float) -> None:
    """Run the link, then check each router's StateChanged chain against TRANSITIONS."""
    link.run_until(until)
    for name, router in link.routers.items():
        state = State.INITIALIZE
        for _, change in link.state_changes(name):
            assert change.old is state
            assert TRANSITIONS[(change.old, change.reason)] is change.new
            state = change.new
        assert router.state is state


def first_change_after_start(link: Link, router: str) -> tuple[float, StateChanged]:
    return link.state_changes(router)[1]


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_pair_converges_on_the_higher_priority_master(variant: Variant) -> None:
    link = pair(variant=variant)
    settle(link, 30.0)
    a, b = link.routers["a"], link.routers["b"]
    assert (a.state, b.state) == (State.MASTER, State.BACKUP)
    assert link.state_changes("a") == [
        (0.0, StateChanged(State.INITIALIZE, State.BACKUP, Reason.STARTUP)),
        (MDI_150, StateChanged(State.BACKUP, State.MASTER, Reason.MASTER_DOWN_TIMER_EXPIRED)),
    ]
    assert link.state_changes("b") == [
        (0.0, StateChanged(State.INITIALIZE, State.BACKUP, Reason.STARTUP)),
    ]
    assert b.master == MasterSeen(a.config.source, 150, 100)
    assert b.next_deadline() == MDI_150 + 26 + MDI_100
    assert transmit_times(link, "a") == [MDI_150 + k for k in range(27)]
    destination = b.config.source if variant.unicast else vrrp_group(a.config.source)
    assert [t.destination for _, t in link.transmits("a")] == [destination] * 27
    assert link.events("b", Transmit) == []
    assert link.events(kind=Rejected) == []


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_backup_takes_over_from_a_crashed_master_after_its_master_down_interval(
    variant: Variant,
) -> None:
    link = pair(variant=variant)
    link.run_until(10.5)
    link.crash("a")
    settle(link, 30.0)
    last_advert = max(transmit_times(link, "a"))
    assert last_advert == MDI_150 + 7  # 10.4140625
    takeover, change = first_change_after_start(link, "b")
    assert change == StateChanged(State.BACKUP, State.MASTER, Reason.MASTER_DOWN_TIMER_EXPIRED)
    assert last_advert + MDI_100 <= takeover <= last_advert + MDI_100 + 1.0
    assert takeover == last_advert + MDI_100  # exact: the link polls at the deadline itself
    assert link.routers["b"].state is State.MASTER


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_backup_takes_over_within_skew_time_of_a_graceful_shutdown(variant: Variant) -> None:
    link = pair(variant=variant)
    link.run_until(10.5)
    effects = link.shutdown("a")
    assert [t.priority for t in of_type(effects, Transmit)] == [0]
    assert link.routers["b"].next_deadline() == 10.5 + SKEW_100
    settle(link, 30.0)
    takeover, change = first_change_after_start(link, "b")
    assert change == StateChanged(State.BACKUP, State.MASTER, Reason.PRIORITY_ZERO_RECEIVED)
    assert 10.5 <= takeover <= 10.5 + SKEW_100 + 1e-9
    assert link.routers["a"].state is State.INITIALIZE
    assert link.events(kind=Rejected) == []


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_master_entering_fault_hands_over_within_skew_time(variant: Variant) -> None:
    link = pair(variant=variant)
    link.run_until(10.5)
    link.track("a", "link", fault=True)
    settle(link, 30.0)
    takeover, change = first_change_after_start(link, "b")
    assert change == StateChanged(State.BACKUP, State.MASTER, Reason.PRIORITY_ZERO_RECEIVED)
    assert takeover == 10.5 + SKEW_100
    link.track("a", "link", fault=False)
    settle(link, 60.0)
    assert (link.routers["a"].state, link.routers["b"].state) == (State.MASTER, State.BACKUP)
    assert link.state_changes("a")[-1] == (
        30.0 + MDI_150,
        StateChanged(State.BACKUP, State.MASTER, Reason.PREEMPTED_LOWER_PRIORITY),
    )


@pytest.mark.parametrize("departure", ["shutdown", "crash"])
def test_of_two_backups_only_the_higher_takes_over(departure: str) -> None:
    link = Link()
    link.add("m", make_config(200, "192.0.2.4"))
    link.add("a", make_config(150, LOWER))
    link.add("b", make_config(100, HIGHER))
    for name in ("m", "a", "b"):
        link.start(name)
    settle(link, 10.5)
    assert [r.state for r in link.routers.values()] == [State.MASTER, State.BACKUP, State.BACKUP]
    last_advert = max(transmit_times(link, "m"))
    if departure == "shutdown":
        link.shutdown("m")
        expected = (10.5 + 0.4140625, Reason.PRIORITY_ZERO_RECEIVED)  # Skew_Time of 150
    else:
        link.crash("m")
        expected = (last_advert + MDI_150, Reason.MASTER_DOWN_TIMER_EXPIRED)
    settle(link, 30.0)
    takeover, change = first_change_after_start(link, "a")
    assert (takeover, change.reason) == expected
    assert (link.routers["a"].state, link.routers["b"].state) == (State.MASTER, State.BACKUP)
    assert len(link.state_changes("b")) == 1
    assert link.routers["b"].master == MasterSeen(ip_address(LOWER), 150, 100)


@pytest.mark.parametrize("preempt", [True, False])
def test_late_higher_priority_router_preempts_the_master_only_with_preempt(preempt: bool) -> None:
    link = pair(start=False, preempt=preempt)
    link.start("b")
    link.run_until(10.0)
    assert link.routers["b"].state is State.MASTER
    link.start("a")
    settle(link, 30.0)
    a, b = link.routers["a"], link.routers["b"]
    if preempt:
        assert (a.state, b.state) == (State.MASTER, State.BACKUP)
        assert link.state_changes("a")[-1] == (
            10.0 + MDI_150,
            StateChanged(State.BACKUP, State.MASTER, Reason.PREEMPTED_LOWER_PRIORITY),
        )
        assert link.state_changes("b")[-1] == (
            10.0 + MDI_150,
            StateChanged(State.MASTER, State.BACKUP, Reason.HIGHER_PRIORITY_ADVERT),
        )
    else:
        assert (a.state, b.state) == (State.BACKUP, State.MASTER)
        assert len(link.state_changes("a")) == 1


def test_equal_priority_pair_elects_the_higher_address() -> None:
    link = pair(100, 100)
    settle(link, 30.0)
    a, b = link.routers["a"], link.routers["b"]
    assert (a.state, b.state) == (State.BACKUP, State.MASTER)  # b has the higher address
    # Both timers expire together; "a" is polled first, "b" then preempts it at the same instant.
    assert [change for _, change in link.state_changes("a")] == [
        StateChanged(State.INITIALIZE, State.BACKUP, Reason.STARTUP),
        StateChanged(State.BACKUP, State.MASTER, Reason.MASTER_DOWN_TIMER_EXPIRED),
        StateChanged(State.MASTER, State.BACKUP, Reason.EQUAL_PRIORITY_HIGHER_ADDRESS),
    ]
    assert link.state_changes("b")[-1] == (
        MDI_100,
        StateChanged(State.BACKUP, State.MASTER, Reason.PREEMPTED_LOWER_PRIORITY),
    )


def test_auto_checksum_router_never_disturbs_a_pseudo_header_only_peer() -> None:
    link = Link()
    a = link.add("a", make_config(150, LOWER))
    b = link.add("b", make_config(100, HIGHER, checksum=ChecksumPolicy.PSEUDO_HEADER))
    link.start("a")
    settle(link, 5.0)  # a is master before b starts, as when keepalived joins a vipguard master
    link.start("b")
    settle(link, 30.0)
    assert (a.state, b.state) == (State.MASTER, State.BACKUP)
    assert link.events(kind=Rejected) == []
    assert [change.new for _, change in link.state_changes("b")] == [State.BACKUP]
    modes = {sent_checksum_mode(t, a.config.source) for _, t in link.transmits("a")}
    assert modes == {ChecksumMode.PSEUDO_HEADER}


def test_auto_checksum_router_converges_with_an_rfc9568_only_peer() -> None:
    link = Link()
    a = link.add("a", make_config(150, LOWER))
    b = link.add("b", make_config(100, HIGHER, checksum=ChecksumPolicy.RFC9568))
    link.start("a")
    link.start("b")
    settle(link, 30.0)
    assert (a.state, b.state) == (State.MASTER, State.BACKUP)
    # b refused a's first (pseudo-header) advert, became master, and a learnt b's form from it.
    assert [(e.time, e.router, e.effect) for e in link.events(kind=Rejected)] == [
        (MDI_150, "b", Rejected(RejectReason.BAD_CHECKSUM, a.config.source))
    ]
    modes = [(time, sent_checksum_mode(t, a.config.source)) for time, t in link.transmits("a")]
    assert modes[0] == (MDI_150, ChecksumMode.PSEUDO_HEADER)
    assert {mode for _, mode in modes[1:]} == {ChecksumMode.RFC9568}
    # b's first advert as master makes a answer at once, in b's form: b steps down then,
    # not a whole advert interval later.
    assert link.state_changes("b")[-1] == (
        MDI_100,
        StateChanged(State.MASTER, State.BACKUP, Reason.HIGHER_PRIORITY_ADVERT),
    )


# ---------------------------------------------------------------------------- authentication


def test_authenticated_adverts_carry_the_trailer() -> None:
    link = pair(variant=Variant(authenticated=True))
    link.run_until(10.0)
    message_length = 8 + 4  # VRRPv3 header + one IPv4 address
    assert {len(t.payload) for _, t in link.transmits("a")} == {message_length + TRAILER_LENGTH}
    assert link.events(kind=Rejected) == []


@pytest.mark.parametrize("family", [4, 6])
def test_pair_with_different_keys_rejects_each_other_and_both_become_master(family: int) -> None:
    link = pair(start=False, variant=Variant(family=family))
    for name, secret in (("a", b"A" * 32), ("b", b"B" * 32)):
        config = replace(link.routers[name].config, auth=auth(secret))
        link.add(name, config)
        link.start(name)
    settle(link, 30.0)
    a, b = link.routers["a"], link.routers["b"]
    assert (a.state, b.state) == (State.MASTER, State.MASTER)
    rejected = {(event.router, event.effect) for event in link.events(kind=Rejected)}
    assert rejected == {
        ("a", Rejected(RejectReason.AUTH_BAD_HMAC, b.config.source)),
        ("b", Rejected(RejectReason.AUTH_BAD_HMAC, a.config.source)),
    }


def test_enforcing_router_rejects_an_unauthenticated_advert(clock: FakeClock) -> None:
    router = backup(clock, auth=auth(KEY))
    assert hear(router, clock, HIGHER, 200) == [
        Rejected(RejectReason.AUTH_MISSING, ip_address(HIGHER))
    ]
    assert router.next_deadline() == MDI_100


def test_a_suppressed_answer_is_announced_with_the_next_regular_advert(clock: FakeClock) -> None:
    router = master(clock, 100)
    clock.advance_to(4.0)
    hear(router, clock, LOWER, 50)  # answered at once
    clock.advance_to(4.2)
    assert hear(router, clock, HIGHER, 60) == []  # within the interval: no answer yet...
    effects = router.poll(clock.advance_to(5.0))
    assert effects == [*expected_transmits(router.config, 100), Announce(router.config.vips)]
    effects = router.poll(clock.advance_to(6.0))
    assert effects == expected_transmits(router.config, 100)  # ...and only once


def test_late_polls_do_not_stretch_the_advert_interval(clock: FakeClock) -> None:
    router = master(clock, 100)
    first = router.next_deadline()
    assert first is not None
    router.poll(clock.advance_to(first + 0.004))  # the event loop woke 4 ms late
    assert router.next_deadline() == first + 1.0  # not first + 1.004
    router.poll(clock.advance_to(first + 1.0 + 2.5))  # a stall longer than an interval
    assert router.next_deadline() == clock.now + 1.0  # cadence restarts from now
