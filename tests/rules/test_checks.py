"""Node fitness's pure policy (vipguard/rules/checks.py): the rise/fall hysteresis and what a
tracker's state adds to the priority or whether it is a fault."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vipguard.rules.checks import Hysteresis, contribution

# --------------------------------------------------------------------------- Hysteresis


def expected_states(results: list[bool], rise: int, fall: int) -> list[bool]:
    """The documented rule, stated independently: the first result decides; after that the
    state becomes X as soon as the latest ``rise`` (X up) or ``fall`` (X down) results are X."""
    states: list[bool] = []
    for index, ok in enumerate(results):
        needed = rise if ok else fall
        tail = results[max(0, index - needed + 1) : index + 1]
        latest_agree = len(tail) == needed and all(r == ok for r in tail)
        states.append(ok if index == 0 or latest_agree else states[-1])
    return states


@given(
    st.lists(st.booleans(), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=5),
)
def test_hysteresis_follows_the_rise_fall_rule(results: list[bool], rise: int, fall: int) -> None:
    hysteresis = Hysteresis(rise, fall)
    assert hysteresis.up is None
    previous: bool | None = None
    for ok, expected in zip(results, expected_states(results, rise, fall), strict=True):
        changed = hysteresis.observe(ok)
        assert hysteresis.up == expected
        assert changed == (expected != previous)
        previous = expected


def test_hysteresis_first_result_decides_then_streaks_count() -> None:
    hysteresis = Hysteresis(rise=2, fall=3)
    assert hysteresis.observe(False) is True and hysteresis.up is False
    assert [hysteresis.observe(ok) for ok in (True, False, True)] == [False, False, False]
    assert hysteresis.observe(True) is True and hysteresis.up is True
    assert [hysteresis.observe(ok) for ok in (False, False, True, False, False)] == [False] * 5
    assert hysteresis.observe(False) is True and hysteresis.up is False
    assert Hysteresis(rise=5, fall=5).observe(True) is True  # the first result needs no streak


def test_hysteresis_force_applies_at_once_and_resets_the_streak() -> None:
    hysteresis = Hysteresis(rise=1, fall=2)
    hysteresis.observe(True)
    hysteresis.observe(False)  # one failure of two
    assert hysteresis.force(True) is False
    assert hysteresis.observe(False) is False  # the streak started again
    assert hysteresis.force(False) is True and hysteresis.up is False


@pytest.mark.parametrize(("rise", "fall"), [(0, 1), (1, 0), (-1, 3)])
def test_hysteresis_refuses_counts_below_one(rise: int, fall: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Hysteresis(rise, fall)


# --------------------------------------------------------------------------- contribution


@pytest.mark.parametrize(
    ("weight", "up", "expected"),
    [
        (0, True, (0, False)),
        (0, False, (0, True)),
        (0, None, (0, True)),
        (10, True, (10, False)),
        (10, False, (0, False)),
        (10, None, (0, False)),
        (-10, True, (0, False)),
        (-10, False, (-10, False)),
        (-10, None, (-10, False)),
    ],
)
def test_contribution_of_a_check_tracker(
    weight: int, up: bool | None, expected: tuple[int, bool]
) -> None:
    assert contribution(weight, up) == expected


@pytest.mark.parametrize(
    ("weight", "up", "value", "expected"),
    [
        (0, True, 0, (0, False)),
        (0, True, 3, (0, True)),
        (0, True, -1, (0, True)),
        (0, False, None, (0, True)),
        (0, None, None, (0, True)),
        (5, True, 3, (15, False)),
        (5, True, -2, (-10, False)),
        (-5, True, 3, (-15, False)),
        (5, False, None, (0, False)),
        (-5, False, None, (0, False)),
    ],
)
def test_contribution_of_a_file_tracker(
    weight: int, up: bool | None, value: int | None, expected: tuple[int, bool]
) -> None:
    assert contribution(weight, up, value, file=True) == expected


@given(st.integers(-254, 254), st.sampled_from([True, False, None]))
def test_contribution_signs_and_faults(weight: int, up: bool | None) -> None:
    added, fault = contribution(weight, up)
    assert fault == (weight == 0 and not up)
    assert added == (weight if (weight > 0) == bool(up) and weight != 0 else 0)


@given(st.integers(-254, 254), st.integers(-1000, 1000))
def test_contribution_of_an_up_file_is_value_times_weight(weight: int, value: int) -> None:
    added, fault = contribution(weight, True, value, file=True)
    assert added == value * weight
    assert fault == (weight == 0 and value != 0)


def test_contribution_of_an_up_file_needs_its_value() -> None:
    with pytest.raises(ValueError, match="value"):
        contribution(5, True, None, file=True)
