"""Notify hooks: the commands an operator configured to run when an instance changes state.

Hooks never sit on the decision path: `HookRunner.notify` only queues. One worker per instance
runs that instance's transitions strictly in the order they happened (and each transition's
commands in order), so a script always sees the last state last; instances do not wait for
each other. A hook that fails, hangs or does not exist is logged, counted and published on the
event bus, and never raised into the agent.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from ..config import NotifyConfig
from ..io.commands import CommandResult, RunAs, run_command
from . import logs
from .events import EventBus

# Transitions queued per instance; beyond this the oldest waiting one is dropped (a flapping
# instance must not queue hooks without bound, and the latest state matters most).
HOOK_BACKLOG = 100


# The arguments appended to every hook's command, in this order, and the same values in the
# environment. New ones go at the end, so that scripts written for the first four keep working.
ARGUMENT_VARIABLES = (
    "VIPGUARD_INSTANCE",
    "VIPGUARD_STATE",
    "VIPGUARD_PRIORITY",
    "VIPGUARD_REASON",
    "VIPGUARD_FAMILY",
)


@dataclass(frozen=True, slots=True)
class Transition:
    # The router's name ("web/ipv4" where the instance has VIPs of both families): transitions
    # are ordered and counted per router. ``instance`` is the name the operator wrote.
    router: str
    state: str
    priority: int
    reason: str
    config: NotifyConfig
    instance: str
    family: int

    def hooks(self) -> list[tuple[str, tuple[str, ...]]]:
        """(key, argv) of the commands to run; the key ("master", "any", ...) labels counts."""
        return list(self.config.hooks_for(self.state))

    def arguments(self) -> tuple[str, ...]:
        family = f"ipv{self.family}"
        return self.instance, self.state, str(self.priority), self.reason, family

    def environment(self) -> dict[str, str]:
        return dict(zip(ARGUMENT_VARIABLES, self.arguments(), strict=True))


class HookRunner:
    """Runs notify hooks in the background, in order per instance."""

    def __init__(
        self,
        bus: EventBus | None = None,
        *,
        backlog: int = HOOK_BACKLOG,
    ) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (router, hook key, outcome)
        self._bus = bus
        self._backlog = backlog
        self._queues: dict[str, deque[Transition]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def notify(
        self,
        router: str,
        state: str,
        priority: int,
        reason: str,
        config: NotifyConfig | None,
        *,
        family: int,
        instance: str | None = None,
    ) -> None:
        """Queue the hooks of one transition of ``router`` (a router of ``instance``, which
        defaults to the router's name); returns at once and never raises."""
        if config is None:
            return
        try:
            transition = Transition(
                router, state, priority, reason, config, instance or router, family
            )
            self._enqueue(transition)
        except Exception as error:  # the state change must go on whatever happens here
            logs.event(
                "hook_not_queued", logging.ERROR, instance=router, state=state, error=repr(error)
            )

    async def stop(self, timeout: float) -> None:
        """Let the queued hooks run for up to ``timeout`` seconds, then cancel what is left
        (a cancelled hook's process group is killed). Later transitions are not queued."""
        self._stopping = True
        workers = list(self._workers.values())
        if not workers:
            return
        _, unfinished = await asyncio.wait(workers, timeout=timeout)
        if unfinished:
            left = {  # the running transition and those still queued, per instance
                name: len(self._queues[name]) + 1
                for name, worker in self._workers.items()
                if worker in unfinished
            }
            logs.event("hooks_cancelled", logging.WARNING, timeout=timeout, left=left)
            for worker in unfinished:
                worker.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            for queue in self._queues.values():
                queue.clear()

    async def wait_idle(self) -> None:
        """Return once every queued hook has run."""
        while self._workers:
            await asyncio.wait(list(self._workers.values()))

    def summary(self) -> dict[str, Any]:
        """For the status answer: what runs, what waits, and outcomes so far."""
        outcomes: Counter[str] = Counter()
        for (_, _, outcome), count in self.counts.items():
            outcomes[outcome] += count
        return {
            "running": sorted(self._workers),
            "queued": sum(len(queue) for queue in self._queues.values()),
            "outcomes": dict(sorted(outcomes.items())),
        }

    # ------------------------------------------------------------------ queueing

    def _enqueue(self, transition: Transition) -> None:
        if not transition.hooks():
            return
        if self._stopping:
            self._report("hook_skipped", transition, logging.WARNING, why="the agent is stopping")
            return
        if transition.router not in self._workers:  # it starts once we yield to the loop
            self._workers[transition.router] = asyncio.get_running_loop().create_task(
                self._work(transition.router), name=f"hooks {transition.router}"
            )
        queue = self._queues.setdefault(transition.router, deque())
        if len(queue) >= self._backlog:
            self._drop(queue.popleft())
        queue.append(transition)

    def _drop(self, transition: Transition) -> None:
        for key, _ in transition.hooks():
            self.counts[(transition.router, key, "dropped")] += 1
        self._report(
            "hook_dropped",
            transition,
            logging.WARNING,
            why=f"more than {self._backlog} transitions waiting; the oldest is dropped",
        )

    def _report(self, name: str, transition: Transition, level: int, **fields: Any) -> None:
        details = {"instance": transition.router, "state": transition.state, **fields}
        logs.event(name, level, **details)
        if self._bus is not None:
            self._bus.publish(name, **details)

    # ------------------------------------------------------------------ running

    async def _work(self, instance: str) -> None:
        queue = self._queues.setdefault(instance, deque())
        try:
            while queue:  # nothing awaits between this test and the exit: no lost wake-up
                await self._run(queue.popleft())
        finally:
            del self._workers[instance]

    async def _run(self, transition: Transition) -> None:
        for key, argv in transition.hooks():
            result = await self._execute(transition, key, argv)
            self._finished(transition, key, argv, result)

    async def _execute(
        self, transition: Transition, key: str, argv: tuple[str, ...]
    ) -> CommandResult:
        user = transition.config.user_of(key)
        try:
            run_as = None if user is None else RunAs.lookup(user)
        except KeyError:  # removed since the configuration was checked
            return CommandResult(None, 0.0, error=f"no such user {user!r}")
        try:
            return await run_command(
                [*argv, *transition.arguments()],
                transition.config.timeout,
                run_as=run_as,
                env=transition.environment(),
            )
        except Exception as error:  # whatever goes wrong, the next hooks still run
            return CommandResult(None, 0.0, error=repr(error))

    def _finished(
        self, transition: Transition, key: str, argv: tuple[str, ...], result: CommandResult
    ) -> None:
        self.counts[(transition.router, key, result.outcome)] += 1
        fields: dict[str, Any] = {
            "hook": key,
            "command": shlex.join(argv),
            "outcome": result.outcome,
            "exit_code": result.exit_code,
            "duration_ms": round(result.duration * 1000, 1),
        }
        if not result.ok:
            lines = result.output.splitlines()
            fields["output"] = lines[-1] if lines else ""
        if result.error is not None:
            fields["error"] = result.error
        level = logging.INFO if result.ok else logging.WARNING
        self._report("hook_finished", transition, level, **fields)
