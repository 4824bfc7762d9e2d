"""VirtualRouter.steady_repeat: which datagram's repeats the I/O layer may hold back.

The promise: hearing the steady datagram again, at any later time, does nothing but restart
Master_Down from that time. Whenever a repeat could do more (take over, start a preemption,
hand over, re-time a Skew_Time), there is no steady datagram.
"""

from __future__ import annotations

import copy

import pytest
from routerkit import FakeClock, advert_packet, make_config

from vipguard.proto.auth import AuthConfig, AuthKey
from vipguard.proto.effects import State
from vipguard.proto.router import VirtualRouter

ME, LOWER, HIGHER = "192.0.2.2", "192.0.2.1", "192.0.2.3"


def backup(clock: FakeClock, **overrides: object) -> VirtualRouter:
    router = VirtualRouter(make_config(100, ME, **overrides))
    router.start(clock.instant())
    assert router.state is State.BACKUP
    return router


def assert_repeats_only_restart_master_down(router: VirtualRouter, clock: FakeClock) -> None:
    steady = router.steady_repeat()
    assert steady is not None
    for delay in (0.0, 0.5, 2.0, 2.9):  # repeats at any time before Master_Down
        twin = copy.deepcopy(router)
        now = clock.instant().after(delay)
        assert twin.receive(steady, now) == []
        assert twin.state is State.BACKUP
        assert twin.next_deadline() == pytest.approx(now.monotonic + twin.master_down_interval)
        assert twin.steady_repeat() == steady


def test_a_backup_following_a_higher_master_holds_its_repeats() -> None:
    clock = FakeClock()
    router = backup(clock)
    packet = advert_packet(HIGHER, 150)
    router.receive(packet, clock.advance(0.25))
    assert router.steady_repeat() == packet
    assert_repeats_only_restart_master_down(router, clock)


def test_equal_priority_from_a_higher_address_is_steady_too() -> None:
    clock = FakeClock()
    router = backup(clock)
    router.receive(advert_packet(HIGHER, 100), clock.advance(0.25))
    assert_repeats_only_restart_master_down(router, clock)


def test_a_lower_master_is_steady_only_while_nothing_makes_us_preempt_it() -> None:
    clock = FakeClock()
    lower = advert_packet(LOWER, 50)
    preempting = backup(clock)
    preempting.receive(lower, clock.advance(0.25))
    assert preempting.steady_repeat() is None  # its timer runs out: we take over

    delayed = backup(clock, preempt_delay=10.0)
    delayed.receive(lower, clock.advance(0.25))
    assert delayed.steady_repeat() is None  # a repeat after the delay would preempt

    patient = backup(clock, preempt=False)
    patient.receive(lower, clock.advance(0.25))
    assert patient.steady_repeat() == lower
    assert_repeats_only_restart_master_down(patient, clock)

    held = backup(clock)
    held.hold(True)  # a sync group holds it back
    held.receive(lower, clock.advance(0.25))
    assert held.steady_repeat() == lower
    held.hold(False)
    assert held.steady_repeat() is None


def test_nothing_is_steady_before_a_master_is_heard_or_after_it_stops() -> None:
    clock = FakeClock()
    router = backup(clock)
    assert router.steady_repeat() is None
    router.receive(advert_packet(HIGHER, 150), clock.advance(0.25))
    router.receive(advert_packet(HIGHER, 0), clock.advance(0.25))
    assert router.steady_repeat() is None  # its repeats must not push Skew_Time back


def test_a_rise_in_our_own_priority_ends_the_steadiness() -> None:
    clock = FakeClock()
    router = backup(clock)
    router.receive(advert_packet(HIGHER, 150), clock.advance(0.25))
    router.track("uplink", clock.advance(0.1), contribution=100)  # 200 > 150: preempt
    assert router.steady_repeat() is None


def test_a_master_and_a_signed_backup_hold_nothing() -> None:
    clock = FakeClock()
    master = VirtualRouter(make_config(255, ME))
    master.start(clock.instant())
    master.receive(advert_packet(LOWER, 100), clock.advance(0.25))
    assert master.state is State.MASTER and master.steady_repeat() is None

    auth = AuthConfig((AuthKey(1, b"k" * 32),), active_key=1)
    signed = backup(clock, auth=auth)
    signed.receive(advert_packet(HIGHER, 150), clock.advance(0.25))  # rejected: unsigned
    assert signed.steady_repeat() is None
    assert signed.wire.last_heard is None  # no signed advert is ever kept for comparison


def test_an_advert_from_another_router_than_the_master_replaces_the_steady_one() -> None:
    clock = FakeClock()
    router = backup(clock)
    first, second = advert_packet(HIGHER, 150), advert_packet("192.0.2.4", 160)
    router.receive(first, clock.advance(0.25))
    router.receive(second, clock.advance(0.05))
    assert router.steady_repeat() == second
