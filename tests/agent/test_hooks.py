"""Notify hooks: real scripts, strictly ordered per instance, parallel across instances,
outcomes counted and published, a bounded backlog and a bounded stop."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vipguard.agent import logs
from vipguard.agent.events import EventBus, Subscription
from vipguard.agent.hooks import HookRunner
from vipguard.config import NotifyConfig

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), 20)

    return asyncio.run(bounded())


def script(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def recorder(tmp_path: Path) -> tuple[str, Path]:
    """A hook that appends its arguments and two of its environment variables to a file."""
    log = tmp_path / "calls.log"
    body = f'echo "$* env=$VIPGUARD_INSTANCE/$VIPGUARD_STATE" >> {log}'
    return script(tmp_path, "record.sh", body), log


def notify(**commands: str | tuple[str, ...]) -> NotifyConfig:
    argvs = {key: (value,) if isinstance(value, str) else value for key, value in commands.items()}
    return NotifyConfig(tuple(argvs.items()), timeout=5.0)


async def finished(subscription: Subscription, count: int) -> list[dict[str, Any]]:
    """The next ``count`` hook_finished events (bounded)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        event = await asyncio.wait_for(anext(subscription), 10)
        if event["event"] == "hook_finished":
            events.append(event)
    return events


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """What the agent logs meanwhile (at INFO and above)."""
    handler, level = Capture(), logs.LOGGER.level
    logs.LOGGER.addHandler(handler)
    logs.LOGGER.setLevel(logging.INFO)
    yield handler.records
    logs.LOGGER.removeHandler(handler)
    logs.LOGGER.setLevel(level)


def test_hooks_run_in_notify_order_with_the_arguments_and_environment(tmp_path: Path) -> None:
    hook, log = recorder(tmp_path)
    config = notify(master=(hook, "own"), backup=(hook, "own"), any=(hook, "any"))
    states = ["backup", "master"] * 15

    async def scenario() -> HookRunner:
        runner = HookRunner()
        for n, state in enumerate(states):
            runner.notify("web", state, 100 + n, f"reason{n}", config, family=4)
        await asyncio.wait_for(runner.wait_idle(), 15)
        return runner

    runner = run(scenario)
    expected = []
    for n, state in enumerate(states):
        for which in ("own", "any"):
            expected.append(f"{which} web {state} {100 + n} reason{n} ipv4 env=web/{state}")
    assert log.read_text().splitlines() == expected
    assert runner.counts[("web", "master", "ok")] == 15
    assert runner.counts[("web", "any", "ok")] == 30
    assert runner.summary() == {"running": [], "queued": 0, "outcomes": {"ok": 60}}


def test_a_state_without_a_hook_runs_only_any_and_no_hooks_at_all_is_fine(tmp_path: Path) -> None:
    hook, log = recorder(tmp_path)

    async def scenario() -> None:
        runner = HookRunner()
        runner.notify("web", "fault", 0, "interface_down", notify(any=hook), family=4)
        runner.notify(
            "web", "fault", 0, "interface_down", notify(master=hook), family=4
        )  # nothing to run
        runner.notify("web", "fault", 0, "interface_down", None, family=4)
        await asyncio.wait_for(runner.wait_idle(), 10)

    run(scenario)
    assert log.read_text().splitlines() == ["web fault 0 interface_down ipv4 env=web/fault"]


def test_a_slow_hook_of_one_instance_does_not_delay_another(tmp_path: Path) -> None:
    slow = script(tmp_path, "slow.sh", "sleep 30")
    fast, log = recorder(tmp_path)

    async def scenario() -> None:
        bus = EventBus()
        events = bus.subscribe()
        runner = HookRunner(bus)
        runner.notify("db", "master", 100, "startup", notify(master=slow), family=4)
        runner.notify("web", "master", 100, "startup", notify(master=fast), family=4)
        (done,) = await finished(events, 1)
        assert (done["instance"], done["outcome"]) == ("web", "ok")
        assert runner.summary()["running"] == ["db"]  # still sleeping
        await runner.stop(timeout=0.1)

    started = time.monotonic()
    run(scenario)
    assert time.monotonic() - started < 10
    assert log.read_text().splitlines() == ["web master 100 startup ipv4 env=web/master"]


def test_a_hook_that_hangs_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hanging = script(tmp_path, "hang.sh", f"echo $$ > {pid_file}\nsleep 30")

    async def scenario() -> dict[str, Any]:
        bus = EventBus()
        events = bus.subscribe()
        runner = HookRunner(bus)
        config = NotifyConfig((("master", (hanging,)),), timeout=0.3)
        runner.notify("web", "master", 100, "startup", config, family=4)
        (done,) = await finished(events, 1)
        assert runner.counts[("web", "master", "timeout")] == 1
        return done

    started = time.monotonic()
    done = run(scenario)
    assert time.monotonic() - started < 10
    assert done["outcome"] == "timeout"
    assert done["exit_code"] is None
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_failures_are_counted_published_and_logged_as_warnings(
    tmp_path: Path, records: list[logging.LogRecord]
) -> None:
    failing = script(tmp_path, "fail.sh", 'echo starting\necho "disk full" >&2\nexit 3')
    missing = str(tmp_path / "does-not-exist.sh")

    async def scenario() -> tuple[HookRunner, list[dict[str, Any]]]:
        bus = EventBus()
        events = bus.subscribe()
        runner = HookRunner(bus)
        runner.notify(
            "web", "backup", 50, "preempted", notify(backup=failing, any=missing), family=4
        )
        return runner, await finished(events, 2)

    runner, (failed, error) = run(scenario)
    assert failed["outcome"] == "failed"
    assert (failed["hook"], failed["exit_code"], failed["output"]) == ("backup", 3, "disk full")
    assert error["outcome"] == "error"
    assert error["hook"] == "any"
    assert "does-not-exist.sh" in error["error"]
    assert runner.counts == {("web", "backup", "failed"): 1, ("web", "any", "error"): 1}
    logged = [r for r in records if r.getMessage() == "hook_finished"]
    assert [r.levelno for r in logged] == [logging.WARNING, logging.WARNING]
    fields = logged[0].fields  # type: ignore[attr-defined]
    assert fields["instance"] == "web"
    assert fields["state"] == "backup"
    assert fields["command"] == failing
    assert fields["duration_ms"] >= 0


def test_a_full_backlog_drops_the_oldest_and_keeps_the_order(
    tmp_path: Path, records: list[logging.LogRecord]
) -> None:
    hook, log = recorder(tmp_path)

    async def scenario() -> HookRunner:
        runner = HookRunner(backlog=3)
        for n in range(10):  # all queued before the worker first runs
            runner.notify("web", "master", n, "flap", notify(master=hook), family=4)
        await asyncio.wait_for(runner.wait_idle(), 10)
        return runner

    runner = run(scenario)
    assert [line.split()[2] for line in log.read_text().splitlines()] == ["7", "8", "9"]
    assert runner.counts[("web", "master", "dropped")] == 7
    assert runner.counts[("web", "master", "ok")] == 3
    dropped = [r for r in records if r.getMessage() == "hook_dropped"]
    assert len(dropped) == 7
    assert all(r.levelno == logging.WARNING for r in dropped)


def test_stop_waits_a_bounded_time_then_cancels_and_refuses_later_transitions(
    tmp_path: Path, records: list[logging.LogRecord]
) -> None:
    slow = script(tmp_path, "slow.sh", "sleep 30")
    hook, log = recorder(tmp_path)

    async def scenario() -> HookRunner:
        runner = HookRunner()
        for instance in ("web", "db"):
            for _ in range(3):
                runner.notify(instance, "master", 100, "startup", notify(master=slow), family=4)
        await runner.stop(timeout=0.3)
        runner.notify("web", "backup", 100, "shutdown", notify(backup=hook), family=4)
        assert runner.summary()["running"] == []
        assert runner.summary()["queued"] == 0
        return runner

    started = time.monotonic()
    runner = run(scenario)
    assert time.monotonic() - started < 10
    assert not log.exists()
    assert not any(outcome == "ok" for (_, _, outcome) in runner.counts)
    (cancelled,) = [r for r in records if r.getMessage() == "hooks_cancelled"]
    assert cancelled.fields["left"] == {"web": 3, "db": 3}  # type: ignore[attr-defined]
    assert any(r.getMessage() == "hook_skipped" for r in records)


def test_stop_lets_quick_hooks_finish(tmp_path: Path) -> None:
    hook, log = recorder(tmp_path)

    async def scenario() -> None:
        runner = HookRunner()
        runner.notify("web", "master", 100, "startup", notify(master=hook), family=4)
        await runner.stop(timeout=10)

    run(scenario)
    assert log.read_text().splitlines() == ["web master 100 startup ipv4 env=web/master"]


def test_notify_without_an_event_loop_logs_and_does_not_raise(
    tmp_path: Path, records: list[logging.LogRecord]
) -> None:
    hook, _ = recorder(tmp_path)
    runner = HookRunner()
    runner.notify("web", "master", 100, "startup", notify(master=hook), family=4)
    assert [r.getMessage() for r in records] == ["hook_not_queued"]
    assert runner.summary()["queued"] == 0  # nothing stale left to run later


def test_a_dual_stack_router_hook_gets_the_instance_as_written_and_the_family_apart(
    tmp_path: Path,
) -> None:
    log = tmp_path / "calls.log"
    env = "$VIPGUARD_INSTANCE $VIPGUARD_FAMILY $VIPGUARD_STATE $VIPGUARD_PRIORITY $VIPGUARD_REASON"
    hook = script(tmp_path, "record.sh", f'echo "$# $* env={env}" >> {log}')

    async def scenario() -> HookRunner:
        runner = HookRunner()
        for family in (4, 6):
            router = f"web/ipv{family}"  # the routers of instance "web" (IPv4 and IPv6 VIPs)
            runner.notify(
                router, "master", 150, "startup", notify(master=hook), family=family, instance="web"
            )
        await asyncio.wait_for(runner.wait_idle(), 10)
        return runner

    runner = run(scenario)
    assert sorted(log.read_text().splitlines()) == [
        "5 web master 150 startup ipv4 env=web ipv4 master 150 startup",
        "5 web master 150 startup ipv6 env=web ipv6 master 150 startup",
    ]
    # counted (and ordered) per router, as the metrics label them
    assert runner.counts == {("web/ipv4", "master", "ok"): 1, ("web/ipv6", "master", "ok"): 1}


def test_a_hook_with_a_user_runs_as_that_user_and_the_others_as_the_agent() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run this test as root (it switches to user nobody)")
        pytest.skip("switching users needs root (CAP_SETUID and CAP_SETGID)")
    # pytest's tmp_path is private to root: nobody could neither run the script nor answer
    with tempfile.TemporaryDirectory(prefix="vipguard-hooks-") as name:
        shared = Path(name)
        shared.chmod(0o777)
        hook = script(shared, "whoami.sh", f'id -u > {shared}/"$1"; echo "$USER" >> {shared}/"$1"')
        commands = (("master", (hook, "as-nobody")), ("any", (hook, "as-agent")))
        config = NotifyConfig(commands, timeout=5.0, users=(("master", "nobody"),))

        async def scenario() -> None:
            runner = HookRunner()
            runner.notify("web", "master", 150, "startup", config, family=4)
            await asyncio.wait_for(runner.wait_idle(), 10)

        run(scenario)
        assert (shared / "as-nobody").read_text().split() == ["65534", "nobody"]
        assert (shared / "as-agent").read_text().split() == [str(os.geteuid())]
