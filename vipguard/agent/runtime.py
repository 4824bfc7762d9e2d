"""The agent's lifecycle: set-up, the event loop's wiring, graceful shutdown.

Start-up order matters: every interface is resolved and every VIP of the configuration that a
crashed predecessor left behind is removed *before* any router enters a state, so a restarted node
never answers for a VIP it does not own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, assert_never

from ..config import Config, ConfigError, InstanceConfig, load
from ..io.clock import Clock, SteadyWallClock
from ..io.netlink import InterfaceMissing
from ..io.scheduling import keep_gc_off_the_protocol_path, make_realtime
from ..proto.addresses import IPAddress
from ..proto.effects import StateChanged
from . import logs, preflight, signals
from .control import ControlServer, ControlSocketBusy
from .driver import RouterDriver
from .events import EventBus, events_handler
from .fitness import Fitness, TrackerStatus
from .hooks import HookRunner
from .kernel import Kernel, WatcherPort
from .links import LinkEvents
from .maintenance import Maintenance, MaintenanceStore
from .metrics import MetricsSubsystem
from .neighbours import close_suppression
from .plan import (
    AddRouter,
    KeepRouter,
    ReloadPlan,
    RemoveRouter,
    ReplaceRouter,
    RouterPlan,
    diff,
)
from .ports import Port, Ports
from .preflight import StartupError
from .routers import RouterRecord, Routers, announce_policy, labels, resolve_source
from .sandbox import startup_problems
from .sequences import SequenceStore
from .snapshot import AgentSnapshot, RouterSnapshot, SnapshotBoard
from .status import answer as status_answer
from .subsystem import (
    EventsSubsystem,
    FitnessSubsystem,
    HooksSubsystem,
    MaintenanceSubsystem,
    Subsystem,
    SyncSubsystem,
)
from .vmacs import VirtualMacs
from .watchdog import Watchdog

SUBSYSTEM_STOP_TIMEOUT = 5.0  # e.g. the hooks of the last transitions may run this long


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A reload plan whose new routers' interfaces and sources resolved: it can be applied."""

    changes: ReloadPlan
    ports: dict[str, Port]
    sources: list[IPAddress]


class Agent:
    def __init__(
        self, config: Config, kernel: Kernel | None = None, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.kernel = Kernel.real() if kernel is None else kernel
        self.clock: Clock = SteadyWallClock() if clock is None else clock
        self.netlink = self.kernel.netlink
        self.notifier = self.kernel.notifier
        # Fed from the event loop (a stalled loop makes systemd restart us), on its wake-ups.
        self.watchdog = Watchdog(self.notifier.watchdog, self.notifier.watchdog_interval or 0.0)
        self._watcher: WatcherPort | None = None  # opened before the first link is read
        self.ports = Ports(self.kernel, self.clock)
        self.vmacs = VirtualMacs(self.netlink, self.kernel.open_socket, self.kernel.open_announcer)
        self.routers = Routers(
            netlink=self.netlink,
            ports=self.ports,
            vmacs=self.vmacs,
            sequences=SequenceStore(config.agent.state_dir),
            clock=self.clock,
            on_failure=self.fail,
            on_transition=self._transition_observed,
            on_wake=self.watchdog.awake,
        )
        self._stop = asyncio.Event()
        self._stop_reason = "stop requested"
        self._tasks: list[asyncio.Task[Any]] = []
        self.exit_status = 0
        self._started = False
        self._reloading = asyncio.Lock()
        self.events = EventBus(clock=lambda: self.clock.wall_ns() / 1e9)
        self.hooks = HookRunner(self.events)
        self.fitness = Fitness(self._tracker_changed, lambda: self.clock.now().monotonic)
        self.in_maintenance = Maintenance(MaintenanceStore(config.agent.state_dir), self.events)
        self.snapshots = SnapshotBoard(self.snapshot)
        self._started_at = self.clock.now().monotonic
        self.sync = SyncSubsystem(self.routers)
        self._links = LinkEvents(self.netlink, self.ports, self.routers, self.fitness, self._spawn)
        self._maintenance_subsystem = MaintenanceSubsystem(self.in_maintenance, self.routers)
        self._fitness_subsystem = FitnessSubsystem(self.fitness, self.routers, self.netlink)
        self._hooks_subsystem = HooksSubsystem(self.hooks)
        self._events_subsystem = EventsSubsystem(self.events)
        # Started in this order (maintenance first: an unreadable file refuses the start-up
        # before any interface is touched), stopped in this order after the routers.
        self.subsystems: list[Subsystem[object]] = [
            self._maintenance_subsystem,
            self._fitness_subsystem,
            self.sync,
            self._hooks_subsystem,
            self._events_subsystem,
            MetricsSubsystem(self.snapshots),  # last: its shutdown waits up to half a second
        ]
        self.control = ControlServer(
            config.agent.control_socket,
            {
                "status": self.status,
                "ping": lambda _: {},
                "reload": self.reload,
                "events": events_handler(self.events),
                "maintenance": self.maintenance,
            },
        )

    @property
    def drivers(self) -> list[RouterDriver]:
        return self.routers.drivers

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        """Serve until stopped; the exit status (1 after a failure that forced the stop)."""
        _log_warnings(self.config)
        try:
            try:
                self.control.claim()
            except ControlSocketBusy as error:
                raise StartupError(str(error)) from None
            except OSError as error:
                raise StartupError(preflight.control_socket_problem(self.config, error)) from None
            self._check_before_touching()
            await self._set_up()
            await self.control.start()
            if not self._stop.is_set():  # a signal during set-up: never take a VIP just to drop it
                self._tune_scheduling()
                self._listen()
                for record in self.routers:
                    self.routers.start(record)
                self._started = True
                self.notifier.ready(f"{len(self.routers)} virtual routers running")
                logs.event(
                    "agent_started",
                    instances=len(self.routers),
                    pid=os.getpid(),
                    control_socket=self.config.agent.control_socket,
                )
            await self._stop.wait()
        except StartupError as error:  # said before agent_stopped, by _shutdown
            self._refuse(str(error))
        except PermissionError as error:  # a privilege the checks did not foresee
            self._refuse(f"{error}: {preflight.GRANT}")
        except OSError as error:  # no router has started: nothing is bound, nothing to undo
            self._refuse(f"start-up failed: {error}")
        finally:
            await self._shutdown()
        return self.exit_status

    def _check_before_touching(self) -> None:
        """Privileges and directories, before any interface is touched."""
        logs.debug(
            "agent_starting",
            config=self.config.path,
            instances=len(self.config.instances),
            pid=os.getpid(),
            uid=os.geteuid(),
        )
        problems = preflight.problems(
            self.config, self.kernel.can_open_raw_sockets, self.kernel.can_administer_network
        )
        if problems:
            raise StartupError("; ".join(problems))
        _check_sandbox(self.config)

    def _refuse(self, problem: str) -> None:
        """The start-up failed: say why, exit 1."""
        logs.event("startup_failed", logging.ERROR, error=problem)
        self.exit_status = 1
        self.stop("startup failed")

    def _tune_scheduling(self) -> None:
        priority = self.config.agent.realtime_priority
        if priority:
            problem = make_realtime(priority)
            if problem:
                logs.event("realtime_refused", logging.WARNING, priority=priority, error=problem)
            else:
                logs.event("realtime", priority=priority)
        keep_gc_off_the_protocol_path()

    def fail(self, error: BaseException) -> None:
        """Something that must not happen did: release everything gracefully, exit non-zero,
        and let systemd restart a clean agent."""
        self.exit_status = 1
        self.stop(f"failure: {error!r}")

    def stop(self, reason: str = "stop requested") -> None:
        if not self._stop.is_set():
            self._stop_reason = reason
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """Every signal that would end the process stops it gracefully or does something
        documented (see agent/signals.py)."""
        actions = signals.Actions(
            stop=self._stop_on_signal,
            reload=self._reload_on_signal,
            dump_status=lambda: self._dump(signals.dump_status),
            dump_stats=lambda: self._dump(signals.dump_stats),
        )
        signals.install(asyncio.get_running_loop(), actions)

    def _stop_on_signal(self, number: int) -> None:
        if not self._stop.is_set() and self.exit_status == 0:
            self.exit_status = signals.exit_status(number)
        self.stop(f"signal {signals.name(number)}")

    def _dump(self, dump: Callable[[dict[str, Any]], None]) -> None:
        if not self._started or self._stop.is_set():
            logs.event("dump_ignored", logging.WARNING, hint="the agent is starting or stopping")
            return
        dump(self.status({}))

    def _reload_on_signal(self) -> None:
        if not self._started or self._stop.is_set():
            logs.event("reload_ignored", logging.WARNING, hint="SIGHUP before start-up completed")
            return
        task = asyncio.create_task(self.reload(), name="reload")
        task.add_done_callback(_report_failure)
        self._tasks.append(task)

    async def _shutdown(self) -> None:
        self.notifier.stopping()
        self.watchdog.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(r.driver.stop() for r in self.routers), return_exceptions=True)
        self.routers.save_sequences()
        for subsystem in self.subsystems:
            try:
                await subsystem.stop(SUBSYSTEM_STOP_TIMEOUT)
            except Exception as error:  # the others must stop all the same
                logs.event(
                    "subsystem_stop_failed", logging.ERROR, name=subsystem.name, error=repr(error)
                )
        await self.control.close()
        self.ports.close()
        await self.vmacs.remove_all()
        close_suppression(self.routers.suppression)
        if self._watcher is not None:
            asyncio.get_running_loop().remove_reader(self._watcher.fileno())
            self._watcher.close()
        self.netlink.close()
        logs.event("agent_stopped", reason=self._stop_reason, exit_status=self.exit_status)

    # ------------------------------------------------------------------ set-up

    async def _set_up(self) -> None:
        """Subsystems first, then every router of the configuration as a reload from nothing
        would add it (the subsystems adopting them), none started yet."""
        self._watcher = self.kernel.open_watcher()  # no link change missed from here on
        self.snapshots.publish()  # the first, before /metrics may be asked for one
        for subsystem in self.subsystems:
            await subsystem.start(self.config)
        prepared = await self._prepare(diff({}, self.config.agent, self.config))
        self.routers.suppression = self.kernel.open_suppression()  # lifts a predecessor's too
        await self._apply(prepared, self.config, _summary(), start=False)

    async def _prepare(self, changes: ReloadPlan) -> Prepared:
        """Resolve the new routers' interfaces and advert sources; refuse (StartupError) with
        nothing changed if one does not resolve."""
        starting = changes.starting()
        try:
            ports = await self.ports.prepare(plan.instance.interface for plan in starting)
        except InterfaceMissing as error:
            raise StartupError(f"{error}: fix `interface` in {self.config.path}") from None
        try:
            sources = [
                await resolve_source(self.netlink, plan, ports[plan.instance.interface].link)
                for plan in starting
            ]
        except BaseException:
            self.ports.abandon(ports)
            raise
        return Prepared(changes, ports, sources)

    async def _apply(
        self, prepared: Prepared, config: Config, summary: dict[str, list[str]], *, start: bool
    ) -> None:
        """Run ``prepared``'s actions, recording in ``summary`` what was done as it goes; the
        new routers start at once if ``start`` (a reload), otherwise the caller starts them."""
        self.ports.adopt(prepared.ports)
        for action in prepared.changes.actions:
            match action:
                case RemoveRouter(running) | ReplaceRouter(running, _):
                    await self.routers.remove(self.routers.records[running.key])
                    if isinstance(action, RemoveRouter):
                        summary["removed"].append(running.name)
                case KeepRouter(running, plan):
                    changed = self._keep(self.routers.records[running.key], plan)
                    summary["changed" if changed else "kept"].append(plan.name)
                case AddRouter():
                    pass  # below, with the replacements' new routers
                case _:
                    assert_never(action)
        starting = prepared.changes.starting()
        await self._remove_stale_vips(starting)
        new_plans = [a.plan for a in prepared.changes.actions if isinstance(a, AddRouter)]
        made = []
        for plan, source in zip(starting, prepared.sources, strict=True):
            made.append(await self._add_router(plan, source))
            if start:
                self.ports.watch()
            summary["added" if plan in new_plans else "changed"].append(plan.name)
        self.config = config
        try:
            await self._reload_subsystems(config)  # trackers first: new routers know them
        finally:  # even if one failed: every router runs, and in its group
            for record in made if start else ():
                self.routers.start(record)

    def _keep(self, record: RouterRecord, plan: RouterPlan) -> bool:
        """Reconfigure a router in place; whether its configuration changed."""
        driver = record.driver
        driver.name = plan.name
        record.plan = plan
        return driver.reconfigure(
            plan.instance.router_config(plan.family, driver.router.config.source),
            announce_policy(plan),
            labels(plan),
        )

    async def _reload_subsystems(self, config: Config) -> None:
        """Every subsystem adopts ``config``, even after another failed (the first error is
        raised once all have run)."""
        failure: Exception | None = None
        for subsystem in self.subsystems:
            try:
                await subsystem.reload(config)
            except Exception as error:
                failure = failure or error
        if failure is not None:
            raise failure

    async def _remove_stale_vips(self, plans: list[RouterPlan]) -> None:
        for plan in plans:
            index = self.ports.by_name[plan.instance.interface].link.index
            for vip in plan.instance.vips_of(plan.family):
                if await self.netlink.remove_address(index, vip.interface):
                    logs.event(
                        "stale_vip_removed", logging.WARNING, instance=plan.name, vip=vip.interface
                    )

    async def _add_router(self, plan: RouterPlan, source: IPAddress) -> RouterRecord:
        port = self.ports.by_name[plan.instance.interface]
        record = await self.routers.add(plan, port, source)
        if plan.instance.name in self.in_maintenance.names:
            record.driver.set_maintenance(True)  # before start: it starts in Maintenance
        return record

    # ------------------------------------------------------------------ running

    def _listen(self) -> None:
        self.ports.watch()
        assert self._watcher is not None  # opened by _set_up
        loop = asyncio.get_running_loop()
        loop.add_reader(self._watcher.fileno(), self._links.readable, self._watcher)
        if self.notifier.watchdog_interval:
            self.watchdog.start()

    def _spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(job, name=name)
        task.add_done_callback(_report_failure)
        self._tasks.append(task)

    # ------------------------------------------------------------------ reload

    async def reload(self, _request: dict[str, Any] | None = None) -> dict[str, Any]:
        """Re-read the configuration file and apply the difference (SIGHUP, `vipguard reload`).

        Validate (the file, the sandbox), prepare (new interfaces and advert sources), apply:
        a refusal before the apply changes nothing. Unchanged instances are not touched (their
        VIPs stay, no packet is lost); changed ones are reconfigured in place; removed ones stop
        gracefully (priority 0, VIPs released)."""
        if not self._started:
            return {"ok": False, "error": "the agent is still starting; reload when it runs"}
        async with self._reloading:  # one at a time, each reading the file as it is then
            path = self.config.path
            try:
                config = await asyncio.to_thread(load, path)
            except ConfigError as error:
                problems = [str(problem) for problem in error.problems]
                for problem in problems:
                    logs.event("reload_refused", logging.WARNING, problem=problem)
                error_text = f"{path} is invalid; the running configuration stays"
                return {"ok": False, "error": error_text, "problems": problems}
            _log_warnings(config)
            try:
                prepared = await self._validate_and_prepare(config)
            except StartupError as error:
                logs.event("reload_refused", logging.WARNING, problem=str(error))
                return {"ok": False, "error": f"{error}; the running configuration stays"}
            summary = _summary()
            try:
                await self._apply(prepared, config, summary, start=True)
            except Exception as error:  # e.g. a socket or macvlan failed midway: say what ran
                done = "; ".join(f"{k}: {', '.join(v) or '-'}" for k, v in summary.items())
                logs.event("reload_failed", logging.ERROR, error=repr(error), applied=done)
                return {"ok": False, "error": f"reload failed midway ({error}); applied: {done}"}
        applied = {key: ",".join(names) or "-" for key, names in summary.items()}
        logs.event("reloaded", logging.INFO, **applied)
        return {**summary, "warnings": [str(warning) for warning in config.warnings]}

    async def _validate_and_prepare(self, config: Config) -> Prepared:
        changes = diff({r.plan.key: r.plan for r in self.routers}, self.config.agent, config)
        if changes.agent_settings_ignored:
            logs.event(
                "reload_agent_settings_ignored",
                logging.WARNING,
                hint="[agent] settings take effect at the next restart",
            )
        _check_sandbox(config)
        return await self._prepare(changes)

    # ------------------------------------------------------------------ observers

    def instance_config(self, driver: RouterDriver) -> InstanceConfig:
        """The configured instance a router belongs to (a dual-stack one runs two routers)."""
        return self.routers.of(driver).plan.instance

    def _tracker_changed(self, status: TrackerStatus) -> None:
        self.events.publish(
            "tracker_changed",
            tracker=status.name,
            kind=status.kind,
            up=status.up,
            value=status.value,
            detail=status.detail,
        )

    def _transition_observed(self, driver: RouterDriver, change: StateChanged) -> None:
        """A transition was executed (VIPs bound or released before it): tell the world."""
        instance = self.instance_config(driver)
        priority = driver.router.priority
        self.events.publish(
            "state_changed",
            instance=driver.name,
            interface=driver.egress.interface,
            vrid=instance.vrid,
            family=f"ipv{driver.family}",
            old=change.old.value,
            new=change.new.value,
            reason=change.reason.value,
            priority=priority,
        )
        new, reason = change.new.value, change.reason.value
        self.hooks.notify(
            driver.name,
            new,
            priority,
            reason,
            instance.notify,
            family=driver.family,
            instance=instance.name,
        )

    # ------------------------------------------------------------------ maintenance

    async def maintenance(self, request: dict[str, Any]) -> dict[str, Any]:
        """`vipguard maintenance on|off [INSTANCE]`: persisted first, then applied; with "on",
        answers once the VIPs are handed over (or it is clear no peer takes them)."""
        on, name = request.get("on"), request.get("instance")
        if not isinstance(on, bool) or not isinstance(name, str | None):
            return {"ok": False, "error": 'expected "on": true|false and "instance": a name|null'}
        names = self._maintenance_targets(name)
        if not names:
            known = ", ".join(sorted({record.instance for record in self.routers}))
            return {"ok": False, "error": f"no instance {name!r}; instances: {known}"}
        drivers = [record.driver for record in self.routers if record.instance in names]
        return {"instances": await self.in_maintenance.change(on, names, drivers)}

    def _maintenance_targets(self, name: str | None) -> set[str]:
        """The instances ``name`` means (all when None), with their sync groups' members."""
        everything = {record.instance for record in self.routers}
        chosen = everything if name is None else everything & {name}
        for instance in list(chosen):
            group = self.config.sync_group_of(instance)
            chosen |= set(group.instances) if group else set()
        return chosen

    # ------------------------------------------------------------------ control

    def status(self, _request: dict[str, Any]) -> dict[str, Any]:
        """`vipguard status`: the snapshot /metrics renders too, taken now."""
        return status_answer(self.snapshots.publish())

    def snapshot(self) -> AgentSnapshot:
        """The agent as it is now, immutable (on the event loop only)."""
        self.ports.catch_up_all()  # the counters and times of the repeats held back
        return AgentSnapshot(
            pid=os.getpid(),
            config=str(self.config.path),
            taken_at=self.clock.now().monotonic,
            started_at=self._started_at,
            unknown_vrid=self.ports.unknown_vrid,
            routers=tuple(RouterSnapshot.of(r.driver, r.plan.instance) for r in self.routers),
            fitness=self._fitness_subsystem.snapshot(),
            sync=self.sync.snapshot(),
            hooks=self._hooks_subsystem.snapshot(),
            events=self._events_subsystem.snapshot(),
            maintenance=self._maintenance_subsystem.snapshot(),
        )


def _summary() -> dict[str, list[str]]:
    return {"kept": [], "changed": [], "removed": [], "added": []}


def _check_sandbox(config: Config) -> None:
    """Refuse what cannot work under the agent's privileges and /proc, and keep CAP_SETUID and
    CAP_SETGID from the commands it starts (see agent.sandbox)."""
    problems = startup_problems(config)
    if problems:
        raise StartupError("; ".join(problems))


def _log_warnings(config: Config) -> None:
    """What the file's checks found odd but valid (start-up and each reload)."""
    for warning in config.warnings:
        logs.event("config_warning", logging.WARNING, warning=str(warning))


def _report_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logs.event("task_failed", logging.ERROR, task=task.get_name(), error=repr(task.exception()))
