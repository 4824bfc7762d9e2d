"""Backend health rules: states, words, intervals, slow start, panic (rules/backends.py)."""

from __future__ import annotations

import pytest

from vipguard.rules.backends import (
    Backend,
    Intervals,
    Result,
    Routing,
    State,
    Word,
    first_check,
    jittered,
    route,
    slot_table,
)

OK, FAIL = Result(True), Result(False, detail="connection refused")
INTERVALS = Intervals(inter=2.0, fastinter=0.5, downinter=10.0)


def checked(backend: Backend, *results: Result, start: float = 0.0) -> list[bool]:
    return [backend.observe(result, start + n) for n, result in enumerate(results)]


def test_the_first_result_decides_then_rise_and_fall_count() -> None:
    backend = Backend(rise=2, fall=3)
    assert backend.state is State.DOWN and backend.since is None
    assert checked(backend, OK) == [True]  # the first result decides
    assert backend.state is State.UP and backend.since == 0.0
    assert checked(backend, FAIL, FAIL, start=1) == [False, False]
    assert backend.state is State.UP  # two of three
    assert checked(backend, FAIL, start=3) == [True]
    assert (backend.state, backend.since, backend.reason) == (State.DOWN, 3, "connection refused")
    assert checked(backend, OK, FAIL, OK, OK, start=4) == [False, False, False, True]
    assert backend.state is State.UP  # a failure breaks the streak of successes


def test_a_backend_saying_down_is_down_at_once_and_its_word_holds() -> None:
    backend = Backend(rise=2, fall=3)
    checked(backend, OK)
    assert backend.observe(Result(True, Word.DOWN, "agent: down"), 1.0)
    assert backend.state is State.DOWN and backend.reason == "agent: down"
    checked(backend, OK, OK, start=2)  # its checks pass again: rise brings it up
    assert backend.state is State.UP

    backend.observe(Result(True, Word.DRAIN), 5.0)
    assert backend.state is State.DRAINING
    checked(backend, FAIL, FAIL, FAIL, start=6)  # unreachable: down, but the drain word stays
    assert backend.state is State.DOWN and backend.own is Word.DRAIN
    checked(backend, OK, OK, start=9)
    assert backend.state is State.DRAINING  # only the backend undoes its own word
    backend.observe(Result(True, Word.READY), 11.0)
    assert backend.state is State.UP


def test_the_operator_wins_over_checks_and_the_backends_own_word() -> None:
    backend = Backend(rise=1, fall=1)
    checked(backend, OK)
    assert backend.set_operator(Word.DRAIN, 1.0) and backend.state is State.DRAINING
    assert backend.set_operator(Word.MAINT, 2.0) and backend.state is State.MAINTENANCE
    checked(backend, FAIL, OK, Result(True, Word.READY), start=3)
    assert backend.state is State.MAINTENANCE  # nothing the checks say brings it back
    assert backend.set_operator(Word.READY, 6.0) and backend.state is State.UP
    with pytest.raises(ValueError, match="maint, not down"):
        backend.set_operator(Word.DOWN, 7.0)


def test_intervals_fast_while_changing_slow_while_down() -> None:
    backend = Backend(rise=2, fall=2)
    assert backend.next_interval(INTERVALS) == 0.5  # not checked yet
    checked(backend, OK)
    assert backend.next_interval(INTERVALS) == 2.0
    checked(backend, FAIL, start=1)
    assert backend.next_interval(INTERVALS) == 0.5  # going down
    checked(backend, FAIL, start=2)
    assert backend.next_interval(INTERVALS) == 10.0  # fully down
    checked(backend, OK, start=3)
    assert backend.next_interval(INTERVALS) == 0.5  # coming up
    with pytest.raises(ValueError, match="positive"):
        Intervals(1.0, 0.0, 1.0)


def test_slow_start_ramps_a_recovered_backend_not_one_up_at_start() -> None:
    backend = Backend(rise=1, fall=1, slow_start=10.0)
    checked(backend, OK)
    assert backend.weight(8, 0.5) == 8  # up at start-up: full weight at once
    checked(backend, FAIL, OK, start=1)  # down at 1, up again at 2
    assert [backend.weight(8, 2.0 + t) for t in (0.0, 1.0, 5.0, 9.9, 10.0)] == [1, 1, 4, 8, 8]
    backend.set_operator(Word.DRAIN, 20.0)
    assert backend.weight(8, 20.0) == 0  # draining: nothing new
    backend.set_operator(Word.READY, 21.0)
    assert backend.weight(8, 21.0) == 8  # from draining: it never stopped serving
    backend.set_operator(Word.MAINT, 22.0)
    backend.set_operator(Word.READY, 23.0)
    assert backend.weight(8, 24.0) == 1  # from maintenance: ramps again


def test_jitter_stays_within_its_fraction_and_the_first_checks_spread() -> None:
    assert jittered(2.0, 0.1, 0.0) == pytest.approx(1.8)
    assert jittered(2.0, 0.1, 0.5) == pytest.approx(2.0)
    assert jittered(2.0, 0.1, 0.999) == pytest.approx(2.2, abs=0.001)
    firsts = [first_check(1.0, n / 100) for n in range(100)]
    assert 0 < min(firsts) < 0.02 and 0.98 < max(firsts) < 1.0  # over the whole first interval
    with pytest.raises(ValueError):
        jittered(1.0, 1.0, 0.5)


@pytest.mark.parametrize(
    ("states", "panic", "to_all", "expected"),
    [
        ([State.UP, State.DOWN, State.UP], 50, True, Routing((0, 2))),
        ([State.UP, State.DOWN, State.DOWN], 50, True, Routing((0, 1, 2), panic=True)),
        ([State.UP, State.DOWN, State.DOWN], 50, False, Routing((), panic=True)),
        ([State.UP, State.DOWN, State.DOWN], 0, True, Routing((0,))),  # 0: never panic
        ([State.DOWN, State.DOWN], 0, True, Routing(())),  # an empty pool, as configured
        ([State.DRAINING, State.MAINTENANCE, State.UP], 100, True, Routing((2,))),
        ([State.DRAINING, State.MAINTENANCE], 50, True, Routing(())),  # none in service
        ([State.UP, State.DRAINING, State.DOWN, State.DOWN], 50, True, Routing((0, 2, 3), True)),
    ],
)
def test_routing_and_panic(
    states: list[State], panic: float, to_all: bool, expected: Routing
) -> None:
    assert route(states, panic, panic_to_all=to_all) == expected


@pytest.mark.parametrize(
    ("weights", "size", "counts"),
    [
        ([1, 1, 1], 6, [2, 2, 2]),
        ([2, 1, 1], 8, [4, 2, 2]),
        ([1, 0, 3], 8, [2, 0, 6]),
        ([1, 1, 1], 64, [22, 21, 21]),
        ([100, 1], 4, [3, 1]),  # the light one keeps a slot
        ([0, 0], 8, [0, 0]),  # nothing up: an empty table
    ],
)
def test_slots_follow_the_weights(weights: list[int], size: int, counts: list[int]) -> None:
    slots = slot_table(weights, size)
    assert [slots.count(n) for n in range(len(weights))] == counts
    assert len(slots) == (size if any(weights) else 0)


@pytest.mark.parametrize("weights", [[1, 1, 1], [2, 1, 1], [5, 3, 1, 1], [1, 7], [3] * 10])
def test_any_run_of_slots_is_spread_as_the_weights_say(weights: list[int]) -> None:
    size = 64
    slots = slot_table(weights, size)
    counts = [slots.count(n) for n in range(len(weights))]
    for length in range(1, size + 1):
        prefix = slots[:length]
        for n, count in enumerate(counts):
            assert abs(prefix.count(n) - length * count / size) < 1, (weights, length, n)
    assert slot_table([1, 1, 1], 6) == (0, 1, 2, 0, 1, 2)


def test_a_table_too_small_or_a_negative_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="make the map larger"):
        slot_table([1] * 5, 4)
    with pytest.raises(ValueError, match="weights >= 0"):
        slot_table([1, -1], 4)
