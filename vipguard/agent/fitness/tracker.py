"""The runner of one fitness tracker: checks on its rhythm, one at a time, and reports changes.

A check never delays anything else on the loop (VRRP adverts share it): probes are async and
bounded by the check's timeout, with a backstop here in case one overstays it. Interface
trackers are not polled; the runtime feeds them kernel link events through ``set_link``. A
process tracker checks on its rhythm and also at once when a process it found exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import assert_never

from ...config import (
    Check,
    FileCheck,
    HttpCheck,
    InterfaceCheck,
    ProcessCheck,
    ScriptCheck,
    TcpCheck,
    TrackerConfig,
)
from ...io.clock import monotonic
from ...io.commands import RunAs
from ...io.probes import NumberFile, ProbeResult, probe_http, probe_script, probe_tcp, tls_context
from ...io.processes import ProcessWatch
from ...rules.checks import Hysteresis
from .. import logs

BACKSTOP_GRACE = 1.0  # seconds a probe may overrun its own timeout before the runner cuts it off
STOP_TIMEOUT = 2.0  # seconds stop() waits for a cancelled check (a script's group being killed)

Probe = Callable[[], Awaitable[ProbeResult]]
KINDS: dict[type, str] = {
    InterfaceCheck: "interface",
    FileCheck: "file",
    ScriptCheck: "script",
    TcpCheck: "tcp",
    HttpCheck: "http",
    ProcessCheck: "process",
}


@dataclass(frozen=True, slots=True)
class TrackerStatus:
    """A snapshot. ``up`` None: no result yet (counts as down). ``value``: a file tracker's
    number while it is up. ``checks``: results so far by outcome (ok, failed, timeout, error).
    ``since``: when ``up`` last changed (the tracker's clock), or when the tracker was made."""

    name: str
    kind: str
    up: bool | None
    value: int | None
    detail: str
    last_latency: float | None
    checks: Counter[str]
    since: float


def probe_for(check: Check, timeout: float, watch: ProcessWatch | None = None) -> Probe | None:
    """The probe that runs ``check`` (None for an interface: the kernel reports its link); a
    process check uses ``watch`` (its owner closes it). Raises KeyError if a script's user does
    not exist."""
    match check:
        case InterfaceCheck():
            return None
        case FileCheck(path, missing):
            return partial(NumberFile(path, missing).read, timeout)
        case ScriptCheck(command, user):
            run_as = RunAs.lookup(user) if user is not None else None
            return partial(probe_script, command, timeout, run_as)
        case TcpCheck(host, port):
            return partial(probe_tcp, host, port, timeout)
        case HttpCheck(url, expect_status, verify_tls):
            tls = tls_context(verify_tls) if url.lower().startswith("https:") else None
            return partial(probe_http, url, expect_status, timeout, verify_tls, tls=tls)
        case ProcessCheck(name, pidfile):
            return partial((watch or ProcessWatch(name, pidfile)).check, timeout)
        case _:
            assert_never(check)


class Tracker:
    """Runs one ``[[tracker]]`` and calls ``on_change(status)`` on its first result, whenever it
    goes up or down, and whenever a file tracker's value changes."""

    def __init__(
        self,
        config: TrackerConfig,
        on_change: Callable[[TrackerStatus], None],
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.config = config
        self._on_change = on_change
        self._clock = clock
        self._wakeup = asyncio.Event()  # set when a checked process exits: check at once
        self._watch = _watch_for(config.check, self._wakeup.set)
        self._probe = probe_for(config.check, config.rhythm.timeout, self._watch)
        self._hysteresis = Hysteresis(config.rhythm.rise, config.rhythm.fall)
        self._checks: Counter[str] = Counter()
        kind = KINDS[type(config.check)]
        self._status = TrackerStatus(
            config.name, kind, None, None, "no result yet", None, Counter(), clock()
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def status(self) -> TrackerStatus:
        return self._status

    def start(self) -> None:
        """Starts checking (one task); an interface tracker has nothing to poll."""
        if self._task is not None:
            raise RuntimeError(f"tracker {self.name} is already running")
        if self._probe is not None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(self._probe), name=f"tracker {self.name}")

    async def stop(self) -> None:
        """Cancels the running check (a script's process group is killed) and waits for it,
        at most STOP_TIMEOUT seconds."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        _, pending = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if pending:
            logs.event("tracker_stop_slow", logging.WARNING, tracker=self.name)
        if self._watch is not None:
            self._watch.close()

    def set_link(self, up: bool) -> None:
        """A kernel link event for an interface tracker: applies at once, without rise or fall."""
        if not isinstance(self.config.check, InterfaceCheck):
            raise TypeError(f"tracker {self.name} is not an interface tracker")
        result = ProbeResult("ok" if up else "failed", 0.0, f"link {'up' if up else 'down'}")
        self._record(result, self._hysteresis.force(up))

    async def _run(self, probe: Probe) -> None:
        loop = asyncio.get_running_loop()
        while True:
            next_start = loop.time() + self.config.rhythm.interval
            result = await self._check(probe)
            self._record(result, self._hysteresis.observe(result.ok))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_start - loop.time())):
                    await self._wakeup.wait()
            self._wakeup.clear()

    async def _check(self, probe: Probe) -> ProbeResult:
        clock = asyncio.get_running_loop().time  # a stopwatch, like the rhythm in _run
        started = clock()
        limit = self.config.rhythm.timeout + BACKSTOP_GRACE
        try:
            async with asyncio.timeout(limit):
                return await probe()
        except TimeoutError:
            return ProbeResult("timeout", clock() - started, f"timeout after {limit:g}s")
        except Exception as error:  # a probe bug must not end the tracker
            logs.event("tracker_probe_failed", logging.ERROR, tracker=self.name, error=repr(error))
            return ProbeResult("error", clock() - started, f"probe failed: {error!r}")

    def _record(self, result: ProbeResult, changed: bool) -> None:
        self._checks[result.outcome] += 1
        logs.debug(
            "tracker_checked",
            tracker=self.name,
            outcome=result.outcome,
            ms=round(result.latency * 1000, 1),
            detail=result.detail,
        )
        before = self._status
        up = self._hysteresis.up
        value = (result.value if result.ok else before.value) if up else None
        self._status = TrackerStatus(
            name=before.name,
            kind=before.kind,
            up=up,
            value=value,
            detail=result.detail,
            last_latency=result.latency,
            checks=self._checks.copy(),
            since=self._clock() if changed else before.since,
        )
        if changed or value != before.value:
            self._report(changed)

    def _report(self, changed: bool) -> None:
        status = self._status
        event = ("tracker_up" if status.up else "tracker_down") if changed else "tracker_value"
        level = logging.INFO if status.up else logging.WARNING
        extra = {} if status.value is None else {"value": status.value}
        logs.event(
            event, level, tracker=status.name, kind=status.kind, **extra, detail=status.detail
        )
        try:
            self._on_change(status)
        except Exception as error:  # the subscriber's bug: keep checking
            logs.event(
                "tracker_callback_failed", logging.ERROR, tracker=status.name, error=repr(error)
            )


def _watch_for(check: Check, on_exit: Callable[[], None]) -> ProcessWatch | None:
    if isinstance(check, ProcessCheck):
        return ProcessWatch(check.name, check.pidfile, on_exit)
    return None
