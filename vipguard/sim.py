"""A deterministic simulator: N virtual routers on a simulated link, in virtual time.

Each seed draws a schedule of faults (crashes and restarts, graceful stops at once or handing over
first, maintenance on and off, partitions, packet loss, priority changes, tracked-object faults,
timer jitter), runs it, heals everything (maintenance ends) and checks the invariants the protocol
promises:

* after the link heals and Master_Down_Interval + one interval (+ preempt delay) passes, exactly
  one master: the highest effective priority (ties: highest address), or, with preemption off,
  the incumbent: the best of the routers that were master at the heal or claimed it since;
* whenever a router is up and connected, its segment has a master within Master_Down_Interval +
  one interval;
* while a segment is connected and loss-free, never two masters for longer than one interval
  (plus the handover grace when one of them is handing its VIPs over: the overlap is deliberate,
  and in a chain of handovers each one gets its grace);
* no router holds VIPs outside Master;
* once converged, the last announcement (gratuitous ARP / NA) made since the heal came from the
  master, so clients send to it and not to a router that lost an election after the heal.
  (Clients that learned a minority side's master during a partition are announce.refresh's job.)

:class:`SyncSimulation` runs hosts that each have a front and a back router in one sync group,
aligned after every input by the agent's own rules (:mod:`vipguard.rules.sync_group`); its
docstring lists what it checks besides.

Only the protocol core and the pure rules are exercised; packets cross the simulated link as real
bytes. Run ``python -m vipguard.sim --seeds 10000`` (both kinds of schedule) or ``--seed N``
(``--sync`` for the sync-group schedule of that seed) for one timeline.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import heapq
import itertools
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from typing import assert_never

from .proto.auth import AntiReplay, AuthConfig, AuthKey
from .proto.effects import (
    Announce,
    BindVips,
    Effect,
    Rejected,
    ResumeAnswering,
    State,
    StateChanged,
    StopAnswering,
    Transmit,
    UnbindVips,
)
from .proto.packet import ReceivedPacket
from .proto.router import HANDOVER_GRACE, RouterConfig, VirtualRouter
from .proto.timers import Instant, master_down_interval
from .rules import sync_group as sync_rules

EPOCH_NS = 1_800_000_000 * 10**9
MAX_LATENCY = 0.003
MAX_JITTER = 0.005
CHECK_EVERY = 0.05
SLACK = MAX_LATENCY + MAX_JITTER + 0.01
VIP = IPv4Interface("192.0.2.100/24")
KEY = AuthKey(1, bytes(range(32)))


@dataclass(frozen=True, slots=True)
class Params:
    """What one schedule is made of; drawn from the seed."""

    seed: int
    routers: int
    interval_cs: int
    version: int
    preempt: bool
    preempt_delay: float
    authenticated: bool
    priorities: tuple[int, ...]
    chaos_until: float
    chaos_events: int

    @classmethod
    def draw(cls, seed: int) -> Params:
        rng = random.Random(seed)
        routers = rng.choice((2, 2, 3, 3, 4))
        version = rng.choice((2, 3, 3))
        interval = 100 if version == 2 else rng.choice((100, 50, 20))
        pool = (100, 100, 150, 200, 254, 255) if rng.random() < 0.1 else (100, 100, 150, 200, 50)
        return cls(
            seed=seed,
            routers=routers,
            interval_cs=interval,
            version=version,
            preempt=rng.random() < 0.75,
            preempt_delay=rng.choice((0.0, 0.0, 0.0, 2 * interval / 100)),
            authenticated=rng.random() < 0.3,
            priorities=tuple(rng.choice(pool) for _ in range(routers)),
            chaos_until=rng.uniform(10, 25) * interval / 100,
            chaos_events=rng.randint(2, 8),
        )


@dataclass(slots=True)
class Node:
    name: str
    config: RouterConfig
    router: VirtualRouter | None = None
    holds_vips: bool = False
    contribution: int = 0
    faulted: bool = False
    segment: int = 0
    generation: int = 0
    maintenance: bool = False
    stopping: bool = False  # handing over before it stops
    host: str = ""  # the machine it runs on (its sync group in SyncSimulation)
    network: int = 0  # which network (VRID) it serves; segments split a network

    @property
    def where(self) -> tuple[int, int]:
        """The part of which network it hears (a partition splits a network in segments)."""
        return self.network, self.segment

    @property
    def up(self) -> bool:
        return self.router is not None

    @property
    def state(self) -> State | None:
        return self.router.state if self.router else None

    @property
    def is_master(self) -> bool:
        return self.state is State.MASTER


@dataclass(order=True, slots=True)
class _Event:
    at: float
    order: int
    action: Callable[[], None] = field(compare=False)


@dataclass(slots=True)
class Result:
    params: Params
    violations: list[str]
    timeline: list[str]
    known_limits: list[str] = field(default_factory=list)  # outcomes the rules do not promise

    @property
    def ok(self) -> bool:
        return not self.violations


class Simulation:
    def __init__(self, params: Params) -> None:
        self.params = params
        self.rng = random.Random(params.seed * 7919 + 1)
        self.now = 0.0
        self.loss = 0.0
        self.nodes = [self._node(i) for i in range(params.routers)]
        self.timeline: list[str] = []
        self.violations: list[str] = []
        self.known_limits: list[str] = []  # outcomes the rules do not promise (SyncSimulation)
        self._queue: list[_Event] = []
        self._order = itertools.count()
        self._no_master_since: dict[tuple[int, int], float] = {}
        self._dual_since: dict[tuple[int, int], float] = {}
        self._dual_handover: set[tuple[int, int]] = set()  # duels that began as a handover
        self._dual_masters: dict[tuple[int, int], frozenset[str]] = {}
        self.healed_at: float | None = None
        self._claimants: list[Node] = []
        self.vip_changes: list[tuple[float, str, bool]] = []
        self.last_announcer: Node | None = None

    # ------------------------------------------------------------------ set-up

    def _node(self, index: int) -> Node:
        p = self.params
        auth = AuthConfig((KEY,), 1, anti_replay=AntiReplay.MONOTONIC) if p.authenticated else None
        config = RouterConfig(
            vrid=51,
            priority=p.priorities[index],
            vips=(VIP,),
            source=IPv4Address(f"192.0.2.{11 + index}"),
            version=p.version,
            interval_cs=p.interval_cs,
            preempt=p.preempt,
            preempt_delay=p.preempt_delay,
            auth=auth,
        )
        return Node(f"r{index + 1}", config)

    @property
    def interval(self) -> float:
        return self.params.interval_cs / 100

    def worst_master_down(self) -> float:
        """The longest Master_Down_Interval any router can have (lowest effective priority)."""
        return master_down_interval(1, self.params.interval_cs, self.params.version)

    # ------------------------------------------------------------------ event loop

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, _Event(when, next(self._order), action))

    def instant(self) -> Instant:
        return Instant(self.now, EPOCH_NS + round(self.now * 1e9))

    def run(self) -> Result:
        p = self.params
        for node in self.nodes:
            self.at(self.rng.uniform(0, self.interval), functools.partial(self.boot, node))
        for _ in range(p.chaos_events):
            self.at(self.rng.uniform(1, p.chaos_until), self.chaos)
        self.at(p.chaos_until + 0.001, self.heal)
        converged = p.chaos_until + self.convergence_bound()
        self.at(converged, self.check_converged)
        end = converged + 5 * self.interval
        for tick in range(int(end / CHECK_EVERY)):
            self.at(tick * CHECK_EVERY, self.check_running)
        while self._queue and not self.violations:
            event = heapq.heappop(self._queue)
            if event.at > end:
                break
            self.now = event.at
            event.action()
        return Result(p, self.violations, self.timeline, self.known_limits)

    def convergence_bound(self) -> float:
        """MDI + one interval; a preempt delay only starts counting once the lower master it
        tolerates has appeared (one MDI in), and then needs a full MDI of silence."""
        delayed = (
            self.params.preempt_delay + self.worst_master_down() if self.params.preempt_delay else 0
        )
        return self.worst_master_down() + self.interval + delayed + SLACK

    # ------------------------------------------------------------------ driving routers

    def apply(self, node: Node, effects: list[Effect]) -> None:
        for effect in effects:
            self.apply_one(node, effect)
        if node.stopping and node.state is State.INITIALIZE:
            node.router, node.stopping = None, False
        self.rearm(node)
        self.check_vips(node)
        if any(isinstance(effect, StateChanged) for effect in effects):
            self.check_running()

    def apply_one(self, node: Node, effect: Effect) -> None:
        """One effect on the simulated link; a new effect type fails type-checking here."""
        match effect:
            case Transmit():
                self.transmit(node, effect)
            case Announce():
                if self.healed_at is not None:
                    self.last_announcer = node
            case BindVips():
                self.set_holder(node, holds=True)
            case UnbindVips():
                self.set_holder(node, holds=False)
            case StateChanged():
                self.log(f"{node.name} {effect.old} -> {effect.new} ({effect.reason})")
                if effect.new is State.MASTER and self.healed_at is not None:
                    self._claimants.append(node)
            case StopAnswering() | ResumeAnswering() | Rejected():
                pass  # neighbour answers and refused packets change nothing on this link
            case _:
                assert_never(effect)

    def set_holder(self, node: Node, *, holds: bool) -> None:
        if node.holds_vips != holds:
            node.holds_vips = holds
            self.vip_changes.append((self.now, node.name, holds))

    def rearm(self, node: Node) -> None:
        node.generation += 1
        deadline = node.router.next_deadline() if node.router else None
        if deadline is not None:
            generation = node.generation
            jitter = self.rng.uniform(0, MAX_JITTER)
            self.at(max(deadline, self.now) + jitter, lambda: self.fire(node, generation))

    def fire(self, node: Node, generation: int) -> None:
        if node.router and generation == node.generation:
            self.apply(node, node.router.poll(self.instant()))

    def transmit(self, sender: Node, effect: Transmit) -> None:
        for node in self.nodes:
            if node is sender or node.where != sender.where or self.rng.random() < self.loss:
                continue
            packet = ReceivedPacket(sender.config.source, effect.destination, 255, effect.payload)
            delay = self.rng.uniform(0.0005, MAX_LATENCY)
            self.at(self.now + delay, functools.partial(self.deliver, node, packet))

    def deliver(self, node: Node, packet: ReceivedPacket) -> None:
        if node.router:
            self.apply(node, node.router.receive(packet, self.instant()))

    # ------------------------------------------------------------------ faults

    def boot(self, node: Node) -> None:
        node.router = VirtualRouter(node.config)
        now = self.instant()
        node.router.track("weight", now, contribution=node.contribution)
        node.router.track("object", now, fault=node.faulted)
        node.router.set_maintenance(node.maintenance, now)
        self.log(f"{node.name} starts (priority {node.router.priority})")
        self._no_master_since.pop(node.where, None)  # a fresh backup may wait a full MDI
        self.apply(node, node.router.start(now))

    def crash(self, node: Node) -> None:
        self.log(f"** {node.name} crashes")
        node.router, node.stopping = None, False
        self.set_holder(node, holds=False)
        self.rearm(node)
        self.check_running()

    def stop(self, node: Node, *, handover: bool = False) -> None:
        how = "handing over first" if handover else "at once"
        self.log(f"** {node.name} stops gracefully, {how}")
        assert node.router
        node.stopping = True
        self.apply(node, node.router.shutdown(self.instant(), handover=handover))

    def set_maintenance(self, node: Node, on: bool) -> None:
        self.log(f"** {node.name} maintenance {'on' if on else 'off'}")
        node.maintenance = on
        if not on:
            self._no_master_since.pop(node.where, None)  # it rejoins: a full MDI, as on boot
        if node.router:
            self.apply(node, node.router.set_maintenance(on, self.instant()))

    def set_tracker(self, node: Node, *, contribution: int, faulted: bool) -> None:
        if node.faulted and not faulted:
            self._no_master_since.pop(node.where, None)  # it waits a full MDI, as on boot
        node.contribution, node.faulted = contribution, faulted
        self.log(f"** {node.name} tracker: weight {contribution:+d}, fault {faulted}")
        if node.router:
            now = self.instant()
            self.apply(node, node.router.track("weight", now, contribution=contribution))
            self.apply(node, node.router.track("object", now, fault=faulted))

    def partition(self) -> None:
        for node in self.nodes:
            node.segment = self.rng.randint(0, 1)
        groups = [[n.name for n in self.nodes if n.segment == s] for s in (0, 1)]
        self.log(f"** partition {groups[0]} | {groups[1]}")
        self._reset_watch()

    def set_loss(self, loss: float) -> None:
        self.loss = loss
        self.log(f"** packet loss {loss:.0%}")

    def chaos(self) -> None:
        node = self.rng.choice(self.nodes)
        actions: list[Callable[[], None]] = [self.partition, lambda: self.set_loss(0.3)]
        if node.up and not node.stopping:
            actions += [lambda: self.crash(node), lambda: self.stop(node)]
            actions.append(lambda: self.stop(node, handover=True))
            actions.append(lambda: self.set_maintenance(node, not node.maintenance))
            weight = self.rng.choice((-60, -20, 0, 30, 120))
            actions.append(lambda: self.set_tracker(node, contribution=weight, faulted=False))
            actions.append(lambda: self.set_tracker(node, contribution=0, faulted=True))
        elif not node.up:
            actions.append(lambda: self.boot(node))
        self.rng.choice(actions)()

    def heal(self) -> None:
        self.log("** heal: link whole, no loss, every router up and fault-free")
        self.loss = 0.0
        for node in self.nodes:
            node.segment = 0
            if node.stopping:  # finish the stop now, so every router is freshly up
                self.stop(node)
            if node.maintenance:
                self.set_maintenance(node, False)
            if node.faulted:
                self.set_tracker(node, contribution=node.contribution, faulted=False)
            if not node.up:
                self.boot(node)
        self.healed_at = self.now
        self._claimants = [n for n in self.nodes if n.is_master]
        self._reset_watch()

    # ------------------------------------------------------------------ invariants

    def log(self, text: str) -> None:
        self.timeline.append(f"{self.now:9.4f}s  {text}")

    def violate(self, text: str) -> None:
        self.log(f"VIOLATION: {text}")
        self.violations.append(text)

    def _reset_watch(self) -> None:
        self._no_master_since.clear()
        self._dual_since.clear()

    def check_vips(self, node: Node) -> None:
        if node.holds_vips != node.is_master:
            self.violate(f"{node.name} holds VIPs={node.holds_vips} in state {node.state}")

    def segments(self) -> Iterator[tuple[tuple[int, int], list[Node]]]:
        for where in {n.where for n in self.nodes}:
            yield where, [n for n in self.nodes if n.where == where and n.up]

    def check_running(self) -> None:
        for segment, nodes in self.segments():
            eligible = [n for n in nodes if n.state in (State.BACKUP, State.MASTER)]
            masters = [n for n in nodes if n.is_master]
            self._watch(
                self._no_master_since,
                segment,
                bool(eligible) and not masters,
                self.worst_master_down() + self.interval + self.params.preempt_delay,
                "no master",
            )
            # A master handing over keeps its VIPs for a grace after hearing the new one; the
            # allowance holds for the whole episode (maintenance may end within the grace).
            dual = len(masters) > 1 and self.loss == 0
            if any(n.router and n.router.handover for n in masters):
                self._dual_handover.add(segment)
            elif not dual:
                self._dual_handover.discard(segment)
            grace = HANDOVER_GRACE if segment in self._dual_handover else 0.0
            holders = frozenset(n.name for n in masters)
            if grace and self._dual_masters.get(segment) != holders:
                self._dual_since.pop(segment, None)  # handovers in a chain: each one counts
            self._dual_masters[segment] = holders
            self._watch(
                self._dual_since,
                segment,
                dual,
                self.interval + grace,
                f"two masters {[n.name for n in masters]}",
            )

    def _watch(
        self,
        since: dict[tuple[int, int], float],
        segment: tuple[int, int],
        bad: bool,
        allowed: float,
        what: str,
    ) -> None:
        if not bad:
            since.pop(segment, None)
            return
        start = since.setdefault(segment, self.now)
        if self.now - start > allowed + SLACK:
            self.violate(f"{what} for {self.now - start:.3f}s (allowed {allowed:.3f}s)")

    def check_converged(self) -> None:
        masters = [n for n in self.nodes if n.is_master]
        if len(masters) != 1:
            self.violate(f"{len(masters)} masters after healing: {[n.name for n in masters]}")
            return
        expected = self.expected_master()
        if masters[0] is not expected:
            self.violate(f"master is {masters[0].name}, expected {expected.name}")
        elif self.last_announcer not in (None, expected):
            who = self.last_announcer.name if self.last_announcer else "nobody"
            self.violate(f"clients follow {who}'s announcement, not master {expected.name}'s")

    def expected_master(self) -> Node:
        """With preemption the best router; without, the best of those that claimed mastership
        since the heal (the incumbents: nobody may take over from them)."""
        candidates = self.nodes if self.params.preempt else self._claimants
        return max(candidates, key=_rank)


SYNC = sync_rules.SYNC_TRACKER
SIDES = (("front", 51, "192.0.2"), ("back", 52, "198.51.100"))
"""A sync group's two networks: name, VRID and /24 (each host is .11, .12, … on both)."""


def draw_sync_params(seed: int) -> Params:
    """A schedule of hosts that each run a front and a back router in one sync group: the
    priorities alternate front, back per host, mostly equal per host (the group's trackers move
    both sides), sometimes not (a host better on one side only)."""
    rng = random.Random(seed)
    base = Params.draw(seed)
    hosts = rng.choice((2, 2, 3))
    priorities: list[int] = []
    for _ in range(hosts):
        front = rng.choice((100, 100, 150, 200, 50))
        priorities += [front, front if rng.random() < 0.7 else rng.choice((100, 150, 200, 50))]
    return dataclasses.replace(base, routers=2 * hosts, priorities=tuple(priorities))


class SyncSimulation(Simulation):
    """Hosts that each run two routers in one sync group, a front and a back network; after
    every input a router's core handles, its host's group is aligned by the agent's own rules
    (:func:`vipguard.rules.sync_group.align`). Faults, weights and partitions hit one side or the
    whole host; crashes, stops and maintenance the whole host (one agent runs both routers).

    Besides the protocol's invariants on each network (no master, two masters, VIPs outside
    Master): a host with a member faulted by its own trackers is master of nothing; once healed
    and converged each network has one master and both are on the same host; with preemption
    and every side ranking the hosts alike, it is the best host.

    Two kinds of schedule end split under today's rules and are counted as known limits, not
    violations: with preemption off (each side goes to whichever host's timer fires first, and
    nobody is outranked by a worse master), and three hosts that rank differently per side (a
    third host takes over the side a master stepped down from, while its own other side is
    outranked: every host is held, nobody moves).
    """

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.hosts = {n.host: [m for m in self.nodes if m.host == n.host] for n in self.nodes}
        self._outranked: set[str] = set()  # members outranked at their group's last alignment
        self._aligning = False

    def _node(self, index: int) -> Node:
        node = super()._node(index)
        host, network = divmod(index, 2)
        side, vrid, net = SIDES[network]
        config = dataclasses.replace(
            node.config,
            vrid=vrid,
            vips=(IPv4Interface(f"{net}.100/24"),),
            source=IPv4Address(f"{net}.{11 + host}"),
        )
        return Node(f"h{host + 1}-{side}", config, host=f"h{host + 1}", network=network)

    # ------------------------------------------------------------------ the group's rules

    def apply(self, node: Node, effects: list[Effect]) -> None:
        """Effects, then the group aligned, as the agent's on_input observer does; effects fed
        while aligning are folded into that alignment."""
        if self._aligning:
            super().apply(node, effects)
            return
        self._aligning = True
        try:
            super().apply(node, effects)
            self.align(node.host)
        finally:
            self._aligning = False
        self.check_group(node.host)

    def align(self, host: str) -> None:
        """As the agent's SyncGroup.update: passes until nothing moves, at most four."""
        for _ in range(4):
            members = [n for n in self.hosts[host] if n.router]
            views = [self.view(n) for n in members]
            self._outranked.difference_update(n.name for n in self.hosts[host])
            self._outranked.update(
                n.name for n, v in zip(members, views, strict=True) if v.outranked
            )
            moved = [self.apply_action(members, a) for a in sync_rules.align(views)]
            if not any(moved):
                return

    def view(self, node: Node) -> sync_rules.MemberView:
        assert node.router
        return sync_rules.view(node.router, was_outranked=node.name in self._outranked)

    def apply_action(self, members: list[Node], action: sync_rules.SyncAction) -> bool:
        """One of the rules' actions on its member; whether it can have moved it."""
        node = members[action.member]
        assert node.router
        now = self.instant()
        match action:
            case sync_rules.PropagateFault(on=on):
                self.log(f"{node.name} sync-group fault {'on' if on else 'off'}")
                if not on:
                    self._no_master_since.pop(node.where, None)  # it rejoins, as on boot
                self.apply(node, node.router.track(SYNC, now, fault=on))
                return True
            case sync_rules.Hold(on=on):
                node.router.hold(on)
                return False
            case sync_rules.StepDown():
                self.log(f"{node.name} steps down for its sync group")
                self.apply(node, node.router.step_down(now))
                return True
            case _:
                assert_never(action)

    # ------------------------------------------------------------------ faults

    def boot(self, node: Node) -> None:
        self._outranked.discard(node.name)  # a new agent builds its groups afresh
        super().boot(node)

    def partition(self) -> None:
        """One network splits; the other stays whole."""
        network = self.rng.randint(0, 1)
        for node in self.nodes:
            if node.network == network:
                node.segment = self.rng.randint(0, 1)
        split = [n for n in self.nodes if n.network == network]
        groups = [[n.name for n in split if n.segment == s] for s in (0, 1)]
        self.log(f"** partition of {SIDES[network][0]} {groups[0]} | {groups[1]}")
        self._reset_watch()

    def chaos(self) -> None:
        host = self.hosts[self.rng.choice(sorted(self.hosts))]
        node = self.rng.choice(host)
        actions: list[Callable[[], None]] = [self.partition, lambda: self.set_loss(0.3)]
        if all(n.up and not n.stopping for n in host):
            actions.append(lambda: self.on_host(host, self.crash))
            actions.append(lambda: self.on_host(host, self.stop))
            actions.append(lambda: self.on_host(host, functools.partial(self.stop, handover=True)))
            on = not node.maintenance
            actions.append(lambda: self.on_host(host, lambda n: self.set_maintenance(n, on)))
            weight = self.rng.choice((-60, -20, 0, 30, 120))
            actions.append(lambda: self.on_host(host, lambda n: self.weigh(n, weight)))
            actions.append(lambda: self.weigh(node, weight))  # one side only
            actions.append(lambda: self.set_tracker(node, contribution=0, faulted=True))
            actions.append(lambda: self.set_tracker(node, contribution=0, faulted=False))
        elif not any(n.up for n in host):
            actions.append(lambda: self.on_host(host, self.boot))
        self.rng.choice(actions)()

    def on_host(self, host: list[Node], action: Callable[[Node], None]) -> None:
        for node in host:
            action(node)

    def weigh(self, node: Node, weight: int) -> None:
        self.set_tracker(node, contribution=weight, faulted=node.faulted)

    # ------------------------------------------------------------------ invariants

    def convergence_bound(self) -> float:
        """The protocol's bound, plus two step-downs: in each, a peer takes over within
        Skew_Time (under Master_Down_Interval) and an interval, and the master that stepped
        down keeps its VIPs for the handover grace; the host that loses a side this way may in
        turn step down its other side once."""
        step_down = self.worst_master_down() + HANDOVER_GRACE + self.interval
        return super().convergence_bound() + 2 * step_down

    def check_converged(self) -> None:
        masters = [[n for n in self.nodes if n.network == net and n.is_master] for net in (0, 1)]
        for (side, _vrid, _net), held in zip(SIDES, masters, strict=True):
            if len(held) != 1:
                self.violate(f"{len(held)} {side} masters after healing: {[n.name for n in held]}")
        if self.violations:
            return
        front, back = masters[0][0], masters[1][0]
        ranked_alike = self.ranking(0) == self.ranking(1)
        if front.host != back.host:
            split = f"sync group split: {front.name} and {back.name} are master"
            if not self.params.preempt or (len(self.hosts) > 2 and not ranked_alike):
                self.log(f"known limit: {split}")
                self.known_limits.append(split)
            else:
                self.violate(split)
        elif self.params.preempt and ranked_alike and front.host != self.ranking(0)[-1]:
            self.violate(f"master is {front.host}, expected the best host {self.ranking(0)[-1]}")

    def check_running(self) -> None:
        super().check_running()
        if not self._aligning:  # mid-alignment the group is not in line yet, by design
            for host in self.hosts:
                self.check_group(host)

    def check_group(self, host: str) -> None:
        """The group's fault is on every member at once: a host with a member faulted by
        itself is master of nothing."""
        members = self.hosts[host]
        faulted = [n.name for n in members if n.router and set(n.router.faulted) - {SYNC}]
        masters = [n.name for n in members if n.is_master]
        if faulted and masters:
            self.violate(f"{host}: {masters} master while {faulted} is faulted")

    def ranking(self, network: int) -> list[str]:
        """The hosts from worst to best on one network, by their routers' effective priority."""
        return sorted(self.hosts, key=lambda host: _rank(self.hosts[host][network]))


def _rank(node: Node) -> tuple[int, int]:
    assert node.router
    return node.router.priority, int(node.config.source)


def run_seed(seed: int, *, sync: bool = False) -> Result:
    """One schedule: of single routers, or (``sync``) of hosts with a two-router sync group."""
    if sync:
        return SyncSimulation(draw_sync_params(seed)).run()
    return Simulation(Params.draw(seed)).run()


def run_many(first: int, count: int, *, sync: bool = False) -> list[Result]:
    seeds = range(first, first + count)
    return [result for seed in seeds if not (result := run_seed(seed, sync=sync)).ok]


def describe(result: Result) -> str:
    lines = [f"seed {result.params.seed}: {result.params}", *result.timeline]
    return "\n".join(lines)


def outages(changes: list[tuple[float, str, bool]]) -> list[tuple[float, float]]:
    """(start, length) of every stretch in which no router held the VIPs, after the first bind."""
    holders: set[str] = set()
    gaps: list[tuple[float, float]] = []
    lost_at: float | None = None
    for at, name, holds in changes:
        if holds:
            holders.add(name)
            if lost_at is not None:
                gaps.append((lost_at, at - lost_at))
                lost_at = None
        else:
            holders.discard(name)
            if not holders:
                lost_at = at
    return gaps


def demo() -> int:
    """A two-router pair at 100 ms adverts: crash of the master, its return, a graceful stop."""
    params = Params(
        seed=0,
        routers=2,
        interval_cs=10,
        version=3,
        preempt=True,
        preempt_delay=0.0,
        authenticated=True,
        priorities=(150, 100),
        chaos_until=5.0,
        chaos_events=0,
    )
    simulation = Simulation(params)
    r1 = simulation.nodes[0]
    simulation.at(2.0, lambda: simulation.crash(r1))
    simulation.at(3.0, lambda: simulation.boot(r1))
    simulation.at(4.0, lambda: simulation.stop(r1))
    result = simulation.run()
    print("Simulated pair r1 (priority 150) and r2 (priority 100), VRRPv3, 100 ms adverts, HMAC")
    print("\n".join(result.timeline))
    print("\nVIP outages (no router holding 192.0.2.100):")
    mdi = master_down_interval(100, params.interval_cs, params.version)
    for start, length in outages(simulation.vip_changes):
        print(f"  at {start:7.3f}s for {length * 1000:6.1f} ms")
    skew = mdi - 3 * params.interval_cs / 100
    print(
        f"Bounds: crash <= Master_Down_Interval of r2 = {mdi * 1000:.1f} ms; graceful stop <="
        f" Skew_Time = {skew * 1000:.1f} ms (each + up to {SLACK * 1000:.0f} ms of simulated"
        " latency and timer jitter)"
    )
    print("invariants:", "held" if result.ok else f"VIOLATED: {result.violations}")
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vipguard.sim", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=2000, help="how many schedules to run")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--seed", type=int, help="run one seed and print its timeline")
    parser.add_argument(
        "--sync", action="store_true", help="with --seed: the sync-group schedule of that seed"
    )
    args = parser.parse_args(argv)
    if args.seed is not None:
        result = run_seed(args.seed, sync=args.sync)
        print(describe(result))
        return 0 if result.ok else 1
    failed = False
    for sync, kind in ((False, "schedules"), (True, "sync-group schedules (--sync)")):
        started = time.monotonic()
        seeds = range(args.first, args.first + args.seeds)
        results = [run_seed(seed, sync=sync) for seed in seeds]
        failures = [result for result in results if not result.ok]
        for failure in failures[:3]:
            print(describe(failure), end="\n\n")
        took = time.monotonic() - started
        limits = sum(bool(result.known_limits) for result in results)
        known = f", {limits} ended in a known limit" if sync else ""
        print(f"{args.seeds} {kind}, {len(failures)} with violations{known}, {took:.1f}s")
        failed = failed or bool(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
