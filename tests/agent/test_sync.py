"""Sync groups on two in-memory networks (a front and a back side), each with routers a and b:
the members of a group on one host always end in the same state."""

from __future__ import annotations

import random
from ipaddress import ip_interface
from typing import Any

import pytest
from routerkit import Link, make_config

from vipguard.agent.sync import SYNC_TRACKER, SyncGroup
from vipguard.proto.effects import Reason, State
from vipguard.proto.router import VirtualRouter


class Member:
    """The part of a RouterDriver a sync group uses, over a routerkit Link."""

    def __init__(self, link: Link, node: str, side: str) -> None:
        self.link, self.node, self.name = link, node, f"{node}-{side}"

    @property
    def router(self) -> VirtualRouter:
        return self.link.routers[self.node]

    def track(self, name: str, **change: Any) -> None:
        self.link.track(self.node, name, **change)

    def hold(self, held: bool) -> None:
        self.router.hold(held)

    def step_down(self) -> None:
        self.link.step_down(self.node)


class Sides:
    def __init__(
        self, a: int = 150, b: int = 100, a_back: int | None = None, b_back: int | None = None
    ) -> None:
        self.front, self.back = Link(), Link()
        self.back.clock = self.front.clock  # one time for both networks
        self.members: dict[str, Member] = {}
        sides = (
            ("front", self.front, "192.0.2", a, b),
            ("back", self.back, "198.51.100", a_back or a, b_back or b),
        )
        for side, link, net, a_priority, b_priority in sides:
            vips = (ip_interface(f"{net}.100/24"),)
            link.add("a", make_config(a_priority, f"{net}.2", vips=vips))
            link.add("b", make_config(b_priority, f"{net}.3", vips=vips))
            for node in ("a", "b"):
                self.members[f"{node}-{side}"] = Member(link, node, side)
        self.groups = [
            SyncGroup(node, [self.members[f"{node}-front"], self.members[f"{node}-back"]])  # type: ignore[list-item]
            for node in ("a", "b")
        ]
        for link in (self.front, self.back):
            link.observers.append(self.update)
            for node in ("a", "b"):
                link.start(node)

    def update(self) -> None:
        for group in self.groups:
            group.update()

    def run(self, seconds: float) -> None:
        end = self.front.clock.now + seconds
        while self.front.clock.now < end:  # both links, deadline by deadline
            step = min(end, self.front.clock.now + 0.01)
            for link in (self.front, self.back):
                link.run_until(step)
                link.clock.now = step

    def states(self) -> dict[str, str]:
        return {name: member.router.state.value for name, member in self.members.items()}


def host_states(sides: Sides, node: str) -> tuple[State, State]:
    return sides.members[f"{node}-front"].router.state, sides.members[f"{node}-back"].router.state


def test_the_best_host_is_master_on_both_sides() -> None:
    sides = Sides()
    sides.run(6)
    assert host_states(sides, "a") == (State.MASTER, State.MASTER)
    assert host_states(sides, "b") == (State.BACKUP, State.BACKUP)


def track_host(sides: Sides, node: str, **change: Any) -> None:
    """A tracker of the whole group (the runtime gives each member the group's trackers)."""
    for side in ("front", "back"):
        sides.members[f"{node}-{side}"].track("proxy", **change)


def test_a_host_losing_priority_hands_over_both_sides() -> None:
    sides = Sides()
    sides.run(6)
    track_host(sides, "a", contribution=-100)  # a now 50 < 100 on both sides
    sides.run(6)
    assert host_states(sides, "a") == (State.BACKUP, State.BACKUP), sides.states()
    assert host_states(sides, "b") == (State.MASTER, State.MASTER)


def test_a_member_outranked_on_one_side_takes_the_other_side_with_it() -> None:
    # a wins the front (150 > 100) but loses the back (90 < 120): the group may not split.
    sides = Sides(a=150, b=100, a_back=90, b_back=120)
    sides.run(8)
    assert host_states(sides, "b") == (State.MASTER, State.MASTER), sides.states()
    assert host_states(sides, "a") == (State.BACKUP, State.BACKUP)


def add_front_router(sides: Sides, priority: int = 200) -> None:
    """A third router, on the front network only, better than both hosts there."""
    sides.front.add("c", make_config(priority, "192.0.2.4", vips=(ip_interface("192.0.2.100/24"),)))
    sides.front.start("c")


def test_a_master_steps_down_when_its_group_mate_is_outranked() -> None:
    sides = Sides()
    sides.run(6)
    add_front_router(sides)
    sides.run(6)
    assert sides.front.routers["c"].state is State.MASTER
    assert host_states(sides, "a") == (State.BACKUP, State.BACKUP), sides.states()
    assert sides.members["a-back"].router.last_reason is Reason.SYNC_GROUP
    assert sides.members["b-back"].router.state is State.MASTER  # took over after Skew_Time
    sides.run(10)  # held: a-back (150) does not preempt b-back (100)
    assert sides.members["a-back"].router.state is State.BACKUP


def test_when_the_outranked_member_recovers_the_group_moves_back_together() -> None:
    sides = Sides()
    sides.run(6)
    add_front_router(sides)
    sides.run(6)
    sides.front.crash("c")
    sides.run(8)
    assert host_states(sides, "a") == (State.MASTER, State.MASTER), sides.states()
    assert host_states(sides, "b") == (State.BACKUP, State.BACKUP)


def test_an_asymmetric_change_does_not_split_the_group() -> None:
    # b-front now outranks a-front, but b-back is still outranked by a-back: b's group is held,
    # so the incumbent keeps both sides rather than the two hosts fighting over them.
    sides = Sides()
    sides.run(6)
    sides.members["b-front"].track("boost", contribution=100)
    sides.run(10)
    assert host_states(sides, "a") == (State.MASTER, State.MASTER), sides.states()
    assert host_states(sides, "b") == (State.BACKUP, State.BACKUP)


def test_a_fault_on_one_side_faults_the_whole_group_until_it_clears() -> None:
    sides = Sides()
    sides.run(6)
    sides.members["a-back"].track("link", fault=True)
    assert host_states(sides, "a") == (State.FAULT, State.FAULT)
    assert sides.members["a-front"].router.faulted == (SYNC_TRACKER,)
    sides.run(2)
    assert host_states(sides, "b") == (State.MASTER, State.MASTER)
    sides.members["a-back"].track("link", fault=False)
    sides.run(6)
    assert host_states(sides, "a") == (State.MASTER, State.MASTER), sides.states()


def test_a_held_member_still_takes_over_a_side_whose_peer_died() -> None:
    sides = Sides(a=100, b=150)
    sides.run(6)
    assert host_states(sides, "b") == (State.MASTER, State.MASTER)
    sides.back.crash("b")  # b's back side is gone, its front still outranks a
    sides.run(6)
    assert host_states(sides, "a") == (State.BACKUP, State.MASTER), sides.states()


def test_rebuilding_a_split_group_makes_nobody_step_down() -> None:
    # As after a reload: b's back side is dead, so a serves the back while b keeps the front.
    sides = Sides(a=100, b=150)
    sides.run(6)
    sides.back.crash("b")
    sides.run(6)
    assert host_states(sides, "a") == (State.BACKUP, State.MASTER)
    members = sides.groups[0].members
    sides.groups[0] = SyncGroup("a", members)  # rebuilt, a-front still outranked
    sides.update()
    assert sides.members["a-back"].router.handover is None  # no step-down started
    sides.run(2)
    assert host_states(sides, "a") == (State.BACKUP, State.MASTER), sides.states()


@pytest.mark.parametrize("seed", range(100))
def test_random_priority_shifts_and_faults_never_split_a_host(seed: int) -> None:
    """Priority shifts of a whole host (the group's trackers) or of one side, and faults on
    either side, at random: once settled, each host's two members share one state and each
    side has one master."""
    rng = random.Random(seed)
    sides = Sides(a=rng.choice([100, 150, 200]), b=rng.choice([100, 150, 200]))
    sides.run(6)
    for _ in range(6):
        host, side = rng.choice("ab"), rng.choice(["front", "back"])
        roll = rng.random()
        if roll < 0.4:
            track_host(sides, host, contribution=rng.choice([-120, -40, 0, 30]))
        elif roll < 0.7:  # one side only: the group must still not split
            shift = rng.choice([-120, -40, 0, 30])
            sides.members[f"{host}-{side}"].track("side", contribution=shift)
        else:
            sides.members[f"{host}-{side}"].track("link", fault=rng.random() < 0.5)
        sides.run(rng.choice([0.05, 0.4, 6]))
        sides.run(8)  # settled
        for node in "ab":
            front, back = host_states(sides, node)
            assert front is back, (seed, sides.states())
        masters = [s for s in sides.states().values() if s == "master"]
        all_faulted = all(s == "fault" for s in sides.states().values())
        assert all_faulted or len(masters) == 2, (seed, sides.states())
