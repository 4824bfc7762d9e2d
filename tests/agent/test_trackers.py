"""Node fitness: trackers running real checks (the pure rise/fall and weight policy is in
tests/rules/test_checks.py)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from vipguard.agent.fitness import Tracker, TrackerStatus
from vipguard.agent.fitness import tracker as tracker_module
from vipguard.config import (
    Check,
    FileCheck,
    InterfaceCheck,
    Rhythm,
    ScriptCheck,
    TcpCheck,
    TrackerConfig,
)
from vipguard.io.probes import Outcome, ProbeResult
from vipguard.rules.checks import contribution

FAST = Rhythm(interval=0.02, timeout=1.0, rise=1, fall=1)
SOMEWHERE = TcpCheck(IPv4Address("192.0.2.1"), 80)  # never contacted: its probe is replaced

# --------------------------------------------------------------------------- tracker helpers


class Changes:
    """on_change recorder; ``until`` awaits the n-th report (bounded)."""

    def __init__(self) -> None:
        self.seen: list[TrackerStatus] = []
        self._arrived = asyncio.Event()

    def __call__(self, status: TrackerStatus) -> None:
        self.seen.append(status)
        self._arrived.set()

    async def until(self, count: int, timeout: float = 3.0) -> list[TrackerStatus]:
        async with asyncio.timeout(timeout):
            while len(self.seen) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.seen

    def states(self) -> list[tuple[bool | None, int | None]]:
        return [(status.up, status.value) for status in self.seen]


@asynccontextmanager
async def running(
    check: Check, rhythm: Rhythm = FAST, **options: Any
) -> AsyncIterator[tuple[Tracker, Changes]]:
    changes = Changes()
    tracker = Tracker(TrackerConfig("t", check, rhythm), changes, **options)
    tracker.start()
    try:
        yield tracker, changes
    finally:
        await tracker.stop()


def script(text: str, *args: str) -> ScriptCheck:
    return ScriptCheck(("/bin/sh", "-c", text, "sh", *args))


def fake_probe(
    monkeypatch: pytest.MonkeyPatch, probe: Callable[[], Awaitable[ProbeResult]]
) -> None:
    """Replaces the TCP probe, so a TcpCheck tracker runs ``probe``."""

    async def replacement(*_: object) -> ProbeResult:
        return await probe()

    monkeypatch.setattr(tracker_module, "probe_tcp", replacement)


class Fifo:
    """A named pipe a test script writes one line to: reading it awaits the script."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path

    async def line(self, timeout: float = 3.0) -> str:
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(fd, readable.set)
        data = b""
        try:
            async with asyncio.timeout(timeout):
                while not data.endswith(b"\n"):
                    readable.clear()
                    await readable.wait()
                    data += os.read(fd, 256)
        finally:
            loop.remove_reader(fd)
            os.close(fd)
        return data.decode().strip()

    def release(self) -> None:
        """Lets a reader blocked in open() go (it reads end of file)."""
        with contextlib.suppress(OSError):  # nobody was blocked on it
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))


async def exited(pid: int, timeout: float = 2.0) -> bool:
    """True once ``pid`` has exited (a zombie counts), awaited through a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(fd, gone.set)
    try:
        async with asyncio.timeout(timeout):
            await gone.wait()
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)


# --------------------------------------------------------------------------- script trackers


def test_script_tracker_reports_its_first_result_and_counts_checks() -> None:
    async def scenario() -> tuple[list[TrackerStatus], TrackerStatus]:
        async with running(script("echo all good")) as (tracker, changes):
            seen = await changes.until(1)
        return seen, tracker.status

    seen, final = asyncio.run(scenario())
    first = seen[0]
    assert (first.name, first.kind, first.up, first.value) == ("t", "script", True, None)
    assert first.detail == "exit 0: all good"
    assert first.checks == {"ok": 1}
    assert first.last_latency is not None and 0 < first.last_latency < 1
    assert final.up is True and final.checks["ok"] >= 1


def test_script_tracker_follows_rise_and_fall(tmp_path: Path) -> None:
    counter, sequence = tmp_path / "count", tmp_path / "sequence"
    sequence.write_text("1\n0\n0\n1\n1\n0\n1\n1\n1\n0\n0\n")  # exit codes; 0 afterwards
    text = (
        'n=$(($(cat "$1" 2>/dev/null || echo 0) + 1)); echo $n > "$1"; exit $(sed -n "${n}p" "$2")'
    )
    rhythm = Rhythm(interval=0.02, timeout=1.0, rise=2, fall=3)

    async def scenario() -> list[TrackerStatus]:
        async with running(script(text, str(counter), str(sequence)), rhythm) as (_, changes):
            return await changes.until(4)

    seen = asyncio.run(scenario())
    assert [(s.checks.total(), s.up) for s in seen] == [
        (1, False),
        (3, True),
        (9, False),
        (11, True),
    ]
    assert seen[2].detail == "exit 1"
    assert seen[3].checks == {"ok": 5, "failed": 6}


def test_script_past_its_timeout_is_a_timeout_and_its_process_group_dies(tmp_path: Path) -> None:
    fifo, check = hold_the_script_pids(tmp_path)

    async def scenario() -> tuple[TrackerStatus, list[bool]]:
        rhythm = Rhythm(interval=10.0, timeout=0.2, rise=1, fall=1)
        async with running(check, rhythm) as (_, changes):
            pids = [int(pid) for pid in (await fifo.line()).split()]
            (status,) = await changes.until(1)
            return status, [await exited(pid) for pid in pids]

    status, gone = asyncio.run(scenario())
    assert (status.up, status.detail, status.checks) == (
        False,
        "timeout after 0.2s",
        {"timeout": 1},
    )
    assert gone == [True, True]  # the shell and its background child


def hold_the_script_pids(tmp_path: Path) -> tuple[Fifo, ScriptCheck]:
    """A script that starts a background child, writes both pids to a FIFO and waits."""
    fifo = Fifo(tmp_path / "pids")
    return fifo, script('sleep 30 & echo $$ $! > "$1"; wait', str(fifo.path))


async def stop_and_reap(tracker: Tracker, pids: list[int]) -> tuple[float, list[bool]]:
    started = time.monotonic()
    await tracker.stop()
    elapsed = time.monotonic() - started
    return elapsed, [await exited(pid, timeout=0.5) for pid in pids]


def test_stop_is_bounded_and_kills_a_running_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo, check = hold_the_script_pids(tmp_path)
    spawn = asyncio.create_subprocess_exec

    async def scenario() -> tuple[float, list[bool], TrackerStatus]:
        spawned = asyncio.Event()

        async def spawn_and_tell(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
            process = await spawn(*args, **kwargs)
            spawned.set()  # run_command now owns the process: a cancel kills its group
            return process

        monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn_and_tell)
        tracker = Tracker(TrackerConfig("t", check, Rhythm(timeout=60.0)), Changes())
        tracker.start()
        pids = [int(pid) for pid in (await fifo.line()).split()]
        async with asyncio.timeout(3):
            await spawned.wait()
        return *(await stop_and_reap(tracker, pids)), tracker.status

    elapsed, gone, status = asyncio.run(scenario())
    assert elapsed < 0.5
    assert gone == [True, True]
    assert status.up is None and status.detail == "no result yet"


def test_stop_right_after_the_script_started_kills_its_whole_group(tmp_path: Path) -> None:
    fifo, check = hold_the_script_pids(tmp_path)

    async def scenario() -> list[bool]:
        tracker = Tracker(TrackerConfig("t", check, Rhythm(timeout=60.0)), Changes())
        tracker.start()
        pids = [int(pid) for pid in (await fifo.line()).split()]
        _, gone = await stop_and_reap(tracker, pids)
        for pid, dead in zip(pids, gone, strict=True):
            if not dead:
                os.kill(pid, signal.SIGKILL)  # clean up what the test found
        return gone

    assert asyncio.run(scenario()) == [True, True]


def test_hung_checks_never_delay_the_loop(tmp_path: Path) -> None:
    """A script that overruns its timeout and a file read that never returns, next to a timer:
    the timer still fires on time."""
    hung_file = Fifo(tmp_path / "nfs")
    rhythm = Rhythm(interval=0.02, timeout=0.15, rise=1, fall=1)

    async def timer_lag(duration: float, period: float = 0.005) -> float:
        loop = asyncio.get_running_loop()
        worst, end = 0.0, loop.time() + duration
        while loop.time() < end:
            due = loop.time() + period
            await asyncio.sleep(period)
            worst = max(worst, loop.time() - due)
        return worst

    async def scenario() -> tuple[float, TrackerStatus, TrackerStatus]:
        async with (
            running(script("sleep 30"), rhythm) as (hung_script, _),
            running(FileCheck(hung_file.path), rhythm) as (hung_read, _),
        ):
            lag = await timer_lag(0.5)
            return lag, hung_script.status, hung_read.status

    try:
        lag, script_status, file_status = asyncio.run(scenario())
    finally:
        hung_file.release()
    assert script_status.checks["timeout"] >= 2  # the timer ran across kills and respawns
    assert file_status.checks["timeout"] >= 2
    assert file_status.detail.startswith("timeout after 0.15s reading")
    assert lag < 0.025, f"the loop lagged {lag * 1000:.1f} ms"


def test_script_runs_as_the_configured_user() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run this test as root (it switches to user nobody)")
        pytest.skip("switching users needs root")

    async def scenario() -> TrackerStatus:
        check = ScriptCheck(("id", "-u"), user="nobody")
        async with running(check) as (_, changes):
            return (await changes.until(1))[0]

    status = asyncio.run(scenario())
    assert (status.up, status.detail) == (True, "exit 0: 65534")


def test_an_unknown_script_user_is_refused_when_the_tracker_is_made() -> None:
    check = ScriptCheck(("true",), user="no-such-user-vipguard")
    with pytest.raises(KeyError):
        Tracker(TrackerConfig("t", check), lambda _: None)


# --------------------------------------------------------------------------- file trackers


def test_file_tracker_reports_value_changes_and_goes_down_when_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "weight"
    path.write_text("5\n")
    rhythm = Rhythm(interval=0.02, timeout=1.0, rise=1, fall=2)

    async def scenario() -> list[TrackerStatus]:
        async with running(FileCheck(path, missing=None), rhythm) as (_, changes):
            await changes.until(1)
            path.write_text("7\n")
            await changes.until(2)
            path.unlink()
            return await changes.until(3)

    seen = asyncio.run(scenario())
    assert [(s.kind, s.up, s.value) for s in seen] == [
        ("file", True, 5),
        ("file", True, 7),
        ("file", False, None),
    ]
    assert seen[2].detail == "no such file or directory"
    assert seen[2].checks["failed"] == 2  # fall 2: the first failure kept the value


def test_a_missing_file_reads_as_0_so_a_drain_tracker_is_not_a_fault(tmp_path: Path) -> None:
    path = tmp_path / "drain"  # never written: after a reboot, or before the first drain
    rhythm = Rhythm(interval=0.02, timeout=1.0, rise=1, fall=1)

    async def scenario() -> list[TrackerStatus]:
        async with running(FileCheck(path), rhythm) as (_, changes):
            await changes.until(1)
            path.write_text("1\n")  # drained
            await changes.until(2)
            path.unlink()  # undrained by removing the file
            return await changes.until(3)

    seen = asyncio.run(scenario())
    assert [(s.up, s.value) for s in seen] == [(True, 0), (True, 1), (True, 0)]
    assert seen[0].detail == "no file: counts as 0"
    assert contribution(0, seen[0].up, seen[0].value, file=True) == (0, False)  # no Fault


# --------------------------------------------------------------------------- interface trackers


def test_interface_tracker_is_driven_by_link_events_without_rise_or_fall() -> None:
    rhythm = Rhythm(rise=5, fall=5)
    changes = Changes()
    tracker = Tracker(TrackerConfig("uplink", InterfaceCheck("eth1"), rhythm), changes)

    async def scenario() -> None:
        tracker.start()  # nothing to poll
        tracker.set_link(True)
        tracker.set_link(True)  # no change, no report
        tracker.set_link(False)
        await tracker.stop()

    asyncio.run(scenario())
    assert [(s.kind, s.up, s.detail) for s in changes.seen] == [
        ("interface", True, "link up"),
        ("interface", False, "link down"),
    ]
    assert tracker.status.checks == {"ok": 2, "failed": 1}


def test_set_link_is_only_for_interface_trackers() -> None:
    tracker = Tracker(TrackerConfig("t", script("true")), lambda _: None)
    with pytest.raises(TypeError, match="not an interface tracker"):
        tracker.set_link(True)


# --------------------------------------------------------------------------- the runner


def test_checks_start_one_interval_apart_and_never_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    async def measure(duration: float, interval: float) -> list[tuple[float, float]]:
        loop = asyncio.get_running_loop()
        spans: list[tuple[float, float]] = []
        enough = asyncio.Event()

        async def probe() -> ProbeResult:
            started = loop.time()
            await asyncio.sleep(duration)
            spans.append((started, loop.time()))
            if len(spans) == 5:
                enough.set()
            return ProbeResult("ok", duration, "fine")

        fake_probe(monkeypatch, probe)
        async with running(SOMEWHERE, Rhythm(interval=interval, timeout=1.0)):
            async with asyncio.timeout(3):
                await enough.wait()
        return spans

    quick = asyncio.run(measure(duration=0.005, interval=0.04))
    starts = [start for start, _ in quick]
    assert all(0.04 <= b - a < 0.1 for a, b in itertools.pairwise(starts))
    slow = asyncio.run(measure(duration=0.05, interval=0.01))
    for (_, end), (start, _) in itertools.pairwise(slow):
        assert 0 <= start - end < 0.03  # right after the previous one, never during it


def test_a_probe_raising_counts_as_an_error_and_the_tracker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    third = asyncio.Event()

    async def probe() -> ProbeResult:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        raise RuntimeError("probe bug")

    fake_probe(monkeypatch, probe)

    async def scenario() -> TrackerStatus:
        async with running(SOMEWHERE) as (tracker, changes):
            async with asyncio.timeout(3):
                await third.wait()
            await changes.until(1)
            return tracker.status

    status = asyncio.run(scenario())
    assert (status.up, status.detail) == (False, "probe failed: RuntimeError('probe bug')")
    assert status.checks["error"] >= 2


def test_a_probe_overstaying_its_timeout_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    async def probe() -> ProbeResult:
        await asyncio.Event().wait()  # ignores its own timeout
        raise AssertionError

    fake_probe(monkeypatch, probe)
    monkeypatch.setattr(tracker_module, "BACKSTOP_GRACE", 0.05)

    async def scenario() -> TrackerStatus:
        rhythm = Rhythm(interval=0.02, timeout=0.05, rise=1, fall=1)
        async with running(SOMEWHERE, rhythm) as (_, changes):
            return (await changes.until(1))[0]

    status = asyncio.run(scenario())
    assert (status.up, status.detail, status.checks) == (
        False,
        "timeout after 0.1s",
        {"timeout": 1},
    )


def test_a_failing_subscriber_does_not_stop_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    results = iter([True, False, True])
    done = asyncio.Event()

    async def probe() -> ProbeResult:
        ok = next(results, None)
        if ok is None:
            done.set()
            ok = True
        return ProbeResult("ok" if ok else "failed", 0.0, "x")

    fake_probe(monkeypatch, probe)
    reports: list[bool | None] = []

    def subscriber(status: TrackerStatus) -> None:
        reports.append(status.up)
        raise RuntimeError("subscriber bug")

    async def scenario() -> None:
        tracker = Tracker(TrackerConfig("t", SOMEWHERE, FAST), subscriber)
        tracker.start()
        async with asyncio.timeout(3):
            await done.wait()
        await tracker.stop()

    asyncio.run(scenario())
    assert reports == [True, False, True]


def test_since_is_the_clock_reading_at_the_last_change(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    outcomes: Iterator[Outcome] = iter(["ok", "ok", "failed"])

    async def probe() -> ProbeResult:
        return ProbeResult(next(outcomes, "failed"), 0.0, "x")

    fake_probe(monkeypatch, probe)

    async def scenario() -> list[TrackerStatus]:
        async with running(SOMEWHERE, clock=lambda: next(readings)) as (tracker, changes):
            assert tracker.status.since == 100.0  # made
            return await changes.until(2)

    seen = asyncio.run(scenario())
    assert [(s.up, s.since) for s in seen] == [(True, 101.0), (False, 102.0)]
