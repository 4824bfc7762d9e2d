"""What backend check results mean, without I/O or clocks: each backend's state, when to check it
next, its weight, and which backends of a pool get new connections.

The semantics follow the proxies operators know (HAProxy and Envoy, see facts in the reference):

* Checks move a backend up or down through rise/fall (:class:`~vipguard.rules.checks.Hysteresis`,
  shared with node fitness). Before the first result it is down; the first result decides.
* A backend may speak for itself in its answer (HAProxy's agent words, Envoy's immediate-fail
  header): ``down`` takes it down at once, without waiting for ``fall``; ``drain`` lets it finish
  what it has and take nothing new; ``maint`` takes it out; ``ready`` undoes its own word. Its word
  stays until it says otherwise: a check that cannot reach it does not undo it.
* The operator's ``drain`` / ``maint`` / ``ready`` (``vipguard backend ...``) is kept apart and wins
  over the checks: maintenance over everything, then down, then draining.
* Check intervals: ``fastinter`` while a backend is changing state (a streak under way, or not yet
  checked), ``downinter`` while it is fully down, ``inter`` otherwise (HAProxy).
* Slow start: a backend that recovers (not one up at start-up) gets its weight back linearly over
  ``slow_start`` seconds.
* Panic: when fewer than ``panic_percent`` of a pool's backends in service are up, new connections
  go to all of them (Envoy), or to none so the pool's fallback answers; the operator chooses.

Times are plain seconds on the caller's monotonic clock; randomness (jitter) is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from .checks import Hysteresis


class State(Enum):
    UP = "up"
    DOWN = "down"
    DRAINING = "draining"  # no new connections; those it has go on
    MAINTENANCE = "maintenance"  # out of the pool


_OUT_OF_SERVICE = (State.DOWN, State.MAINTENANCE)


class Word(Enum):
    """What a backend says of itself, or what the operator says of it."""

    READY = "ready"
    DRAIN = "drain"
    MAINT = "maint"
    DOWN = "down"  # the backend's own: down at once (the operator's is MAINT)


@dataclass(frozen=True, slots=True)
class Result:
    """One check: whether it passed, and the backend's own word if its answer carried one."""

    ok: bool
    word: Word | None = None
    detail: str = ""  # why, for the operator: "connection refused", "status 503", ...


@dataclass(frozen=True, slots=True)
class Intervals:
    inter: float
    fastinter: float
    downinter: float

    def __post_init__(self) -> None:
        if min(self.inter, self.fastinter, self.downinter) <= 0:
            raise ValueError(f"check intervals must be positive: {self}")


class Backend:
    """One backend's health: its checks' hysteresis, its own word, the operator's word."""

    def __init__(self, rise: int, fall: int, *, slow_start: float = 0.0) -> None:
        if slow_start < 0:
            raise ValueError(f"slow start must not be negative, not {slow_start}")
        self._checks = Hysteresis(rise, fall)
        self.slow_start = slow_start
        self.own: Word = Word.READY
        self.operator: Word = Word.READY
        self.state = State.DOWN
        self.since: float | None = None  # when the state last changed (None: never checked)
        self.reason = "not checked yet"
        self._recovered_at: float | None = None  # up again after being down: slow start

    def observe(self, result: Result, now: float) -> bool:
        """Feed one check result; True when the state changed."""
        if result.word is not None:
            self.own = result.word
        if result.word is Word.DOWN:
            self._checks.force(False)  # at once, whatever fall says
        else:
            self._checks.observe(result.ok)
        return self._settle(now, result.detail or ("check passed" if result.ok else "failed"))

    def set_operator(self, word: Word, now: float) -> bool:
        """The operator's ``ready`` / ``drain`` / ``maint``; True when the state changed."""
        if word is Word.DOWN:
            raise ValueError("the operator takes a backend out with maint, not down")
        self.operator = word
        return self._settle(now, f"operator: {word.value}")

    def _settle(self, now: float, reason: str) -> bool:
        state = self._derived()
        if state is self.state and self.since is not None:
            return False
        if state is State.UP and self.since is not None and self.state in _OUT_OF_SERVICE:
            self._recovered_at = now  # back from down or maintenance: slow start
        self.state, self.since, self.reason = state, now, reason
        return True

    def _derived(self) -> State:
        words = (self.operator, self.own)
        if Word.MAINT in words:
            return State.MAINTENANCE
        if not self._checks.up:
            return State.DOWN
        if Word.DRAIN in words:
            return State.DRAINING
        return State.UP

    def next_interval(self, intervals: Intervals) -> float:
        """How long until this backend's next check (before jitter)."""
        checks = self._checks
        if checks.up is None or checks.changing:
            return intervals.fastinter
        return intervals.inter if checks.up else intervals.downinter

    def weight(self, configured: int, now: float) -> int:
        """The weight new connections see: 0 unless up; ramping up after a recovery."""
        if self.state is not State.UP:
            return 0
        started = self._recovered_at
        if not self.slow_start or started is None or now - started >= self.slow_start:
            return configured
        return max(1, math.ceil(configured * (now - started) / self.slow_start))


def jittered(interval: float, fraction: float, draw: float) -> float:
    """``interval`` moved by up to ``fraction`` of itself either way; ``draw`` is uniform in
    [0, 1). Keeps checks of many backends from drifting into step."""
    if not 0 <= fraction < 1 or not 0 <= draw < 1:
        raise ValueError(f"jitter fraction and draw must lie in [0, 1): {fraction}, {draw}")
    return interval * (1 + fraction * (2 * draw - 1))


def first_check(interval: float, draw: float) -> float:
    """When a backend is first checked after start-up: somewhere in its first interval, so a
    pool of thousands does not fire at once."""
    return jittered(interval / 2, 0.99, draw) if interval > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Routing:
    """Which backends get new connections (by position in the pool), and whether in panic."""

    targets: tuple[int, ...]
    panic: bool = False


def route(states: Sequence[State], panic_percent: float, *, panic_to_all: bool) -> Routing:
    """The backends that get new connections: the up ones. When fewer than ``panic_percent`` of
    those in service (neither draining nor in maintenance) are up, all of those in service get
    them (``panic_to_all``, Envoy's choice) or none (the pool's fallback answers)."""
    if not 0 <= panic_percent <= 100:
        raise ValueError(f"panic threshold must be a percentage, not {panic_percent}")
    in_service = [n for n, s in enumerate(states) if s in (State.UP, State.DOWN)]
    up = tuple(n for n in in_service if states[n] is State.UP)
    if not in_service or 100 * len(up) >= panic_percent * len(in_service):
        return Routing(up)
    return Routing(tuple(in_service) if panic_to_all else (), panic=True)


def slot_table(weights: Sequence[int], size: int) -> tuple[int, ...]:
    """Which backend (by position) each of ``size`` data-plane slots points at: in proportion to
    ``weights`` (largest remainder; a weight of 0 gets none), interleaved as smooth weighted
    round-robin does: in every prefix of the table each backend has its share of the slots to
    within one, so any run of new connections (consecutive slots, for a round-robin data plane)
    is spread as the weights say. Empty when no weight is positive."""
    if size < 1 or any(weight < 0 for weight in weights):
        raise ValueError(f"slots need a positive size and weights >= 0: {size}, {list(weights)}")
    if sum(1 for weight in weights if weight) > size:
        raise ValueError(f"{size} slots cannot hold {len(weights)} backends: make the map larger")
    counts = _apportion(weights, size)
    current = [0] * len(counts)
    slots: list[int] = []
    for _ in range(size if any(counts) else 0):
        for index, count in enumerate(counts):
            current[index] += count
        chosen = max(range(len(counts)), key=lambda index: current[index])
        current[chosen] -= size
        slots.append(chosen)
    return tuple(slots)


def _apportion(weights: Sequence[int], size: int) -> list[int]:
    """``size`` slots shared in proportion to ``weights``, each positive weight at least one."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    exact = [weight * size / total for weight in weights]
    counts = [
        max(1, math.floor(share)) if weight else 0
        for weight, share in zip(weights, exact, strict=True)
    ]
    by_remainder = sorted(range(len(weights)), key=lambda n: exact[n] - counts[n], reverse=True)
    for index in by_remainder:  # hand out what flooring left, largest remainder first
        if sum(counts) >= size:
            break
        if weights[index]:
            counts[index] += 1
    while sum(counts) > size:  # the minimum of one per backend overshot: take from the largest
        counts[counts.index(max(counts))] -= 1
    return counts
