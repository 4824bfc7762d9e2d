"""One driver per virtual router: feeds it inputs, executes its effects in order, keeps its timer.

Inputs run synchronously on the event loop (the core is pure and fast). Adverts go out at once,
so they never wait behind netlink work; every other effect is queued and executed strictly in
order by one worker task, so a VIP is bound before it is announced and released only after the
priority-0 advert has left.

Observers look on without sitting on the decision path: ``on_input`` right after the core
handled an input (sync groups coordinate their members there), ``on_transition`` when a state
change is executed, in order with the binds and releases before it (hooks and the event stream),
and ``on_signed`` with the sequence of each signed advert sent (its high-water mark is saved).
``on_wake`` is told of each advert heard and each timer fired: the systemd watchdog rides on
these wake-ups instead of waking the loop itself.

Held repeats: while the core says which datagram's repeats would only restart its Master_Down
timer (``steady``), its sockets hold them back (``on_steady`` tells them) and hand them over when
``catch_up`` is called, which every input does first, the timer included: an idle backup wakes at
its Master_Down deadlines, and there learns from the repeats' arrival times that the master is
still there.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

from ..io.clock import Clock
from ..io.nftables import NeighbourSuppression, NftablesError
from ..proto.addresses import IPAddress, IPInterface
from ..proto.effects import (
    Announce,
    BindVips,
    Effect,
    Reason,
    Rejected,
    ResumeAnswering,
    State,
    StateChanged,
    StopAnswering,
    Transmit,
    UnbindVips,
)
from ..proto.packet import ReceivedPacket
from ..proto.router import RouterConfig, VirtualRouter
from ..proto.timers import Instant
from . import logs
from .changes import Changes
from .kernel import AnnouncerPort, NetlinkPort, SocketPort

WARNING_PERIOD = 10.0
NETLINK_TIMEOUT = 2.0
NETLINK_RETRY_DELAYS = (0.0, 0.05, 0.25)
BIND_TRACKER = "vip-bind"
SOURCE_TRACKER = "source-address"
TAKEOVER_REASONS = frozenset(
    {
        Reason.MASTER_DOWN_TIMER_EXPIRED,
        Reason.PRIORITY_ZERO_RECEIVED,
        Reason.PREEMPTED_LOWER_PRIORITY,
    }
)
BIND_RETRY_AFTER = 5.0
UNBIND_RETRY_AFTER = 1.0
STOP_TIMEOUT = 8.0  # one VIP may take 3 attempts of 2 s
HANDOVER_SLACK = 1.0  # beyond the core's own bound (Master_Down_Interval) on a handover
HANDOVER_LIMIT = 10.0  # a stop never waits longer for a peer (long intervals: systemd's patience)


@dataclass(slots=True)
class Counters:
    adverts_in: int = 0
    adverts_out: int = 0
    send_errors: int = 0
    transitions: int = 0
    announcements: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    transitions_by: Counter[tuple[str, str, str]] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class AnnouncePolicy:
    count: int = 5
    interval: float = 0.02
    refresh: float = 0.0


@dataclass(frozen=True, slots=True)
class Egress:
    """Where one router's VIPs live and where its adverts and announcements leave from: the
    configured interface, or its virtual-MAC macvlan (up only while master; ``parent_sender``,
    the configured interface's socket, sends what must leave while it is down)."""

    interface: str
    interface_index: int
    vip_index: int
    sender: SocketPort
    announcer: AnnouncerPort
    vmac: str | None = None
    parent_sender: SocketPort | None = None


class RouterDriver:
    def __init__(
        self,
        *,
        name: str,
        router: VirtualRouter,
        egress: Egress,
        netlink: NetlinkPort,
        clock: Clock,
        labels: dict[IPInterface, str | None],
        announce: AnnouncePolicy,
        on_failure: Callable[[BaseException], None] = lambda error: None,
        on_input: Callable[[RouterDriver], None] = lambda driver: None,
        on_transition: Callable[[RouterDriver, StateChanged], None] = lambda driver, change: None,
        on_signed: Callable[[RouterDriver, int], None] = lambda driver, sequence: None,
        on_wake: Callable[[], None] = lambda: None,
        suppression: NeighbourSuppression | None = None,
    ) -> None:
        self.name, self.router, self.egress = name, router, egress
        self._netlink, self._clock, self._labels = netlink, clock, labels
        self._announce_policy = announce
        self._suppression = suppression  # None: unavailable on this host (logged at start)
        self._on_failure = on_failure
        self.on_input, self.on_transition, self.on_signed = on_input, on_transition, on_signed
        self._on_wake = on_wake
        # Held repeats, wired by the ports it listens on.
        self.steady: ReceivedPacket | None = None
        self.catch_up: Callable[[], None] = lambda: None
        self.on_steady: Callable[[RouterDriver], None] = lambda driver: None
        self._changes = Changes()
        self.counters = Counters()
        self.bound: set[IPInterface] = set()
        self.last_transition: dict[str, Any] | None = None
        self.last_advert_heard: float | None = None  # monotonic, from another router
        self.last_failover: float | None = None  # seconds, last advert heard → VIPs announced
        self._takeover_from: float | None = None
        self._queue: asyncio.Queue[Effect] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        self._announcing: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._handles: list[asyncio.TimerHandle] = []
        self._warnings = logs.RateLimiter(WARNING_PERIOD)
        self._vmac_up = False  # the virtual-MAC macvlan (created down), if there is one

    def hears(self, sock: SocketPort) -> bool:
        """Whether an advert read from ``sock`` is for this router now. A virtual-MAC router
        listens for multicast adverts on its macvlan and on the parent: while the macvlan is up
        it gets a copy of every one the parent gets, plus alone those sent from its virtual MAC;
        while it is down only the parent gets them. Reading one side keeps each advert from
        counting twice (a replay, with authentication)."""
        if self.egress.vmac is None or self.router.config.peers:  # unicast: the parent only
            return True
        return (sock is self.egress.sender) == self._vmac_up

    @property
    def family(self) -> int:
        return 6 if self.router.config.source.version == 6 else 4

    # ------------------------------------------------------------------ inputs

    def start(self, *, link_up: bool, source_present: bool = True) -> None:
        self._worker = asyncio.create_task(self._work(), name=f"driver-{self.name}")
        now = self._clock.now()
        self._feed(self.router.track(self._link_tracker, now, fault=not link_up))
        self._feed(self.router.track(SOURCE_TRACKER, now, fault=not source_present))
        self._feed(self.router.start(now))

    def on_packet(self, packet: ReceivedPacket) -> None:
        """A datagram read from a socket (which caught up with its held repeats first)."""
        self._on_wake()
        self._heard(packet, self._clock.now(), 1)

    def on_repeats(self, packet: ReceivedPacket, at: float, count: int) -> None:
        """``count`` repeats of ``packet`` held back by a socket, the last arrived ``at``."""
        now = self._clock.now()
        self._heard(packet, now.after(min(at, now.monotonic) - now.monotonic), count)

    def _heard(self, packet: ReceivedPacket, now: Instant, count: int) -> None:
        heard_before = self.router.master
        effects = self.router.receive(packet, now)
        if not any(isinstance(effect, Rejected) for effect in effects):
            self.counters.adverts_in += count
            self.last_advert_heard = now.monotonic
            if logs.debugging() and self.router.master != heard_before:  # not per advert
                self._debug_master_heard(packet)
        self._feed(effects)

    def _debug_master_heard(self, packet: ReceivedPacket) -> None:
        master = self.router.master
        logs.debug(
            "master_heard",
            instance=self.name,
            source=packet.source,
            master=None if master is None else master.address,
            priority=None if master is None else master.priority,
            master_advert_interval_ms=self.router.master_adver_interval_cs * 10,
            state=self.router.state.value,
        )

    def on_link(self, up: bool) -> None:
        self.track(self._link_tracker, fault=not up)

    def track(self, name: str, *, contribution: int = 0, fault: bool = False) -> None:
        """A tracked object changed: its weight contribution, or whether it faults the router."""
        self._input(
            lambda now: self.router.track(name, now, contribution=contribution, fault=fault)
        )

    def untrack(self, name: str) -> None:
        self._input(lambda now: self.router.untrack(name, now))

    def set_maintenance(self, on: bool) -> None:
        """Hand the VIPs to a peer and stay out of the election (on), or rejoin it (off)."""
        self._input(lambda now: self.router.set_maintenance(on, now))

    def hold(self, held: bool) -> None:
        self.catch_up()
        self.router.hold(held)
        self._steady_changed()

    def step_down(self) -> None:
        self._input(self.router.step_down)

    def _input(self, handle: Callable[[Instant], list[Effect]]) -> None:
        """Hand the core one input at the current time, after the repeats held back before it."""
        self.catch_up()
        self._feed(handle(self._clock.now()))

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Whether ``condition`` (of the router) held within ``timeout``; re-checked after
        every input the core handles."""
        return await self._changes.wait_until(condition, timeout)

    def reconfigure(
        self,
        config: RouterConfig,
        announce: AnnouncePolicy,
        labels: dict[IPInterface, str | None],
    ) -> bool:
        """Apply a reloaded configuration; False (and nothing done) when nothing changed."""
        if (config, announce, labels) == (self.router.config, self._announce_policy, self._labels):
            return False
        self._announce_policy, self._labels = announce, labels
        self._input(lambda now: self.router.reconfigure(config, now))
        return True

    def on_address(self, index: int, address: IPAddress, added: bool) -> None:
        """The kernel added or removed an address somewhere on this host."""
        if address == self.router.config.source and index == self.egress.interface_index:
            # Without its source address this node can neither send nor be told apart: fault,
            # so a peer takes over, until the address is back.
            self._input(lambda now: self.router.track(SOURCE_TRACKER, now, fault=not added))
        elif not added and index == self.egress.vip_index:
            self._vip_removed(address)

    def _vip_removed(self, address: IPAddress) -> None:
        lost = [vip for vip in self.bound if vip.ip == address]
        if not lost:
            return  # not ours, or our own unbind
        self.bound.difference_update(lost)
        logs.event("vip_removed_externally", logging.WARNING, instance=self.name, vip=address)
        if self.router.state is State.MASTER:  # put it back and tell the neighbours again
            accept = self.router.config.accept
            self._queue.put_nowait(BindVips(tuple(lost), accept))
            self._queue.put_nowait(Announce(tuple(lost)))

    async def drained(self, timeout: float) -> bool:
        """Whether every queued effect (binds, releases) was executed within ``timeout``."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self, *, handover: bool = True) -> None:
        """Graceful stop: priority 0 if master, and (``handover``) keep the VIPs until a peer has
        taken over them, at most Master_Down_Interval (and HANDOVER_LIMIT); release them, then
        end the worker (bounded: a hung netlink call must not keep systemd waiting until it kills
        us)."""
        self._input(lambda now: self.router.shutdown(now, handover=handover, limit=HANDOVER_LIMIT))
        bound = min(self.router.master_down_interval, HANDOVER_LIMIT) + HANDOVER_SLACK
        if not await self.wait_until(lambda: self.router.state is State.INITIALIZE, bound):
            self._input(self.router.shutdown)  # cannot happen: the core bounds it
        if not await self.drained(STOP_TIMEOUT):
            logs.event("stop_timed_out", logging.ERROR, instance=self.name, bound=len(self.bound))
        self._cancel_timer()
        for handle in self._handles:
            handle.cancel()
        for task in (self._announcing, self._worker):
            if task:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._announcing, self._worker) if t), return_exceptions=True
        )
        for vip in list(self.bound):  # one last try: nothing will track this VIP after us
            if await self._netlink_call(
                "unbind", vip, self._netlink.remove_address, self.egress.vip_index, vip
            ):
                self.bound.discard(vip)
            else:
                logs.event("vip_left_bound", logging.CRITICAL, instance=self.name, vip=vip)

    @property
    def _link_tracker(self) -> str:
        return f"interface:{self.egress.interface}"

    # ------------------------------------------------------------------ timer

    def _feed(self, effects: list[Effect]) -> None:
        self._rearm()
        for effect in effects:
            if isinstance(effect, Rejected):
                self._rejected(effect)
            elif isinstance(effect, Transmit) and not self._advert_waits_for_vmac():
                self._transmit(effect)  # adverts never wait behind netlink work
            else:
                self._queue.put_nowait(effect)
        self._changes.notify()
        self._steady_changed()
        self._observe(self.on_input, self)

    def _steady_changed(self) -> None:
        steady = self.router.steady_repeat()
        if steady is not self.steady and steady != self.steady:
            self.steady = steady
            self._observe(self.on_steady, self)

    def _advert_waits_for_vmac(self) -> bool:
        """A new master's adverts wait until its VIPs are bound and its macvlan is up: from
        the virtual MAC, an advert draws the clients' traffic here, and it tells the old master
        to let go, which must not happen before we can answer."""
        return (
            self.egress.vmac is not None and not self._vmac_up and self.router.state is State.MASTER
        )

    def _observe(self, observer: Callable[..., None], *args: Any) -> None:
        """Observers must never break the protocol: a failure is logged (once per period,
        it may repeat on every input), not raised."""
        try:
            observer(*args)
        except Exception as error:
            held = self._warnings.allow(("observer_failed", None), self._clock.now().monotonic)
            if held is not None:
                logs.event(
                    "observer_failed",
                    logging.ERROR,
                    instance=self.name,
                    error=repr(error),
                    suppressed=held,
                )

    def _rearm(self) -> None:
        deadline = self.router.next_deadline()
        if self._timer and deadline == self._timer.when():
            return
        self._cancel_timer()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        self._on_wake()
        self.catch_up()  # the repeats held since, which may have pushed the deadline back
        if self._timer is not None:
            return
        try:
            effects = self.router.poll(self._clock.now())
        except Exception as error:  # a bug in the core: stop safely rather than run on blind
            logs.event("core_failed", logging.CRITICAL, instance=self.name, error=repr(error))
            self._on_failure(error)
            return
        self._feed(effects)

    # ------------------------------------------------------------------ effects

    def _transmit(self, effect: Transmit) -> None:
        # Only a master holding the virtual MAC speaks from it: the last advert of an outranked
        # or stopping one leaves from the parent (from the virtual MAC, it would pull the
        # clients back to a node that is letting go).
        sender = self.egress.sender
        if self.egress.parent_sender is not None and not (
            self._vmac_up and self.router.state is State.MASTER
        ):
            sender = self.egress.parent_sender
        try:
            sender.send(effect.payload, self.router.config.source, effect.destination)
            self.counters.adverts_out += 1
        except OSError as error:
            self.counters.send_errors += 1
            self._warn("send_failed", error=error.strerror)
        authenticator = self.router.wire.authenticator
        if authenticator is not None and authenticator.sequences.last_sent is not None:
            self._observe(self.on_signed, self, authenticator.sequences.last_sent)

    def _rejected(self, effect: Rejected) -> None:
        self.counters.rejected[effect.reason.value] += 1
        if logs.debugging():  # every one (a flood is possible); the warning is rate-limited
            reason, source = effect.reason.value, effect.source
            logs.debug("packet_rejected", instance=self.name, reason=reason, source=source)
        self._warn("advert_rejected", reason=effect.reason.value, source=effect.source)

    def _warn(self, event: str, **fields: object) -> None:
        """A warning that a misbehaving peer or link could repeat: one line per period."""
        key = (event, fields.get("reason"))
        held = self._warnings.allow(key, self._clock.now().monotonic)
        if held is not None:
            logs.event(event, logging.WARNING, instance=self.name, suppressed=held, **fields)

    async def _work(self) -> None:
        while True:
            effect = await self._queue.get()
            try:
                await self._execute(effect)
            except Exception as error:  # an adapter failed: log it, keep the protocol running
                logs.event("effect_failed", logging.ERROR, instance=self.name, error=repr(error))
            finally:
                self._queue.task_done()

    async def _execute(self, effect: Effect) -> None:
        if isinstance(effect, BindVips):
            await self._bind(effect.vips)
        elif isinstance(effect, UnbindVips):
            await self._unbind(effect.vips)
        elif isinstance(effect, Announce):
            self._start_announcing(effect)
        elif isinstance(effect, StopAnswering):
            self._stop_announcing()  # refreshes would tell clients our MAC all the same
            await self._set_answering(effect.vips, answer=False)
        elif isinstance(effect, ResumeAnswering):
            await self._set_answering(effect.vips, answer=True)
        elif isinstance(effect, StateChanged):
            self._state_changed(effect)
        elif isinstance(effect, Transmit):  # a first advert that waited for the macvlan
            if self.router.state is State.MASTER:  # stale once we left
                self._transmit(effect)
        elif isinstance(effect, Rejected):
            raise TypeError(f"{effect!r} is handled when fed, never queued")
        else:
            assert_never(effect)

    async def _set_answering(self, vips: tuple[IPInterface, ...], *, answer: bool) -> None:
        """Whether this host answers ARP / ND for ``vips``. If it cannot be kept from answering,
        the handover goes on as before: a client resolving a VIP in the next moments may cache
        our MAC, but the new master announces again once we have released it."""
        if self._suppression is None:
            return
        change = self._suppression.restore if answer else self._suppression.silence
        for vip in vips:
            try:
                await asyncio.to_thread(change, vip.ip)
            except NftablesError as error:
                self._warn("neighbour_suppression_failed", vip=vip, error=str(error))
                if answer:  # never leave a VIP unanswered: a later master could not be found
                    self._later(UNBIND_RETRY_AFTER, self._retry_answering, vips)
                return
        event = "vip_answers_resumed" if answer else "vip_answers_stopped"
        logs.event(event, instance=self.name, vips=",".join(map(str, vips)))

    async def _bind(self, vips: tuple[IPInterface, ...]) -> None:
        if self.router.last_reason in TAKEOVER_REASONS and self.last_advert_heard is not None:
            self._takeover_from = self.last_advert_heard  # the old master's last word
        index = self.egress.vip_index
        for vip in vips:
            label = self._labels.get(vip)
            if not await self._netlink_call(
                "bind", vip, self._netlink.add_address, index, vip, label
            ):
                self._bind_failed()
                return
            self.bound.add(vip)
        if not await self._raise_vmac():
            self._bind_failed()
            return
        logs.event("vips_bound", instance=self.name, vips=",".join(map(str, vips)))

    def _bind_failed(self) -> None:
        """A master without its VIPs must not keep advertising: fault (priority 0, so a peer
        takes over at once), then try again later."""
        self._input(lambda now: self.router.track(BIND_TRACKER, now, fault=True))
        self._later(BIND_RETRY_AFTER, self._retry_bind)

    def _retry_bind(self) -> None:
        self._input(lambda now: self.router.track(BIND_TRACKER, now, fault=False))

    async def _unbind(self, vips: tuple[IPInterface, ...]) -> None:
        # Out of `bound` first: the kernel reports the removal before it answers (or, for IPv6,
        # when the macvlan goes down), and that must not look like someone taking our VIP away.
        self.bound.difference_update(vips)
        if self.router.state is not State.MASTER:  # a reload dropping a VIP keeps announcing
            self._stop_announcing()
            await self._lower_vmac()
        index = self.egress.vip_index
        for vip in vips:
            if not await self._netlink_call(
                "unbind", vip, self._netlink.remove_address, index, vip
            ):
                self.bound.add(vip)  # a VIP left on a non-master is a second owner: keep trying
                self._later(UNBIND_RETRY_AFTER, self._retry_unbind, vip)
        logs.event("vips_released", instance=self.name, vips=",".join(map(str, vips)))

    def _retry_answering(self, vips: tuple[IPInterface, ...]) -> None:
        handover = self.router.handover
        if handover is None or handover.peer is None:  # not silent again meanwhile
            self._queue.put_nowait(ResumeAnswering(vips))

    async def _raise_vmac(self) -> bool:
        """The macvlan up once the VIPs are bound on it, before any announcement: coming up, it
        reports its multicast groups from the virtual MAC, which draws the clients' traffic to
        us at once; False if it cannot be."""
        if self.egress.vmac is None or self._vmac_up:
            return True
        if not await self._link_call("vmac_up", True):
            return False
        self._vmac_up = True  # from now on its socket hears the adverts (see hears())
        return True

    async def _lower_vmac(self) -> None:
        """Silence the macvlan as soon as the router is no longer master, before its VIPs are
        removed (an IPv6 one would report leaving its solicited-node group from the virtual MAC;
        one that cannot be removed is answered for by none): down, it sends nothing, and the
        parent receives the new master's adverts."""
        if self.egress.vmac is None or not self._vmac_up:
            return
        self._vmac_up = False
        if not await self._link_call("vmac_down", False):
            self._vmac_up = True

    async def _link_call(self, what: str, up: bool) -> bool:
        try:
            async with asyncio.timeout(NETLINK_TIMEOUT):
                await self._netlink.set_up(self.egress.vip_index, up)
        except Exception as error:
            interface = self.egress.vmac
            logs.event(
                f"{what}_failed",
                logging.ERROR,
                instance=self.name,
                interface=interface,
                error=repr(error),
            )
            return False
        return True

    def _later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        handle = asyncio.get_running_loop().call_later(delay, callback, *args)
        self._handles.append(handle)

    def _retry_unbind(self, vip: IPInterface) -> None:
        if vip in self.bound and self.router.state is not State.MASTER:
            self._queue.put_nowait(UnbindVips((vip,)))

    async def _netlink_call(
        self, what: str, vip: IPInterface, call: Callable[..., Awaitable[bool]], *args: Any
    ) -> bool:
        """``call`` with a timeout, retried briefly; False (and logged) if it never succeeded."""
        failure: BaseException | None = None
        for delay in NETLINK_RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                started = self._clock.now().monotonic
                async with asyncio.timeout(NETLINK_TIMEOUT):
                    await call(*args)
                took = round((self._clock.now().monotonic - started) * 1000, 3)
                logs.debug(f"{what}_done", instance=self.name, vip=vip, ms=took)
                return True
            except Exception as error:
                failure = error
                logs.debug(f"{what}_retry", instance=self.name, vip=vip, error=repr(error))
        logs.event(
            f"{what}_failed", logging.ERROR, instance=self.name, vip=vip, error=repr(failure)
        )
        return False

    def _state_changed(self, effect: StateChanged) -> None:
        self.counters.transitions += 1
        self.counters.transitions_by[(effect.old.value, effect.new.value, effect.reason.value)] += 1
        now = self._clock.now()
        self.last_transition = {
            "from": effect.old.value,
            "to": effect.new.value,
            "reason": effect.reason.value,
            "monotonic": now.monotonic,
            "wall": now.wall_ns / 1e9,
        }
        logs.event(
            "state_changed",
            instance=self.name,
            family=f"ipv{self.family}",
            old=effect.old.value,
            new=effect.new.value,
            reason=effect.reason.value,
            priority=self.router.priority,
        )
        self._observe(self.on_transition, self, effect)
        if logs.debugging():
            self._debug_state_detail()

    def _debug_state_detail(self) -> None:
        """What the router decides with, after a transition: timers, master, priority."""
        router = self.router
        deadline = router.next_deadline()
        now = self._clock.now().monotonic
        master = router.master
        logs.debug(
            "state_detail",
            instance=self.name,
            state=router.state.value,
            priority=router.priority,
            contributions=dict(router.contributions),
            faults=sorted(router.faulted),
            master=None if master is None else master.address,
            master_down_interval_ms=round(router.master_down_interval * 1000, 1),
            next_timer_ms=None if deadline is None else round((deadline - now) * 1000, 1),
            bound=sorted(map(str, self.bound)),
        )

    # ------------------------------------------------------------------ announcements

    def _start_announcing(self, effect: Announce) -> None:
        if self._takeover_from is not None:  # the VIPs are bound: the failover is complete
            self.last_failover = self._clock.now().monotonic - self._takeover_from
            self._takeover_from = None
        self._stop_announcing()
        self._announcing = asyncio.create_task(self._announce(effect.vips))

    def _stop_announcing(self) -> None:
        if self._announcing:
            self._announcing.cancel()
            self._announcing = None

    async def _announce(self, vips: tuple[IPInterface, ...]) -> None:
        policy = self._announce_policy
        while True:
            for burst in range(policy.count):
                if burst:
                    await asyncio.sleep(policy.interval)
                self._announce_once(vips)
            if policy.refresh <= 0:
                return
            await asyncio.sleep(policy.refresh)

    def _announce_once(self, vips: tuple[IPInterface, ...]) -> None:
        for vip in (vip for vip in vips if vip in self.bound):  # never claim what we lack
            try:
                self.egress.announcer.announce(vip.ip)
                self.counters.announcements += 1
            except OSError as error:
                self._warn("announce_failed", vip=vip, error=error.strerror)
