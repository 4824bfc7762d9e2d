"""The VRRP state machine of one virtual router (RFC 5798 §6, plus a Fault state).

A :class:`VirtualRouter` is driven by four inputs, each carrying the current :class:`Instant`:
``start``, ``receive`` (a packet), ``poll`` (its one timer may be due) and ``track`` (a tracked
object changed), plus ``shutdown``. Every input returns the effects to execute in order; the caller
re-arms its timer from ``next_deadline()``. Transitions come only from :data:`TRANSITIONS`.

Beyond RFC 5798:

* a backup with preemption on also preempts an equal-priority master with a lower address, so the
  converged master depends on configuration only, never on history;
* a master that enters Fault first advertises priority 0, so a backup takes over after Skew_Time;
* a backup honours a priority-0 advert only from the master it follows (or when it follows none):
  a second, duelling master stopping says nothing about the one still advertising;
* a master that hears a lower-priority master (after a partition, a restart, a checksum mismatch
  at start-up) answers at once with an advert and re-announces its VIPs, as RFC 9568 allows, so
  the loser steps down and the clients' caches point back at the winner. It answers at most once
  per advert interval, so a flood of lower adverts cannot make it flood the link. A master that
  steps down for a higher one sends one last advert at its own priority, so a winner that never
  heard it (its adverts crossed) still re-announces.

Make-before-break handover: a master put into maintenance, or stopped gracefully, advertises
priority 0 but keeps its VIPs until another router has taken over (its first advert at a real
priority, plus a short grace for its announcements to go out) and only then releases them, so
clients never find the VIP unowned. In maintenance, without a peer to take over, it keeps the VIPs
(and keeps inviting one); a stop gives up waiting after Master_Down_Interval.

Sync groups (coordinated by the caller, which sees all members): ``hold`` keeps a backup from
preempting while another member of its group is outranked, and ``step_down`` makes a master
follow a member that went Backup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, auto
from ipaddress import IPv6Address

from .addresses import IPAddress, IPInterface
from .auth import AuthConfig
from .effects import (
    Announce,
    BindVips,
    Effect,
    Reason,
    Rejected,
    ResumeAnswering,
    State,
    StateChanged,
    StopAnswering,
    UnbindVips,
)
from .errors import ProtocolUsageError, RejectReason
from .packet import Advertisement, ReceivedPacket
from .timers import (
    OWNER_PRIORITY,
    STOP_PRIORITY,
    Instant,
    effective_priority,
    master_down_interval,
    outranks,
    skew_time,
)
from .wire import ChecksumPolicy, Heard, Wire, WireConfig

_S, _R = State, Reason
TRANSITIONS: dict[tuple[State, Reason], State] = {
    (_S.INITIALIZE, _R.STARTUP): _S.BACKUP,
    (_S.INITIALIZE, _R.ADDRESS_OWNER): _S.MASTER,
    (_S.INITIALIZE, _R.FAULT): _S.FAULT,
    (_S.BACKUP, _R.MASTER_DOWN_TIMER_EXPIRED): _S.MASTER,
    (_S.BACKUP, _R.PRIORITY_ZERO_RECEIVED): _S.MASTER,
    (_S.BACKUP, _R.PREEMPTED_LOWER_PRIORITY): _S.MASTER,
    (_S.BACKUP, _R.FAULT): _S.FAULT,
    (_S.BACKUP, _R.SHUTDOWN): _S.INITIALIZE,
    (_S.MASTER, _R.HIGHER_PRIORITY_ADVERT): _S.BACKUP,
    (_S.MASTER, _R.EQUAL_PRIORITY_HIGHER_ADDRESS): _S.BACKUP,
    (_S.MASTER, _R.FAULT): _S.FAULT,
    (_S.MASTER, _R.SHUTDOWN): _S.INITIALIZE,
    (_S.FAULT, _R.FAULT_CLEARED): _S.BACKUP,
    (_S.FAULT, _R.ADDRESS_OWNER): _S.MASTER,
    (_S.FAULT, _R.SHUTDOWN): _S.INITIALIZE,
    (_S.MASTER, _R.SYNC_GROUP): _S.BACKUP,
    (_S.INITIALIZE, _R.MAINTENANCE): _S.MAINTENANCE,
    (_S.BACKUP, _R.MAINTENANCE): _S.MAINTENANCE,
    (_S.MASTER, _R.MAINTENANCE): _S.MAINTENANCE,
    (_S.FAULT, _R.MAINTENANCE): _S.MAINTENANCE,
    (_S.MAINTENANCE, _R.MAINTENANCE_ENDED): _S.BACKUP,
    (_S.MAINTENANCE, _R.ADDRESS_OWNER): _S.MASTER,
    (_S.MAINTENANCE, _R.FAULT): _S.FAULT,
    (_S.MAINTENANCE, _R.SHUTDOWN): _S.INITIALIZE,
}
"""Every allowed (state, reason) → next state. Anything else is a bug and raises."""


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """One virtual router: interface × VRID × address family."""

    vrid: int
    priority: int
    vips: tuple[IPInterface, ...]
    source: IPAddress
    version: int = 3
    interval_cs: int = 100
    preempt: bool = True
    preempt_delay: float = 0.0
    accept: bool = False
    peers: tuple[IPAddress, ...] = ()
    group: IPAddress | None = None
    checksum: ChecksumPolicy = ChecksumPolicy.AUTO
    auth: AuthConfig | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.priority <= OWNER_PRIORITY:
            raise ProtocolUsageError(f"priority {self.priority} is outside 1..255")
        if self.preempt_delay < 0:
            raise ProtocolUsageError("preempt_delay must not be negative")
        ipv6 = isinstance(self.source, IPv6Address)
        if any(isinstance(vip.ip, IPv6Address) != ipv6 for vip in self.vips):
            raise ProtocolUsageError("every VIP must be of the source address's family")
        self.advertisement(self.priority)  # validates version, VRID, interval, VIP count

    def advertisement(self, priority: int) -> Advertisement:
        addresses = tuple(vip.ip for vip in self.vips)
        return Advertisement(self.version, self.vrid, priority, self.interval_cs, addresses)

    def wire_config(self) -> WireConfig:
        return WireConfig(
            version=self.version,
            vrid=self.vrid,
            interval_cs=self.interval_cs,
            source=self.source,
            peers=self.peers,
            group=self.group,
            checksum=self.checksum,
            auth=self.auth,
        )


class _Timer(Enum):
    ADVERT = auto()
    MASTER_DOWN = auto()
    SKEW = auto()


@dataclass(slots=True)
class _Tracker:
    contribution: int = 0
    fault: bool = False


@dataclass(slots=True)
class Handover:
    """A master handing its VIPs over: advertising priority 0 until ``release_at``, which is
    set once a peer has taken over (or, for a stop, bounds the wait)."""

    reason: Reason  # MAINTENANCE, SHUTDOWN or SYNC_GROUP: what the router becomes afterwards
    release_at: float | None = None
    peer: MasterSeen | None = None  # the router that took over
    give_up_at: float | None = None  # SYNC_GROUP: nobody took over by then, so keep serving


HANDOVER_GRACE = 0.25
"""How long the old master keeps the VIPs after the new master's first advert: that advert
leaves before the new master has bound and announced the VIPs (milliseconds, more on a loaded
host), so the old one serves a little longer, whatever the advert interval."""

REANNOUNCE_AFTER_HANDOVER = HANDOVER_GRACE + 0.05
"""When a master that took over from one handing over announces its VIPs again, after its first
advert: the old master releases them HANDOVER_GRACE after hearing that advert (plus its own
netlink work), and a client that cached the old master's MAC meanwhile (an old master that does
not fall silent, or could not) is told the new one's before its neighbour entry expires."""


@dataclass(slots=True)
class MasterSeen:
    """The current master as this router sees it."""

    address: IPAddress
    priority: int
    interval_cs: int


@dataclass(slots=True)
class _Clock:
    """The single pending timer: what it is, when it was armed, when it fires."""

    kind: _Timer | None = None
    armed_at: float = 0.0
    deadline: float | None = None


class VirtualRouter:
    def __init__(self, config: RouterConfig, *, last_sent_sequence: int | None = None) -> None:
        self.config = config
        self.wire = Wire(config.wire_config(), last_sent_sequence=last_sent_sequence)
        self.state = State.INITIALIZE
        self.state_since = 0.0
        self.last_reason: Reason | None = None
        self.master: MasterSeen | None = None
        self._trackers: dict[str, _Tracker] = {}
        self._timer = _Clock()
        self._master_interval_cs = config.interval_cs
        self._down_reason = Reason.MASTER_DOWN_TIMER_EXPIRED
        self._preempt_hold_until: float | None = None
        self._answered_lower_at: float | None = None
        self._reannounce = False
        self._reannounce_at: float | None = None  # took over from a handover: announce again
        self.maintenance = False
        self.handover: Handover | None = None
        self._held = False
        self._priority: tuple[RouterConfig, int] | None = None  # for this config
        self._advert: tuple[RouterConfig, Advertisement] | None = None  # the last one sent

    # ------------------------------------------------------------------ derived values

    @property
    def priority(self) -> int:
        """The effective priority: the configured one moved by the trackers' contributions
        (worked out when either changes, not on each of the many reads per advert)."""
        cached = self._priority
        if cached is None or cached[0] is not self.config:
            contributions = [tracker.contribution for tracker in self._trackers.values()]
            cached = self._priority = (
                self.config,
                effective_priority(self.config.priority, contributions),
            )
        return cached[1]

    @property
    def faulted(self) -> tuple[str, ...]:
        return tuple(name for name, tracker in self._trackers.items() if tracker.fault)

    @property
    def contributions(self) -> dict[str, int]:
        return {name: tracker.contribution for name, tracker in self._trackers.items()}

    @property
    def master_adver_interval_cs(self) -> int:
        return self._master_interval_cs

    @property
    def master_down_interval(self) -> float:
        return master_down_interval(self.priority, self._master_interval_cs, self.config.version)

    @property
    def skew_time(self) -> float:
        return skew_time(self.priority, self._master_interval_cs, self.config.version)

    @property
    def advertised_priority(self) -> int:
        return STOP_PRIORITY if self.handover else self.priority

    def next_deadline(self) -> float | None:
        handover = self.handover
        if handover is None and self._reannounce_at is None:  # the usual case: asked per input
            return self._timer.deadline
        pending = (handover.release_at, handover.give_up_at) if handover else ()
        timers = (self._timer.deadline, self._reannounce_at, *pending)
        deadlines = [d for d in timers if d is not None]
        return min(deadlines, default=None)

    def steady_repeat(self) -> ReceivedPacket | None:
        """The datagram whose unchanged repeats would do nothing but restart Master_Down: the
        last one heard, while this router is a backup deferring to its sender for reasons that
        do not run out (outranked, held, or not preempting). The I/O layer may keep such repeats
        back and hand over only the latest, with its time of arrival: the outcome is the same.
        None in every other case (and always with authentication: no two signed adverts are
        alike)."""
        if self.state is not State.BACKUP:
            return None
        last, master = self.wire.last_heard, self.master
        if last is None or master is None:
            return None
        packet, heard = last
        if self.handover is not None or self._timer.kind is not _Timer.MASTER_DOWN:
            return None
        if heard.source != master.address or heard.advert.priority == STOP_PRIORITY:
            return None
        mine = (self.priority, self.config.source)
        deferring = self._held or not self.config.preempt
        if deferring or outranks(heard.advert.priority, heard.source, *mine):
            return packet
        return None

    # ------------------------------------------------------------------ inputs

    def start(self, now: Instant) -> list[Effect]:
        if self.state is not State.INITIALIZE:
            raise ProtocolUsageError(f"start() in state {self.state}")
        if self.maintenance:
            return self._transition(Reason.MAINTENANCE, now)
        if self.faulted:
            return self._transition(Reason.FAULT, now)
        if self.priority == OWNER_PRIORITY:
            return self._transition(Reason.ADDRESS_OWNER, now)
        return self._transition(Reason.STARTUP, now)

    def shutdown(
        self, now: Instant, *, handover: bool = False, limit: float = math.inf
    ) -> list[Effect]:
        """Stop: priority 0 and release at once, or (``handover``) make-before-break: keep the
        VIPs until a peer has taken over, at most Master_Down_Interval (and ``limit`` seconds).
        The router has stopped once its state is Initialize again."""
        if self.state is State.INITIALIZE:
            return []
        if not handover or self.state is not State.MASTER:
            return self._transition(Reason.SHUTDOWN, now)
        bound = now.monotonic + min(self.master_down_interval, limit)
        if self.handover is None:
            self.handover = Handover(Reason.SHUTDOWN, bound)
            return self._advertise(now)
        self.handover.reason = Reason.SHUTDOWN  # already handing over for maintenance
        release = self.handover.release_at
        self.handover.release_at = bound if release is None else min(release, bound)
        return []

    def set_maintenance(self, on: bool, now: Instant) -> list[Effect]:
        """Maintenance on: hand the VIPs to a peer (make-before-break) and stay out of the
        election until it is off again. Off: rejoin the election (or resume as master)."""
        if on == self.maintenance:
            return []
        self.maintenance = on
        if on:
            return self._enter_maintenance(now)
        handover = self.handover
        if handover is not None and handover.reason is Reason.MAINTENANCE:
            self.handover = None  # still master: advertise the real priority again, and
            if handover.peer is None:
                return self._advertise(now)
            answer = ResumeAnswering(self.config.vips)  # win clients back
            return [answer, *self._advertise(now, announce=True)]
        if self.state is State.MAINTENANCE:
            return self._transition(self._rejoin_reason(), now)
        return []

    def _enter_maintenance(self, now: Instant) -> list[Effect]:
        if self.state is State.INITIALIZE or self.handover is not None:
            return []  # start() goes to Maintenance; a stop already hands over
        if self.state is State.MASTER:
            self.handover = Handover(Reason.MAINTENANCE)
            return self._advertise(now)
        return self._transition(Reason.MAINTENANCE, now)

    def _rejoin_reason(self) -> Reason:
        """Leaving Maintenance or Fault: where the router goes, and why."""
        if self.maintenance:
            return Reason.MAINTENANCE
        if self.faulted:
            return Reason.FAULT
        if self.priority == OWNER_PRIORITY:
            return Reason.ADDRESS_OWNER
        return Reason.MAINTENANCE_ENDED if self.state is State.MAINTENANCE else Reason.FAULT_CLEARED

    def hold(self, held: bool) -> None:
        """Sync group: while held, a backup follows any master instead of preempting it."""
        self._held = held
        if held:
            self._preempt_hold_until = None

    def step_down(self, now: Instant) -> list[Effect]:
        """Sync group: another member went Backup, so this master follows, make-before-break:
        priority 0, so its peer takes over after Skew_Time, and Backup once it has. If nobody
        takes over within Master_Down_Interval, nobody else serves this side: keep serving."""
        if self.state is not State.MASTER or self.handover is not None:
            return []
        give_up = now.monotonic + self.master_down_interval
        self.handover = Handover(Reason.SYNC_GROUP, give_up_at=give_up)
        return self._advertise(now)

    def reconfigure(self, config: RouterConfig, now: Instant) -> list[Effect]:
        """Apply a reloaded configuration in place (hitless reload): the state, the timers, the
        master seen and the anti-replay marks stay. A master binds and releases the difference
        in VIPs and advertises at once, so peers see a new priority or interval immediately.
        The VRID and source address are the router's identity: changing them needs a new one."""
        old = self.config
        if (config.vrid, config.source) != (old.vrid, old.source):
            raise ProtocolUsageError("a reload cannot change a router's VRID or source address")
        self.config = config
        if config.wire_config() != old.wire_config():
            self.wire = self.wire.reconfigured(config.wire_config())
        if self.state is State.MASTER:
            return self._reconfigure_master(old, now)
        if self.state is State.BACKUP:
            if self.master is None:  # nothing learned from a master yet: our own interval
                self._master_interval_cs = config.interval_cs
            return self._priority_changed(now)
        return []

    def _reconfigure_master(self, old: RouterConfig, now: Instant) -> list[Effect]:
        removed = tuple(vip for vip in old.vips if vip not in self.config.vips)
        added = tuple(vip for vip in self.config.vips if vip not in old.vips)
        accept = self.config.accept or self.priority == OWNER_PRIORITY
        silent = self.handover is not None and self.handover.peer is not None
        effects: list[Effect] = []
        if removed:
            effects += [UnbindVips(removed), *([ResumeAnswering(removed)] if silent else [])]
        if added:
            effects += [BindVips(added, accept), *([StopAnswering(added)] if silent else [])]
        effects += self._advertise(now)
        if added and self.handover is None:  # handing over: clients must stay with the peer
            effects.append(Announce(added))
        return effects

    def receive(self, packet: ReceivedPacket, now: Instant) -> list[Effect]:
        heard = self.wire.receive(packet, now.wall_ns)
        if isinstance(heard, RejectReason):
            return [Rejected(heard, packet.source)]
        if self.handover is not None:
            return self._handover_heard(heard, now)
        if self.state is State.MAINTENANCE:
            if heard.advert.priority != STOP_PRIORITY:  # who holds the VIPs, for the status
                advert = heard.advert
                self.master = MasterSeen(heard.source, advert.priority, advert.interval_cs)
            return []
        if self.state is State.BACKUP:
            return self._backup_heard(heard, now)
        if self.state is State.MASTER:
            return self._master_heard(heard, now)
        return []

    def poll(self, now: Instant) -> list[Effect]:
        """Fire the timer if it is due (calling early is harmless)."""
        handover = self.handover
        if handover and handover.release_at is not None and now.monotonic >= handover.release_at:
            return self._transition(handover.reason, now)
        if handover and handover.give_up_at is not None and now.monotonic >= handover.give_up_at:
            self.handover = None  # no peer took over: serve on at our real priority
            return self._advertise(now)
        effects = self._repeat_announcement(now)
        timer = self._timer
        if timer.deadline is None or now.monotonic < timer.deadline:
            return effects
        if timer.kind is _Timer.ADVERT:
            effects += self._advertise(now, announce=self._reannounce)
            self._keep_advert_cadence(timer.deadline, now)
            return effects
        return effects + self._transition(self._down_reason, now)

    def _repeat_announcement(self, now: Instant) -> list[Effect]:
        due = self._reannounce_at
        if due is None or now.monotonic < due:
            return []
        self._reannounce_at = None
        if self.handover is not None:  # handing over in turn: clients must stay with the peer
            return []
        return [Announce(self.config.vips)]

    def track(
        self, name: str, now: Instant, *, contribution: int = 0, fault: bool = False
    ) -> list[Effect]:
        """A tracked object's weight contribution or fault changed."""
        old_priority, was_faulted = self.priority, bool(self.faulted)
        self._trackers[name] = _Tracker(contribution, fault)
        self._priority = None
        return self._trackers_changed(old_priority, was_faulted, now)

    def untrack(self, name: str, now: Instant) -> list[Effect]:
        """A tracked object is no longer configured: its weight and fault no longer count."""
        old_priority, was_faulted = self.priority, bool(self.faulted)
        if self._trackers.pop(name, None) is None:
            return []
        self._priority = None
        return self._trackers_changed(old_priority, was_faulted, now)

    def _trackers_changed(self, old_priority: int, was_faulted: bool, now: Instant) -> list[Effect]:
        if self.state in (State.INITIALIZE, State.MAINTENANCE):
            return []  # recorded: they count when the router starts or leaves maintenance
        if self.faulted and not was_faulted:
            return self._transition(Reason.FAULT, now)
        if was_faulted and not self.faulted:
            return self._transition(self._rejoin_reason(), now)
        if self.priority != old_priority:
            return self._priority_changed(now)
        return []

    # ------------------------------------------------------------------ state handlers

    def _backup_heard(self, heard: Heard, now: Instant) -> list[Effect]:
        advert = heard.advert
        if advert.priority == STOP_PRIORITY:
            # Only the master we follow may hand over; another (stale or duelling) master
            # stopping says nothing about the one still advertising.
            # The first priority-0 advert starts Skew_Time; repeats (a master handing over
            # sends one per interval) must not push it back.
            followed = self.master is None or self.master.address == heard.source
            if followed and self._timer.kind is not _Timer.SKEW:
                self._arm(_Timer.SKEW, self.skew_time, now, Reason.PRIORITY_ZERO_RECEIVED)
            return []
        self.master = MasterSeen(heard.source, advert.priority, advert.interval_cs)
        if self._defers_to(heard, now):
            if self.config.version == 3:
                self._master_interval_cs = advert.interval_cs
            self._arm(_Timer.MASTER_DOWN, self.master_down_interval, now)
        else:
            # Let the timer run out: we outrank this master and will take over from it.
            self._down_reason = Reason.PREEMPTED_LOWER_PRIORITY
        return []

    def _defers_to(self, heard: Heard, now: Instant) -> bool:
        """Does a backup accept the sender as its master (instead of preempting it)?"""
        mine = (self.priority, self.config.source)
        held = self._held or not self.config.preempt
        if held or outranks(heard.advert.priority, heard.source, *mine):
            self._preempt_hold_until = None
            return True
        if self._preempt_hold_until is None:
            self._preempt_hold_until = now.monotonic + self.config.preempt_delay
        return now.monotonic < self._preempt_hold_until

    def _master_heard(self, heard: Heard, now: Instant) -> list[Effect]:
        advert = heard.advert
        if advert.priority == STOP_PRIORITY:
            return self._advertise(now)
        if not outranks(advert.priority, heard.source, self.priority, self.config.source):
            return self._answer_lower_master(now)
        tie = advert.priority == self.priority
        reason = Reason.EQUAL_PRIORITY_HIGHER_ADDRESS if tie else Reason.HIGHER_PRIORITY_ADVERT
        effects = self._transition(reason, now)
        return effects + self._backup_heard(heard, now)  # learn its interval, time it from now

    def _handover_heard(self, heard: Heard, now: Instant) -> list[Effect]:
        """Handing over: the first advert at a real priority is the peer that took over. Keep
        the VIPs a little longer, until its announcements are out, then release them."""
        handover, advert = self.handover, heard.advert
        assert handover is not None
        if advert.priority == STOP_PRIORITY or handover.peer is not None:
            return []
        handover.peer = MasterSeen(heard.source, advert.priority, advert.interval_cs)
        handover.give_up_at = None
        release = now.monotonic + HANDOVER_GRACE
        if handover.release_at is None or release < handover.release_at:
            handover.release_at = release
        self._timer = _Clock()  # no more adverts: the new master speaks for the VIPs now
        # Still bound, so the kernel would answer a client resolving the VIPs now with our MAC,
        # cached by the client and dead once we release: from now on only the new master answers.
        return [StopAnswering(self.config.vips)]

    def _answer_lower_master(self, now: Instant) -> list[Effect]:
        last = self._answered_lower_at
        if last is not None and now.monotonic - last < self.config.interval_cs / 100:
            self._reannounce = True  # not now, but with the next regular advert
            return []
        self._answered_lower_at = now.monotonic
        return self._advertise(now, announce=True)

    def _priority_changed(self, now: Instant) -> list[Effect]:
        if self.state is State.MASTER:
            return self._advertise(now)
        if self.state is State.BACKUP and self._timer.kind is not None:
            duration = (
                self.skew_time if self._timer.kind is _Timer.SKEW else self.master_down_interval
            )
            self._timer.deadline = self._timer.armed_at + duration
        return []

    # ------------------------------------------------------------------ transitions

    def _transition(self, reason: Reason, now: Instant) -> list[Effect]:
        old = self.state
        new = TRANSITIONS.get((old, reason))
        if new is None:
            raise ProtocolUsageError(f"no transition from {old} on {reason}")
        effects: list[Effect] = []
        if old is State.MASTER:
            effects += self._leave_master(reason, now)
        handed_to = self.handover.peer if self.handover else None
        self.handover = None
        self.state, self.state_since, self.last_reason = new, now.monotonic, reason
        self._timer = _Clock()
        self._reannounce_at = None
        self.master = handed_to  # None, or the router that took over from us
        if new is State.MASTER:
            effects += self._enter_master(now)
        elif new is State.BACKUP:
            self._enter_backup(now)
        effects.append(StateChanged(old, new, reason))
        return effects

    def _enter_master(self, now: Instant) -> list[Effect]:
        self._master_interval_cs = self.config.interval_cs
        self._preempt_hold_until = None
        if self.last_reason is Reason.PRIORITY_ZERO_RECEIVED:  # the old master still holds them
            self._reannounce_at = now.monotonic + REANNOUNCE_AFTER_HANDOVER
        vips = self.config.vips
        accept = self.config.accept or self.priority == OWNER_PRIORITY
        return [BindVips(vips, accept), *self._advertise(now, announce=True)]

    def _leave_master(self, reason: Reason, now: Instant) -> list[Effect]:
        """Stopping: priority 0, so a backup takes over after Skew_Time. Outranked: one last
        advert at our priority, so a winner that never heard us learns that clients may still
        point at us and re-announces (see _answer_lower_master)."""
        release = UnbindVips(self.config.vips)
        if self.handover is not None and self.handover.peer is not None:
            # Handed over: the new master is advertising already. Answer again only once the
            # VIPs are gone, so there is no moment in which we would answer for them.
            return [release, ResumeAnswering(self.config.vips)]
        outranked = reason in (Reason.HIGHER_PRIORITY_ADVERT, Reason.EQUAL_PRIORITY_HIGHER_ADDRESS)
        advert = self.config.advertisement(self.priority if outranked else STOP_PRIORITY)
        return [*self.wire.transmit(advert, now.wall_ns), release]

    def _enter_backup(self, now: Instant) -> None:
        self._master_interval_cs = self.config.interval_cs
        self._preempt_hold_until = None
        self._arm(_Timer.MASTER_DOWN, self.master_down_interval, now)

    def _advertise(self, now: Instant, *, announce: bool = False) -> list[Effect]:
        priority = self.advertised_priority
        self.master = MasterSeen(self.config.source, priority, self.config.interval_cs)
        self._arm(_Timer.ADVERT, self.config.interval_cs / 100, now)
        cached = self._advert
        if cached is None or cached[0] is not self.config or cached[1].priority != priority:
            cached = self._advert = (self.config, self.config.advertisement(priority))
        advert = cached[1]
        effects: list[Effect] = list(self.wire.transmit(advert, now.wall_ns))
        if announce:
            self._reannounce = False
            effects.append(Announce(self.config.vips))
        return effects

    def _keep_advert_cadence(self, due: float, now: Instant) -> None:
        """Time the next advert from when this one was due, not from when the event loop got
        round to it, so a little lateness each time does not stretch the interval (adverts
        every 20.5 ms instead of 20). After a long stall the cadence restarts from now."""
        interval = self.config.interval_cs / 100
        if now.monotonic - due < interval:
            self._timer.armed_at, self._timer.deadline = due, due + interval

    def _arm(
        self,
        kind: _Timer,
        duration: float,
        now: Instant,
        down_reason: Reason = Reason.MASTER_DOWN_TIMER_EXPIRED,
    ) -> None:
        self._timer = _Clock(kind, now.monotonic, now.monotonic + duration)
        self._down_reason = down_reason
