"""Ages of held repeats from the kernel's receive times (io.vrrp_socket.Ages)."""

from __future__ import annotations

import pytest

from vipguard.io.vrrp_socket import Ages

S = 1_000_000_000  # ns
WALL, MONO = 1_800_000_000 * S, 5_000 * S


def test_ages_come_from_the_receive_times_once_the_clocks_are_known() -> None:
    ages = Ages()
    assert ages.of([WALL - S // 10], WALL, MONO) == [0.0]  # the first take: no reference yet
    later = 3 * S
    stamps = [WALL + later - 3 * S // 10, WALL + later - S // 10, None]
    assert ages.of(stamps, WALL + later, MONO + later) == pytest.approx([0.3, 0.1, 0.0])


def test_a_system_clock_step_between_takes_makes_every_age_zero() -> None:
    ages = Ages()
    ages.of([], WALL, MONO)
    step = 5 * S  # the system clock jumped 5 s ahead while 3 s passed
    stamps = [WALL + 3 * S - S // 10]
    assert ages.of(stamps, WALL + 3 * S + step, MONO + 3 * S) == [0.0]
    assert ages.of(stamps, WALL + 4 * S + step, MONO + 4 * S) == pytest.approx([6.1])  # anew


def test_slewing_within_the_tolerance_is_no_step() -> None:
    ages = Ages()
    ages.of([], WALL, MONO)
    slewed = WALL + 10 * S + 10_000_000  # 10 ms over 10 s: 1,000 ppm, within 20 ms + 0.1 %
    assert ages.of([slewed - S // 2], slewed, MONO + 10 * S) == pytest.approx([0.5])
