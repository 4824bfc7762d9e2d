"""Layer 2: the deterministic simulator runs random fault schedules through the core."""

from __future__ import annotations

import os

import pytest

from vipguard import sim
from vipguard.proto import router as router_module
from vipguard.proto.effects import State

SEEDS = int(os.environ.get("VIPGUARD_SIM_SEEDS", "2000"))


def test_random_schedules_keep_every_invariant() -> None:
    failures = sim.run_many(0, SEEDS)
    report = "\n\n".join(sim.describe(result) for result in failures[:2])
    assert not failures, f"{len(failures)} of {SEEDS} schedules broke an invariant:\n{report}"


def test_a_seed_is_reproducible() -> None:
    first, second = sim.run_seed(1234), sim.run_seed(1234)
    assert first.timeline == second.timeline
    assert len(first.timeline) > 5


def test_schedules_cover_the_fault_kinds() -> None:
    text = "\n".join(line for seed in range(60) for line in sim.run_seed(seed).timeline)
    for marker in (
        "crashes",
        "stops gracefully",
        "partition",
        "packet loss",
        "fault True",
        "weight +",
        "weight -",
        "preempted_lower_priority",
        "priority_zero_received",
        "higher_priority_advert",
    ):
        assert marker in text, marker


def test_checker_catches_a_core_that_ignores_the_address_tie_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check: with the tie-break broken, equal priorities no longer converge."""
    monkeypatch.setattr(router_module, "outranks", lambda p, _a, q, _b: p > q)
    failures = sim.run_many(0, 300)
    assert failures
    assert any("master is" in v or "two masters" in v for r in failures for v in r.violations)


def test_checker_catches_vips_held_outside_master(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: a core that forgets to unbind on leaving Master is caught."""
    original = router_module.VirtualRouter._leave_master

    def leaky(self: router_module.VirtualRouter, reason, now):  # type: ignore[no-untyped-def]
        return [e for e in original(self, reason, now) if type(e).__name__ != "UnbindVips"]

    monkeypatch.setattr(router_module.VirtualRouter, "_leave_master", leaky)
    failures = sim.run_many(0, 200)
    assert any("holds VIPs" in v for r in failures for v in r.violations)


def test_demo_pair_fails_over_within_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert sim.demo() == 0
    out = capsys.readouterr().out
    assert "r2 backup -> master (master_down_timer_expired)" in out
    assert "r2 backup -> master (priority_zero_received)" in out
    assert "invariants: held" in out


def test_outages_measure_the_stretches_without_a_holder() -> None:
    changes = [
        (1.0, "a", True),
        (2.0, "a", False),
        (2.3, "b", True),
        (3.0, "a", True),
        (3.1, "b", False),
        (4.0, "a", False),
        (4.5, "b", True),
    ]
    gaps = sim.outages(changes)
    assert [(round(s, 3), round(length, 3)) for s, length in gaps] == [(2.0, 0.3), (4.0, 0.5)]


def test_converged_state_has_one_master_holding_the_vips() -> None:
    simulation = sim.Simulation(sim.Params.draw(7))
    result = simulation.run()
    assert result.ok
    masters = [n for n in simulation.nodes if n.state is State.MASTER]
    assert len(masters) == 1 and masters[0].holds_vips


def test_checker_catches_a_winner_that_never_reannounces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: without answering lower masters, clients can follow the loser."""
    monkeypatch.setattr(router_module.VirtualRouter, "_answer_lower_master", lambda self, now: [])
    failures = sim.run_many(0, 300)
    assert any("clients follow" in v for r in failures for v in r.violations)
