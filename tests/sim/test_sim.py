"""Layer 2: the deterministic simulator runs random fault schedules through the core."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from vipguard import sim
from vipguard.proto import router as router_module
from vipguard.proto.effects import State
from vipguard.rules import sync_group as sync_rules

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


# --------------------------------------------------------------------------- sync groups

SYNC_SEEDS = SEEDS // 4  # a sync schedule runs twice the routers, and more of its time


def test_sync_group_schedules_keep_every_invariant() -> None:
    failures = sim.run_many(0, SYNC_SEEDS, sync=True)
    report = "\n\n".join(sim.describe(result) for result in failures[:2])
    assert not failures, (
        f"{len(failures)} of {SYNC_SEEDS} sync schedules broke an invariant:\n{report}"
    )


def test_sync_group_schedules_exercise_the_rules() -> None:
    text = "\n".join(line for seed in range(60) for line in sim.run_seed(seed, sync=True).timeline)
    for marker in (
        "sync-group fault on",
        "sync-group fault off",
        "steps down for its sync group",
        "-> backup (sync_group)",
        "partition of front",
        "partition of back",
        "h1-front tracker",
        "h2-back starts",
    ):
        assert marker in text, marker


def first_failure(count: int) -> sim.Result | None:
    return next((r for seed in range(count) if not (r := sim.run_seed(seed, sync=True)).ok), None)


Actions = list[sync_rules.SyncAction]


def no_step_down(actions: Actions) -> Actions:
    return [a for a in actions if not isinstance(a, sync_rules.StepDown)]


def no_fault_propagation(actions: Actions) -> Actions:
    return [a for a in actions if not isinstance(a, sync_rules.PropagateFault)]


def never_held(actions: Actions) -> Actions:
    return [
        sync_rules.Hold(a.member, False) if isinstance(a, sync_rules.Hold) else a for a in actions
    ]


@pytest.mark.parametrize(
    ("broken", "caught"),
    [
        (no_step_down, "sync group split"),
        (no_fault_propagation, "master while"),
        (never_held, "master"),  # the hosts fight over the sides: split, or two masters
    ],
)
def test_checker_catches_broken_sync_group_rules(
    monkeypatch: pytest.MonkeyPatch, broken: Callable[[Actions], Actions], caught: str
) -> None:
    """Mutation check: the simulator runs the agent's own rules, so breaking one fails a seed."""
    align = sync_rules.align
    monkeypatch.setattr(sync_rules, "align", lambda views: broken(align(views)))
    failure = first_failure(300)
    assert failure is not None
    assert any(caught in v for v in failure.violations), failure.violations


def test_checker_catches_rules_that_forget_who_was_outranked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check: every outranked member taken as news makes masters step down for ever."""
    view = sync_rules.view
    monkeypatch.setattr(
        sync_rules, "view", lambda router, was_outranked: view(router, was_outranked=False)
    )
    assert first_failure(300) is not None
