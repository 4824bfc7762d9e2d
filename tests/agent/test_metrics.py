"""The Prometheus collector: names, labels and values rendered from an agent snapshot.

The agent here is assembled from real parts where they matter: routers, the fitness wiring with
trackers that have really checked (or not yet), and a hook runner that has really run scripts;
each scrape renders a snapshot of them taken as the agent takes its own."""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from ipaddress import IPv4Address
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import pytest
from driver_fake import LATER, START, FakeDriver
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from vipguard.agent.driver import Counters
from vipguard.agent.fitness import Fitness, Tracker
from vipguard.agent.hooks import HookRunner
from vipguard.agent.metrics import AgentCollector
from vipguard.agent.snapshot import (
    AgentSnapshot,
    EventsSnapshot,
    FitnessSnapshot,
    HooksSnapshot,
    MaintenanceSnapshot,
    RouterSnapshot,
    SyncSnapshot,
)
from vipguard.config import (
    FileCheck,
    InterfaceCheck,
    NotifyConfig,
    TcpCheck,
    TrackerConfig,
    TrackRef,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def script(directory: Path, name: str, exit_status: int) -> tuple[str]:
    path = directory / name
    path.write_text(f"#!/bin/sh\nexit {exit_status}\n")
    path.chmod(0o755)
    return (str(path),)


async def first_result(tracker: Tracker) -> None:
    tracker.start()
    try:
        for _ in range(500):
            if tracker.status.up is not None:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"tracker {tracker.name} gave no result in 5s")
    finally:
        await tracker.stop()


async def run_hooks(runner: HookRunner, ok: tuple[str], fail: tuple[str]) -> None:
    notify = NotifyConfig((("master", ok), ("any", fail)), timeout=5.0)
    # Backlog 1: the first transition is dropped (both its hooks) before the worker starts.
    runner.notify("web", "master", 150, "startup", notify, family=4)
    runner.notify("web", "fault", 0, "fault", notify, family=4)  # only "any" runs: failed
    await asyncio.wait_for(runner.wait_idle(), 10)
    runner.notify("web", "master", 150, "master_down_timer_expired", notify, family=4)  # ok, failed
    await asyncio.wait_for(runner.wait_idle(), 10)


def fake_agent(tmp_path: Path, failover: float | None = 0.3125) -> SimpleNamespace:
    """web: backup, tracks uplink (interface, down) and drain (file holding 3);
    api: master handing its VIPs over for maintenance; db/ipv4: in Fault by proxy (tcp, no
    result yet), and tracks gate (a file that is missing)."""
    web = FakeDriver("web", 51, 150, failover)
    web.counters = Counters(
        adverts_in=7,
        adverts_out=3,
        announcements=5,
        rejected=Counter({"bad_ttl": 2}),
        transitions_by=Counter({("initialize", "backup", "startup"): 1}),
    )
    api, db = FakeDriver("api", 52, 255), FakeDriver("db/ipv4", 53, 100)
    api.router.set_maintenance(True, LATER)
    (tmp_path / "drain").write_text("3\n")
    trackers = (
        TrackerConfig("uplink", InterfaceCheck("eth9")),
        TrackerConfig("drain", FileCheck(tmp_path / "drain")),
        TrackerConfig("proxy", TcpCheck(IPv4Address("127.0.0.1"), 9)),
        TrackerConfig("gate", FileCheck(tmp_path / "missing", missing=None)),
    )
    notify = {
        "web": NotifyConfig((("master", ("x",)), ("any", ("x",)))),
        "api": NotifyConfig((("backup", ("x",)),)),
        "db": NotifyConfig((("fault", ("x",)),)),
    }
    config = SimpleNamespace(
        trackers=trackers,
        instances=[SimpleNamespace(name=name, notify=n) for name, n in notify.items()],
    )
    fitness = Fitness()
    refs = {
        web: (TrackRef("uplink", -50), TrackRef("drain", -10)),
        db: (TrackRef("proxy", 0), TrackRef("gate", 5)),
    }
    fitness.configure(config, refs)  # type: ignore[arg-type]
    fitness.apply_pending()  # as the runtime does when a tracker has no result in time
    uplink = fitness.trackers["uplink"]
    uplink.set_link(True)
    uplink.set_link(False)
    hooks = HookRunner(backlog=1)

    async def check_and_run() -> None:
        await first_result(fitness.trackers["drain"])
        await first_result(fitness.trackers["gate"])
        ok, fail = script(tmp_path, "ok.sh", 0), script(tmp_path, "fail.sh", 1)
        await run_hooks(hooks, ok, fail)

    asyncio.run(asyncio.wait_for(check_and_run(), 30))
    instances = {i.name: i for i in config.instances}
    return SimpleNamespace(
        drivers=[web, api, db],
        fitness=fitness,
        hooks=hooks,
        config=config,
        # as the runtime names routers: "db/ipv4" is instance "db"'s IPv4 router
        instance_config=lambda driver: instances[driver.name.partition("/")[0]],
    )


def snapshot_of(agent: SimpleNamespace) -> AgentSnapshot:
    """As Agent.snapshot takes it, from the fake agent's parts."""
    return AgentSnapshot(
        pid=1,
        config="vipguard.toml",
        taken_at=LATER.monotonic,
        started_at=START.monotonic,
        unknown_vrid=0,
        routers=tuple(RouterSnapshot.of(d, agent.instance_config(d)) for d in agent.drivers),
        fitness=FitnessSnapshot.of(agent.fitness, agent.drivers),
        sync=SyncSnapshot(MappingProxyType({})),
        hooks=HooksSnapshot.of(agent.hooks),
        events=EventsSnapshot(0),
        maintenance=MaintenanceSnapshot(frozenset()),
    )


def render(snapshot: AgentSnapshot) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(lambda: snapshot))
    return generate_latest(registry).decode()


def scrape(agent: SimpleNamespace) -> str:
    return render(snapshot_of(agent))


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    return fake_agent(tmp_path_factory.mktemp("agent"))


@pytest.fixture(scope="module")
def got(agent: SimpleNamespace) -> Samples:
    return samples(scrape(agent))


def instance(name: str, vrid: int) -> dict[str, str]:
    return {"name": name, "interface": "eth0", "family": "ipv4", "vrid": str(vrid)}


def value(got: Samples, metric: str, **labels: str) -> float:
    return got[(metric, frozenset(labels.items()))]


def test_every_instance_metric_is_exported_with_its_labels(got: Samples) -> None:
    web = instance("web", 51)
    assert value(got, "vipguard_up") == 1
    assert value(got, "vipguard_instance_state", **web, state="backup") == 1
    assert value(got, "vipguard_instance_state", **web, state="master") == 0
    assert value(got, "vipguard_instance_state", **web, state="maintenance") == 0
    assert value(got, "vipguard_instance_priority_base", **web) == 150
    assert value(got, "vipguard_instance_priority_effective", **web) == 150 - 50 - 30
    transition = {"from": "initialize", "to": "backup", "reason": "startup"}
    assert value(got, "vipguard_instance_transitions_total", **web, **transition) == 1
    assert value(got, "vipguard_instance_adverts_sent_total", **web) == 3
    assert value(got, "vipguard_instance_adverts_received_total", **web) == 7
    assert value(got, "vipguard_instance_adverts_rejected_total", **web, reason="bad_ttl") == 2
    assert value(got, "vipguard_instance_announcements_total", **web) == 5
    mdi = 3 + (256 - 70) / 256
    assert value(got, "vipguard_instance_master_down_interval_seconds", **web) == mdi
    assert value(got, "vipguard_instance_last_failover_seconds", **web) == 0.3125


def test_maintenance_and_handover_per_instance(got: Samples) -> None:
    web, api, db = instance("web", 51), instance("api", 52), instance("db/ipv4", 53)
    assert value(got, "vipguard_instance_maintenance", **api) == 1
    # A master in maintenance keeps its VIPs until a peer takes them: master, handing over.
    assert value(got, "vipguard_instance_state", **api, state="master") == 1
    assert value(got, "vipguard_instance_handover_in_progress", **api) == 1
    for other in (web, db):
        assert value(got, "vipguard_instance_maintenance", **other) == 0
        assert value(got, "vipguard_instance_handover_in_progress", **other) == 0
    assert value(got, "vipguard_instance_state", **db, state="fault") == 1


def test_trackers_report_state_latency_checks_and_file_values(got: Samples) -> None:
    uplink = {"tracker": "uplink", "kind": "interface"}
    drain, gate = {"tracker": "drain", "kind": "file"}, {"tracker": "gate", "kind": "file"}
    proxy = {"tracker": "proxy", "kind": "tcp"}
    assert value(got, "vipguard_tracker_up", **uplink) == 0
    assert value(got, "vipguard_tracker_up", **drain) == 1
    assert value(got, "vipguard_tracker_up", **gate) == 0
    assert value(got, "vipguard_tracker_up", **proxy) == 0  # no result yet
    assert value(got, "vipguard_tracker_value", **drain) == 3
    assert math.isnan(value(got, "vipguard_tracker_value", **gate))
    assert ("vipguard_tracker_value", frozenset(uplink.items())) not in got  # files only
    assert 0 < value(got, "vipguard_tracker_check_latency_seconds", **drain) < 5
    assert value(got, "vipguard_tracker_check_latency_seconds", **uplink) == 0  # kernel event
    assert math.isnan(value(got, "vipguard_tracker_check_latency_seconds", **proxy))
    checks = "vipguard_tracker_checks_total"
    assert value(got, checks, **uplink, outcome="ok") == 1
    assert value(got, checks, **uplink, outcome="failed") == 1
    assert value(got, checks, **drain, outcome="ok") == 1
    assert value(got, checks, **gate, outcome="failed") == 1
    for outcome in ("ok", "failed", "timeout", "error"):  # 0 before any check
        assert value(got, checks, **proxy, outcome=outcome) == 0


def test_each_instance_reports_what_each_of_its_trackers_does(got: Samples) -> None:
    web, db = instance("web", 51), instance("db/ipv4", 53)
    expected = {
        (frozenset(web.items()), "uplink"): (-50, 0),  # weight -50, down
        (frozenset(web.items()), "drain"): (-30, 0),  # 3 × weight -10
        (frozenset(db.items()), "proxy"): (0, 1),  # weight 0, no result yet
        (frozenset(db.items()), "gate"): (0, 0),  # a file that is down adds nothing
    }
    for (labels, tracker), (contribution, fault) in expected.items():
        row = {**dict(labels), "tracker": tracker}
        assert value(got, "vipguard_instance_tracker_contribution", **row) == contribution
        assert value(got, "vipguard_instance_tracker_fault", **row) == fault
    api_rows = [k for k in got if k[0].startswith("vipguard_instance_tracker_")]
    assert not [k for k in api_rows if ("name", "api") in k[1]]  # api tracks nothing
    assert len(api_rows) == 2 * len(expected)


def test_hook_runs_by_outcome_and_failures(got: Samples) -> None:
    runs, failures = "vipguard_hook_runs_total", "vipguard_hook_failures_total"
    master, any_state = {"name": "web", "hook": "master"}, {"name": "web", "hook": "any"}
    assert value(got, runs, **master, outcome="ok") == 1
    assert value(got, runs, **master, outcome="dropped") == 1
    assert value(got, runs, **master, outcome="failed") == 0
    assert value(got, runs, **any_state, outcome="failed") == 2
    assert value(got, runs, **any_state, outcome="dropped") == 1
    assert value(got, failures, **master) == 1
    assert value(got, failures, **any_state) == 3


def test_configured_hooks_are_exported_at_zero_before_they_run(got: Samples) -> None:
    # increase() misses a series' first sample: a hook's first failure must not be that sample.
    for labels in ({"name": "api", "hook": "backup"}, {"name": "db/ipv4", "hook": "fault"}):
        assert value(got, "vipguard_hook_failures_total", **labels) == 0
        for outcome in ("ok", "failed", "timeout", "error", "dropped"):
            assert value(got, "vipguard_hook_runs_total", **labels, outcome=outcome) == 0


def test_an_instance_that_never_took_over_reports_no_failover_time(
    agent: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent.drivers[0], "last_failover", None)
    lines = [x for x in scrape(agent).splitlines() if x.startswith("vipguard_instance_last_fail")]
    (line,) = [x for x in lines if 'name="web"' in x]
    assert math.isnan(float(line.rsplit(" ", 1)[1]))


def test_a_scrape_renders_the_snapshot_it_was_given_not_the_live_agent(
    agent: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = snapshot_of(agent)
    web = agent.drivers[0]
    monkeypatch.setattr(web.counters, "adverts_out", 99)  # the loop goes on after the snapshot
    monkeypatch.setitem(web.counters.rejected, "bad_ttl", 40)
    monkeypatch.setattr(web.router, "maintenance", True)
    monkeypatch.setattr(agent.fitness, "describe", lambda driver: [])  # trackers replaced
    then = samples(render(taken))
    labels = instance("web", 51)
    assert value(then, "vipguard_instance_adverts_sent_total", **labels) == 3
    assert value(then, "vipguard_instance_adverts_rejected_total", **labels, reason="bad_ttl") == 2
    assert value(then, "vipguard_instance_maintenance", **labels) == 0
    row = {**labels, "tracker": "uplink"}
    assert value(then, "vipguard_instance_tracker_contribution", **row) == -50
    now = samples(scrape(agent))
    assert value(now, "vipguard_instance_adverts_sent_total", **labels) == 99
    assert not [k for k in now if k[0].startswith("vipguard_instance_tracker_")]


def test_before_the_first_snapshot_a_scrape_says_only_that_the_agent_is_up() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(lambda: None))
    got = samples(generate_latest(registry).decode())
    assert got == {("vipguard_up", frozenset()): 1}


@pytest.mark.parametrize("example", ["alerts.yml", "grafana-dashboard.json"])
def test_the_prometheus_examples_use_only_metrics_we_export(example: str, got: Samples) -> None:
    rules = (Path(__file__).parents[2] / "examples/prometheus" / example).read_text()
    used = set(re.findall(r"\b(vipguard_[a-z_]+)", rules))
    exported = {name for name, _ in got}
    assert used, "no metric found in the rules"
    assert used <= exported, used - exported
