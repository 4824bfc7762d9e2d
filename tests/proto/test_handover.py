"""Make-before-break handover (maintenance, graceful stop) and the sync-group inputs of the core,
on the in-memory link: the VIPs are never unowned, and the old master releases only after the
new one has bound and announced them."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_interface

import pytest
from routerkit import Link, make_config

from vipguard.proto.effects import (
    Announce,
    BindVips,
    Reason,
    ResumeAnswering,
    State,
    StateChanged,
    StopAnswering,
    Transmit,
    UnbindVips,
)
from vipguard.proto.router import HANDOVER_GRACE, REANNOUNCE_AFTER_HANDOVER

A, B = "192.0.2.2", "192.0.2.3"


def pair(a_priority: int = 150, b_priority: int = 100, interval_cs: int = 100) -> Link:
    """A master, B backup, settled."""
    link = Link()
    link.add("a", make_config(a_priority, A, interval_cs=interval_cs))
    link.add("b", make_config(b_priority, B, interval_cs=interval_cs))
    link.start("a")
    link.start("b")
    link.run_until(5.0)
    assert (state(link, "a"), state(link, "b")) == (State.MASTER, State.BACKUP)
    return link


def lone_master() -> Link:
    """A (150) alone on the link, master since before t = 5 s; the clock at 5 s."""
    link = Link()
    link.add("a", make_config(150, A))
    link.start("a")
    link.run_until(5.0)
    return link


def state(link: Link, name: str) -> State:
    return link.routers[name].state


def first(link: Link, name: str, kind: type, since: float) -> float:
    return next(e.time for e in link.events(name, kind) if e.time >= since)


def owners_over_time(link: Link) -> list[tuple[float, int]]:
    """(time, number of routers holding the VIPs) after each bind or unbind."""
    held: dict[str, bool] = {}
    timeline = []
    for event in link.log:
        if isinstance(event.effect, (BindVips, UnbindVips)):
            held[event.router] = isinstance(event.effect, BindVips)
            timeline.append((event.time, sum(held.values())))
    return timeline


def advertised(link: Link, name: str, since: float) -> list[int]:
    return [t.priority for at, t in link.transmits(name) if at >= since]


def assert_make_before_break(link: Link, old: str, new: str, since: float) -> None:
    announced = first(link, new, Announce, since)
    released = first(link, old, UnbindVips, since)
    assert released > announced
    assert all(count >= 1 for at, count in owners_over_time(link) if at >= since)


def test_maintenance_hands_over_make_before_break() -> None:
    link = pair()
    start = link.clock.now
    link.maintenance("a", True)
    assert state(link, "a") is State.MASTER  # still serving until b has taken over
    link.run_until(start + 2.0)
    assert (state(link, "a"), state(link, "b")) == (State.MAINTENANCE, State.MASTER)
    took_over = first(link, "b", StateChanged, start)
    assert took_over - start == pytest.approx(link.routers["b"].skew_time)
    assert link.routers["b"].last_reason is Reason.PRIORITY_ZERO_RECEIVED
    assert link.routers["a"].last_reason is Reason.MAINTENANCE
    assert_make_before_break(link, "a", "b", start)
    released = first(link, "a", UnbindVips, start)
    assert released - took_over == pytest.approx(HANDOVER_GRACE)
    assert set(advertised(link, "a", start)) == {0}
    seen = link.routers["a"].master  # whom it handed over to, for the status
    assert seen is not None and (str(seen.address), seen.priority) == (B, 100)


def test_maintenance_without_a_peer_keeps_the_vips_and_invites_one() -> None:
    link = lone_master()
    link.maintenance("a", True)
    link.run_until(30.0)
    assert state(link, "a") is State.MASTER
    assert not link.events("a", UnbindVips)
    assert set(advertised(link, "a", 5.0)) == {0}  # every interval: "take over from me"
    link.add("b", make_config(100, B))
    joined = link.clock.now
    link.start("b")
    link.run_until(joined + 3.0)
    assert (state(link, "a"), state(link, "b")) == (State.MAINTENANCE, State.MASTER)
    assert_make_before_break(link, "a", "b", joined)


def test_maintenance_off_while_still_handing_over_resumes_the_real_priority() -> None:
    link = lone_master()
    link.maintenance("a", True)
    link.run_until(6.5)
    link.maintenance("a", False)
    link.run_until(9.0)
    assert state(link, "a") is State.MASTER
    assert advertised(link, "a", 6.5) == [150, 150, 150]
    assert link.routers["a"].handover is None


def test_maintenance_off_rejoins_the_election_and_preemption_brings_it_back() -> None:
    link = pair()
    link.maintenance("a", True)
    link.run_until(8.0)
    assert state(link, "a") is State.MAINTENANCE
    assert link.routers["a"].master is not None  # it still sees who holds the VIPs
    assert str(link.routers["a"].master.address) == B
    link.maintenance("a", False)
    assert (state(link, "a"), link.routers["a"].last_reason) == (
        State.BACKUP,
        Reason.MAINTENANCE_ENDED,
    )
    link.run_until(14.0)
    assert (state(link, "a"), state(link, "b")) == (State.MASTER, State.BACKUP)


def test_a_router_started_in_maintenance_never_binds_and_faults_wait_for_the_end() -> None:
    link = Link()
    router = link.add("a", make_config(255, A))  # even the address owner
    router.maintenance = True
    link.start("a")
    assert state(link, "a") is State.MAINTENANCE
    link.track("a", "link", fault=True)
    link.run_until(10.0)
    assert state(link, "a") is State.MAINTENANCE
    assert not link.events("a", BindVips) and not link.events("a", Transmit)
    link.maintenance("a", False)
    assert (state(link, "a"), router.last_reason) == (State.FAULT, Reason.FAULT)
    link.track("a", "link", fault=False)
    assert (state(link, "a"), router.last_reason) == (State.MASTER, Reason.ADDRESS_OWNER)


def test_a_fault_cleared_during_maintenance_returns_to_maintenance() -> None:
    link = pair()
    link.track("a", "proxy", fault=True)
    link.run_until(8.0)
    link.maintenance("a", True)
    assert state(link, "a") is State.MAINTENANCE
    link.track("a", "proxy", fault=True)
    link.maintenance("a", False)
    link.maintenance("a", True)
    link.track("a", "proxy", fault=False)
    assert state(link, "a") is State.MAINTENANCE


def test_owner_in_maintenance_hands_over_too() -> None:
    link = pair(a_priority=255)
    start = link.clock.now
    link.maintenance("a", True)
    link.run_until(start + 2.0)
    assert (state(link, "a"), state(link, "b")) == (State.MAINTENANCE, State.MASTER)
    assert_make_before_break(link, "a", "b", start)


def test_graceful_stop_with_handover_releases_after_the_peer_announced() -> None:
    link = pair(interval_cs=10)
    start = link.clock.now
    link.shutdown("a", handover=True)
    assert state(link, "a") is State.MASTER
    link.run_until(start + 1.0)
    assert (state(link, "a"), state(link, "b")) == (State.INITIALIZE, State.MASTER)
    assert link.routers["a"].last_reason is Reason.SHUTDOWN
    assert_make_before_break(link, "a", "b", start)
    released = first(link, "a", UnbindVips, start)
    assert released - first(link, "b", StateChanged, start) == pytest.approx(HANDOVER_GRACE)


def test_graceful_stop_without_a_peer_gives_up_after_master_down_interval() -> None:
    link = lone_master()
    router = link.routers["a"]
    bound = router.master_down_interval
    link.shutdown("a", handover=True)
    link.run_until(5.0 + bound - 0.01)
    assert state(link, "a") is State.MASTER
    link.run_until(5.0 + bound)
    assert state(link, "a") is State.INITIALIZE
    assert first(link, "a", UnbindVips, 5.0) == pytest.approx(5.0 + bound)


def test_stop_during_a_maintenance_handover_is_bounded_and_keeps_the_peer_rule() -> None:
    link = lone_master()
    router = link.routers["a"]
    link.maintenance("a", True)
    link.run_until(20.0)  # no peer: still master
    link.shutdown("a", handover=True)
    link.run_until(20.0 + router.master_down_interval)
    assert state(link, "a") is State.INITIALIZE


def test_plain_shutdown_still_releases_at_once() -> None:
    link = pair()
    start = link.clock.now
    link.shutdown("a")
    assert state(link, "a") is State.INITIALIZE
    assert first(link, "a", UnbindVips, start) == start


# ---------------------------------------------------------------------- sync group inputs


def test_step_down_hands_over_make_before_break() -> None:
    link = pair()
    start = link.clock.now
    link.step_down("a")
    assert state(link, "a") is State.MASTER  # serving until b has taken over
    link.run_until(start + 1.0)
    assert (state(link, "a"), link.routers["a"].last_reason) == (State.BACKUP, Reason.SYNC_GROUP)
    assert state(link, "b") is State.MASTER
    assert set(advertised(link, "a", start)) == {0}
    assert_make_before_break(link, "a", "b", start)


def test_step_down_without_a_peer_gives_up_and_keeps_serving() -> None:
    link = lone_master()
    router = link.routers["a"]
    bound = router.master_down_interval
    link.step_down("a")
    link.run_until(5.0 + bound + 2.0)
    assert state(link, "a") is State.MASTER and router.handover is None
    assert not link.events("a", UnbindVips)
    assert advertised(link, "a", 5.0 + bound + 0.5)[-1] == 150  # its real priority again


def test_repeated_priority_zero_adverts_do_not_push_back_skew_time() -> None:
    link = pair(b_priority=1)  # Skew_Time ~ 0.996 s: just under the 1 s advert interval
    start = link.clock.now
    link.maintenance("a", True)
    link.run_until(start + 3.0)
    took_over = first(link, "b", StateChanged, start)
    assert took_over - start == pytest.approx(link.routers["b"].skew_time)


def test_after_hearing_the_new_master_the_old_one_stops_advertising() -> None:
    link = pair(interval_cs=2)  # 20 ms adverts, the grace is still HANDOVER_GRACE
    start = link.clock.now
    link.maintenance("a", True)
    link.run_until(start + 1.0)
    took_over = first(link, "b", StateChanged, start)
    assert [at for at, _ in link.transmits("a") if at > took_over] == []
    assert first(link, "a", UnbindVips, start) - took_over == pytest.approx(HANDOVER_GRACE)


def test_a_held_backup_does_not_preempt_until_released() -> None:
    link = pair()
    link.routers["a"].hold(True)
    link.step_down("a")
    link.run_until(20.0)
    assert (state(link, "a"), state(link, "b")) == (State.BACKUP, State.MASTER)
    link.routers["a"].hold(False)
    released = link.clock.now
    link.run_until(released + 5.0)
    assert (state(link, "a"), state(link, "b")) == (State.MASTER, State.BACKUP)
    assert link.routers["a"].last_reason is Reason.PREEMPTED_LOWER_PRIORITY


def test_a_held_backup_still_takes_over_from_a_dead_master() -> None:
    link = pair()
    link.routers["b"].hold(True)
    link.crash("a")
    link.run_until(10.0)
    assert state(link, "b") is State.MASTER


def test_untrack_drops_a_tracker_as_if_it_had_recovered() -> None:
    link = pair()
    link.track("a", "proxy", fault=True)
    assert state(link, "a") is State.FAULT
    router = link.routers["a"]
    link._handle("a", router.untrack("proxy", link.clock.instant()))
    assert state(link, "a") is State.BACKUP and "proxy" not in router.contributions
    assert router.untrack("proxy", link.clock.instant()) == []


def test_a_stop_handover_can_be_bounded_below_master_down_interval() -> None:
    link = Link()
    link.add("a", make_config(150, A, interval_cs=1000))  # 10 s adverts: MDI over 30 s
    link.start("a")
    link.run_until(40.0)
    router = link.routers["a"]
    link._handle("a", router.shutdown(link.clock.instant(), handover=True, limit=2.0))
    link.run_until(41.99)
    assert state(link, "a") is State.MASTER
    link.run_until(42.0)
    assert state(link, "a") is State.INITIALIZE


# ---------------------------------------------------------------------- the neighbour window
# Both routers hold the VIPs for HANDOVER_GRACE after the new master's first advert. A client
# resolving the VIP then must learn the new master's MAC: the old one stops answering ARP/ND for
# the VIPs (it still accepts packets to them), and the new one announces again once the old one
# has released them, for clients that cached the old MAC before it fell silent.


def kinds_of(link: Link, name: str, since: float) -> list[tuple[float, str]]:
    watched = (StopAnswering, ResumeAnswering, BindVips, UnbindVips, Announce)
    return [
        (event.time, type(event.effect).__name__)
        for event in link.log
        if event.router == name and event.time >= since and isinstance(event.effect, watched)
    ]


def in_the_window() -> Link:
    """A hands over for maintenance; b has taken over, a still holds the VIPs (silent)."""
    link = pair()
    link.maintenance("a", True)
    link.run_until(link.clock.now + link.routers["b"].skew_time + HANDOVER_GRACE / 2)
    assert link.events("a", StopAnswering) and not link.events("a", UnbindVips)
    return link


def test_the_old_master_stops_answering_at_the_peers_first_advert_and_resumes_after_release() -> (
    None
):
    link = pair()
    start = link.clock.now
    link.maintenance("a", True)
    link.run_until(start + 0.5)  # priority 0 sent; b is still waiting for Skew_Time
    assert not link.events("a", StopAnswering)  # nobody else answers yet: keep answering
    link.run_until(start + 2.0)
    took_over = first(link, "b", StateChanged, start)
    silent = first(link, "a", StopAnswering, start)
    assert silent == pytest.approx(took_over)  # b's first advert is heard at once
    assert [kind for _, kind in kinds_of(link, "a", start)] == [
        "StopAnswering",
        "UnbindVips",
        "ResumeAnswering",  # only once the VIPs are gone: never answering for them meanwhile
    ]
    released = first(link, "a", UnbindVips, start)
    assert released - silent == pytest.approx(HANDOVER_GRACE)
    assert first(link, "a", ResumeAnswering, start) == released
    effect = link.events("a", StopAnswering)[0].effect
    assert effect == StopAnswering(link.routers["a"].config.vips)


def test_a_graceful_stop_falls_silent_the_same_way() -> None:
    link = pair(interval_cs=10)
    start = link.clock.now
    link.shutdown("a", handover=True)
    link.run_until(start + 1.0)
    assert state(link, "a") is State.INITIALIZE
    assert [kind for _, kind in kinds_of(link, "a", start)] == [
        "StopAnswering",
        "UnbindVips",
        "ResumeAnswering",
    ]


def test_a_stop_that_no_peer_took_over_never_falls_silent() -> None:
    link = lone_master()
    link.shutdown("a", handover=True)
    link.run_until(10.0)
    assert state(link, "a") is State.INITIALIZE
    assert not link.events("a", StopAnswering) and not link.events("a", ResumeAnswering)


def test_maintenance_off_after_the_peer_took_over_answers_again_before_announcing() -> None:
    link = in_the_window()
    back = link.clock.now
    link.maintenance("a", False)
    kinds = [kind for _, kind in kinds_of(link, "a", back)]
    assert kinds[:2] == ["ResumeAnswering", "Announce"]  # then b steps down: a answers it again
    assert set(kinds[2:]) <= {"Announce"}


def test_a_fault_while_silent_releases_then_answers_again() -> None:
    link = in_the_window()
    faulted = link.clock.now
    link.track("a", "link", fault=True)
    assert state(link, "a") is State.FAULT
    assert [kind for _, kind in kinds_of(link, "a", faulted)] == ["UnbindVips", "ResumeAnswering"]


def test_a_reload_while_silent_keeps_new_vips_silent_and_frees_removed_ones() -> None:
    link = in_the_window()
    router = link.routers["a"]
    old, extra = router.config.vips[0], ip_interface("192.0.2.101/24")
    effects = router.reconfigure(replace(router.config, vips=(extra,)), link.clock.instant())
    assert [e for e in effects if not isinstance(e, Transmit)] == [
        UnbindVips((old,)),
        ResumeAnswering((old,)),
        BindVips((extra,), False),
        StopAnswering((extra,)),
    ]


def test_the_new_master_announces_again_after_the_old_one_released() -> None:
    link = pair()
    start = link.clock.now
    link.maintenance("a", True)
    link.run_until(start + 3.0)
    took_over = first(link, "b", StateChanged, start)
    released = first(link, "a", UnbindVips, start)
    announced = [at for at, kind in kinds_of(link, "b", start) if kind == "Announce"]
    assert announced == [took_over, pytest.approx(took_over + REANNOUNCE_AFTER_HANDOVER)]
    assert announced[1] > released  # the repeat reaches clients that cached the old MAC
    assert REANNOUNCE_AFTER_HANDOVER > HANDOVER_GRACE


def test_a_master_that_took_over_from_a_dead_one_announces_once() -> None:
    link = pair()
    start = link.clock.now
    link.crash("a")
    link.run_until(start + 6.0)
    assert state(link, "b") is State.MASTER
    assert [kind for _, kind in kinds_of(link, "b", start)] == ["BindVips", "Announce"]


def test_a_new_master_that_steps_down_before_the_repeat_does_not_announce() -> None:
    link = in_the_window()
    link.track("b", "link", fault=True)
    link.run_until(link.clock.now + 3.0)
    assert [kind for _, kind in kinds_of(link, "b", 0.0)] == [  # b was backup until it took over
        "BindVips",
        "Announce",
        "UnbindVips",
    ]
