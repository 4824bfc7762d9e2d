"""The agent's lifecycle: set-up, the event loop's wiring, graceful shutdown.

Start-up order matters: every interface is resolved and every VIP of the configuration that a
crashed predecessor left behind is removed *before* any router enters a state, so a restarted node
never answers for a VIP it does not own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from wsgiref.simple_server import WSGIServer

from ..config import Config, ConfigError, InstanceConfig, load
from ..io.announce import Announcer
from ..io.clock import SteadyWallClock
from ..io.netlink import (
    AddressChange,
    InterfaceMissing,
    KernelWatcher,
    Link,
    LinkChange,
    Netlink,
)
from ..io.nftables import NeighbourSuppression
from ..io.scheduling import keep_gc_off_the_protocol_path, make_realtime
from ..io.systemd import Notifier
from ..io.vrrp_socket import VrrpSocket
from ..proto.addresses import IPAddress, IPInterface, vrrp_group
from ..proto.effects import StateChanged
from ..proto.router import VirtualRouter
from . import logs, preflight, signals, sync
from .control import ControlServer, ControlSocketBusy
from .driver import AnnouncePolicy, Egress, RouterDriver
from .events import EventBus, events_handler
from .fitness import Fitness, group_refs
from .health import TrackerStatus
from .hooks import HookRunner
from .maintenance import Maintenance, MaintenanceStore, MaintenanceStoreError
from .metrics import serve as serve_metrics
from .neighbours import close_suppression, open_suppression
from .sandbox import startup_problems
from .sequences import SequenceStore
from .status import describe, handover_view
from .sync import SyncGroup
from .vmacs import VirtualMacs, VmacError
from .watchdog import Watchdog

MAX_READS_PER_WAKEUP = 64
HOOKS_STOP_TIMEOUT = 5.0  # the hooks of the last transitions may run this long at shutdown


class StartupError(RuntimeError):
    """The agent cannot start; the message names the cause and the fix."""


@dataclass(slots=True)
class Port:
    """One configured interface: its link state, its announcer, one raw socket per family."""

    link: Link
    announcer: Announcer
    sockets: dict[bool, VrrpSocket] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Plan:
    instance: InstanceConfig
    family: int

    @property
    def ipv6(self) -> bool:
        return self.family == 6

    @property
    def name(self) -> str:
        many = len(self.instance.families()) > 1
        return f"{self.instance.name}/ipv{self.family}" if many else self.instance.name


class Agent:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = SteadyWallClock()
        self.netlink = Netlink()
        self._watcher = KernelWatcher()
        self.notifier = Notifier()
        # Fed from the event loop (a stalled loop makes systemd restart us), on its wake-ups.
        self.watchdog = Watchdog(self.notifier.watchdog, self.notifier.watchdog_interval or 0.0)
        self.ports: dict[str, Port] = {}
        self.vmacs = VirtualMacs(self.netlink)
        self.suppression: NeighbourSuppression | None = None  # set up with the interfaces
        self.drivers: list[RouterDriver] = []
        # Each receiving socket and the drivers it feeds, by VRID.
        self._listeners: dict[VrrpSocket, dict[int, RouterDriver]] = {}
        self._stop = asyncio.Event()
        self._stop_reason = "stop requested"
        self._tasks: list[asyncio.Task[Any]] = []
        self._sequences = SequenceStore(config.agent.state_dir)
        self.unknown_vrid = 0
        self.exit_status = 0
        self._started = False
        self._metrics: WSGIServer | None = None
        self._sourced: set[RouterDriver] = set()  # drivers whose source address is assigned
        self._plan_of: dict[RouterDriver, _Plan] = {}
        self._listeners_of: dict[RouterDriver, tuple[VrrpSocket, ...]] = {}
        self._watched: set[VrrpSocket] = set()
        self._reloading = asyncio.Lock()
        self._packet_errors = logs.RateLimiter(10.0)
        self.events = EventBus()
        self.hooks = HookRunner(self.events)
        self.fitness = Fitness(self._tracker_changed)
        self.groups: dict[str, SyncGroup] = {}  # by instance name
        self.in_maintenance = Maintenance(MaintenanceStore(config.agent.state_dir), self.events)
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
            await self._prepare()
            await self.control.start()
            if not self._stop.is_set():  # a signal during set-up: never take a VIP just to drop it
                self._tune_scheduling()
                self._listen()
                self._serve_metrics()
                for driver in self.drivers:
                    link_up = self.ports[driver.egress.interface].link.up
                    driver.start(link_up=link_up, source_present=driver in self._sourced)
                self._started = True
                self.notifier.ready(f"{len(self.drivers)} virtual routers running")
                logs.event(
                    "agent_started",
                    instances=len(self.drivers),
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
        problems = preflight.problems(self.config)
        if problems:
            raise StartupError("; ".join(problems))

    def _refuse(self, problem: str) -> None:
        """The start-up failed: say why, exit 1."""
        logs.event("startup_failed", logging.ERROR, error=problem)
        self.exit_status = 1
        self.stop("startup failed")

    def _serve_metrics(self) -> None:
        address = self.config.agent.metrics
        if address is None:
            return
        try:
            self._metrics = serve_metrics(self, *address)
        except OSError as error:  # monitoring must never keep the VIPs from being served
            logs.event(
                "metrics_unavailable",
                logging.WARNING,
                address=f"{address[0]}:{address[1]}",
                error=error.strerror,
            )

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
        await asyncio.gather(*(driver.stop() for driver in self.drivers), return_exceptions=True)
        for driver in self.drivers:
            self._save_sequence(driver)
        await self.fitness.stop()
        await self.hooks.stop(HOOKS_STOP_TIMEOUT)
        self.events.close()
        await self.control.close()
        loop = asyncio.get_running_loop()
        for sock in self._watched:
            loop.remove_reader(sock.fileno())
        for port in self.ports.values():
            for sock in port.sockets.values():
                sock.close()
            port.announcer.close()
        await self.vmacs.remove_all()
        close_suppression(self.suppression)
        loop.remove_reader(self._watcher.fileno())
        self._watcher.close()
        self.netlink.close()
        if self._metrics is not None:  # last: a scrape being answered may delay its stop
            await asyncio.to_thread(self._metrics.shutdown)
            self._metrics.server_close()
        logs.event("agent_stopped", reason=self._stop_reason, exit_status=self.exit_status)

    # ------------------------------------------------------------------ set-up

    def _plans(self, config: Config | None = None) -> Iterator[_Plan]:
        for instance in (config or self.config).instances:
            for family in instance.families():
                yield _Plan(instance, family)

    async def _prepare(self) -> None:
        try:
            self.in_maintenance.load()
        except MaintenanceStoreError as error:
            raise StartupError(str(error)) from None
        _check_sandbox(self.config)
        plans = list(self._plans())
        for plan in plans:
            await self._open_port(plan.instance.interface)
        sources = [
            await self._source(plan, self.ports[plan.instance.interface].link) for plan in plans
        ]
        await self._remove_stale_vips(plans)
        self.suppression = open_suppression()  # also lifts what a crashed predecessor left
        for plan, source in zip(plans, sources, strict=True):
            await self._add_driver(plan, source)
        await self._configure_fitness(self.config)
        self._build_groups(self.config)

    async def _open_port(self, ifname: str) -> Port:
        if ifname in self.ports:
            return self.ports[ifname]
        try:
            link = await self.netlink.link(ifname)
        except InterfaceMissing as error:
            raise StartupError(f"{error}: fix `interface` in {self.config.path}") from None
        port = Port(link, Announcer(ifname, link.mac))
        self.ports[ifname] = port
        return port

    async def _remove_stale_vips(self, plans: list[_Plan]) -> None:
        for plan in plans:
            index = self.ports[plan.instance.interface].link.index
            for vip in plan.instance.vips_of(plan.family):
                if await self.netlink.remove_address(index, vip.interface):
                    logs.event(
                        "stale_vip_removed", logging.WARNING, instance=plan.name, vip=vip.interface
                    )

    async def _source(self, plan: _Plan, link: Link) -> IPAddress:
        """The adverts' source; checked before anything is removed from the interface."""
        source = await self._find_source(plan, link)
        if any(vip.interface.ip == source for vip in plan.instance.vips_of(plan.family)):
            raise StartupError(
                f"instance {plan.instance.name!r}: VIP {source} is {link.name}'s own address,"
                " which vipguard would remove and re-add; VIPs must be extra addresses"
            )
        return source

    async def _find_source(self, plan: _Plan, link: Link) -> IPAddress:
        configured = plan.instance.source_of(plan.family)
        if configured is not None:
            return configured
        found = await self.netlink.primary_address(link.index, plan.ipv6)
        if found is None:
            what = "link-local IPv6" if plan.ipv6 else "IPv4"
            raise StartupError(
                f"instance {plan.instance.name!r}: interface {link.name} has no {what} address to"
                " send adverts from; add one" + ("" if plan.ipv6 else " or set unicast_source")
            )
        return found

    async def _add_driver(self, plan: _Plan, source: IPAddress) -> RouterDriver:
        instance = plan.instance
        port = self.ports[instance.interface]
        router_config = instance.router_config(plan.family, source)
        group = None if router_config.peers else router_config.group or vrrp_group(source)
        if instance.use_vmac:
            egress, listeners = await self._vmac_egress(plan, port, group)
        else:
            listener = self._socket(port, plan.ipv6)
            egress = Egress(
                port.link.name, port.link.index, port.link.index, listener, port.announcer
            )
            listeners = (listener,)
        if group is not None:
            for listener in listeners:
                _join(listener, group)
        router = VirtualRouter(router_config, last_sent_sequence=self._sequences.load(plan.name))
        driver = RouterDriver(
            name=plan.name,
            router=router,
            egress=egress,
            netlink=self.netlink,
            clock=self.clock,
            labels=_labels(plan),
            announce=_announce_policy(plan),
            on_failure=self.fail,
            on_transition=self._transition_observed,
            on_signed=self._signed_advert_sent,
            on_wake=self.watchdog.awake,
            suppression=self.suppression,
        )
        if instance.name in self.in_maintenance.names:
            driver.set_maintenance(True)  # before start: it starts in Maintenance
        self.drivers.append(driver)
        local = {address.interface.ip for address in await self.netlink.addresses(port.link.index)}
        if source in local:
            self._sourced.add(driver)
        else:
            logs.event(
                "source_missing",
                logging.WARNING,
                instance=plan.name,
                source=source,
                interface=port.link.name,
                hint="the instance stays in fault until it appears",
            )
        for listener in listeners:
            self._listeners.setdefault(listener, {})[instance.vrid] = driver
        self._plan_of[driver] = plan
        self._listeners_of[driver] = listeners
        return driver

    async def _vmac_egress(
        self, plan: _Plan, port: Port, group: IPAddress | None
    ) -> tuple[Egress, tuple[VrrpSocket, ...]]:
        """VIPs on the instance's virtual-MAC macvlan, adverts and announcements from it while
        it is up (master); down otherwise, so that a backup never sends from the virtual MAC.

        Multicast adverts are read on the parent and on the macvlan: while a private-mode
        macvlan is up it takes every multicast frame sent from its own MAC (a competing master's
        adverts) away from the parent; while it is down the parent gets them (the driver reads
        one side, see RouterDriver.hears). Unicast adverts arrive on the parent's address."""
        vips = [vip.interface for vip in plan.instance.vips_of(plan.family)]
        try:
            vmac = await self.vmacs.open(port.link, plan.instance.vrid, plan.ipv6, vips)
        except VmacError as error:
            raise StartupError(f"instance {plan.instance.name!r}: {error}") from None
        parent = self._socket(port, plan.ipv6)
        egress = Egress(
            port.link.name,
            port.link.index,
            vmac.link.index,
            vmac.sender,
            vmac.announcer,
            vmac.name,
            parent,
        )
        return egress, (parent, vmac.sender) if group is not None else (parent,)

    def _socket(self, port: Port, ipv6: bool) -> VrrpSocket:
        if ipv6 not in port.sockets:
            port.sockets[ipv6] = VrrpSocket(port.link.name, port.link.index, ipv6)
        return port.sockets[ipv6]

    # ------------------------------------------------------------------ running

    def _listen(self) -> None:
        self._watch_listeners()
        loop = asyncio.get_running_loop()
        loop.add_reader(self._watcher.fileno(), self._kernel_readable)
        if self.notifier.watchdog_interval:
            self.watchdog.start()

    def _watch_listeners(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self._listeners.keys() - self._watched:
            loop.add_reader(sock.fileno(), self._readable, sock)
            self._watched.add(sock)

    def _readable(self, sock: VrrpSocket) -> None:
        drivers = self._listeners[sock]
        for _ in range(MAX_READS_PER_WAKEUP):
            packet = sock.receive()
            if packet is None:
                return
            driver = drivers.get(packet.payload[1]) if len(packet.payload) > 1 else None
            if driver is None:
                self.unknown_vrid += 1
                continue
            if not driver.hears(sock):  # a copy of what its other socket receives
                continue
            try:
                driver.on_packet(packet)
            except Exception as error:  # a core bug: drop the packet, keep the protocol running
                held = self._packet_errors.allow("packet", time.monotonic())
                if held is not None:
                    logs.event(
                        "packet_failed",
                        logging.ERROR,
                        instance=driver.name,
                        source=packet.source,
                        error=repr(error),
                        suppressed=held,
                    )

    def _kernel_readable(self) -> None:
        events = self._watcher.read()
        if events is None:  # the kernel dropped messages: ask for every link again
            task = asyncio.create_task(self._resync_links(), name="link-resync")
            task.add_done_callback(_report_failure)
            self._tasks.append(task)
            return
        by_index = {port.link.index: port for port in self.ports.values()}
        for event in events:
            if logs.debugging():
                logs.debug("kernel_event", kind=type(event).__name__, **dataclasses.asdict(event))
            if isinstance(event, LinkChange):
                port = by_index.get(event.index)
                if port is not None:
                    self._link_changed(port, event.up)
                self.fitness.on_link(event.name, event.up)
            elif isinstance(event, AddressChange):
                for driver in self.drivers:
                    driver.on_address(event.index, event.address, event.added)

    async def _resync_links(self) -> None:
        """After the kernel dropped events: read links and addresses again and feed what
        changed, so a missed source address or a VIP removed meanwhile is not missed for good."""
        for port in self.ports.values():
            link = await self.netlink.link(port.link.name)
            self._link_changed(port, link.up)
        await self.fitness.follow_links(self.netlink)
        for driver in list(self.drivers):
            egress, source = driver.egress, driver.router.config.source
            present = {a.interface.ip for a in await self.netlink.addresses(egress.interface_index)}
            driver.on_address(egress.interface_index, source, added=source in present)
            holding = {a.interface.ip for a in await self.netlink.addresses(egress.vip_index)}
            for vip in [vip for vip in driver.bound if vip.ip not in holding]:
                driver.on_address(egress.vip_index, vip.ip, added=False)

    def _link_changed(self, port: Port, up: bool) -> None:
        if port.link.up == up:
            return
        logs.event("link_changed", interface=port.link.name, up=up)
        port.link = replace(port.link, up=up)
        for driver in self.drivers:
            if driver.egress.interface == port.link.name:
                driver.on_link(up)

    def _signed_advert_sent(self, driver: RouterDriver, sequence: int) -> None:
        with contextlib.suppress(OSError):  # as at shutdown: the margin on load covers a miss
            self._sequences.save_if_due(driver.name, sequence, self.clock.now().monotonic)

    def _save_sequence(self, driver: RouterDriver) -> None:
        authenticator = driver.router.wire.authenticator
        if authenticator and authenticator.sequences.last_sent is not None:
            with contextlib.suppress(OSError):
                self._sequences.save(driver.name, authenticator.sequences.last_sent)

    # ------------------------------------------------------------------ reload

    async def reload(self, _request: dict[str, Any] | None = None) -> dict[str, Any]:
        """Re-read the configuration file and apply the difference (SIGHUP, `vipguard reload`).

        Unchanged instances are not touched (their VIPs stay, no packet is lost); changed ones
        are reconfigured in place; removed ones stop gracefully (priority 0, VIPs released); an
        invalid file, or one whose new interfaces or sources cannot be resolved, is refused as a
        whole and the running configuration stays."""
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
            summary: dict[str, list[str]] = {"kept": [], "changed": [], "removed": [], "added": []}
            try:
                await self._apply(config, summary)
            except StartupError as error:
                logs.event("reload_refused", logging.WARNING, problem=str(error))
                return {"ok": False, "error": f"{error}; the running configuration stays"}
            except Exception as error:  # e.g. a socket or macvlan failed midway: say what ran
                done = "; ".join(f"{k}: {', '.join(v) or '-'}" for k, v in summary.items())
                logs.event("reload_failed", logging.ERROR, error=repr(error), applied=done)
                return {"ok": False, "error": f"reload failed midway ({error}); applied: {done}"}
        applied = {key: ",".join(names) or "-" for key, names in summary.items()}
        logs.event("reloaded", logging.INFO, **applied)
        return {**summary, "warnings": [str(warning) for warning in config.warnings]}

    async def _apply(self, config: Config, summary: dict[str, list[str]]) -> None:
        """Apply ``config``, recording in ``summary`` what was done as it goes."""
        if config.agent != self.config.agent:
            logs.event(
                "reload_agent_settings_ignored",
                logging.WARNING,
                hint="[agent] settings take effect at the next restart",
            )
        # Matched by instance and family, not by display name: "web" becomes "web/ipv4" when
        # an IPv6 VIP is added, and the IPv4 router must not notice.
        wanted = {(plan.instance.name, plan.family): plan for plan in self._plans(config)}
        running = {self._key(driver): driver for driver in self.drivers}
        replaced = [
            d for k, d in running.items() if k in wanted and not self._same_identity(d, wanted[k])
        ]
        removed = [d for k, d in running.items() if k not in wanted]
        added = [plan for key, plan in wanted.items() if key not in running]
        to_start = added + [wanted[self._key(d)] for d in replaced]
        _check_sandbox(config)  # may refuse: nothing has changed yet
        sources = await self._resolve(to_start)  # may refuse too
        for driver in removed + replaced:
            await self._remove_driver(driver)
        summary["removed"] = [d.name for d in removed]
        for driver in list(self.drivers):
            plan = wanted[self._key(driver)]
            source = driver.router.config.source
            driver.name = plan.name
            config_changed = driver.reconfigure(
                plan.instance.router_config(plan.family, source),
                _announce_policy(plan),
                _labels(plan),
            )
            self._plan_of[driver] = plan
            summary["changed" if config_changed else "kept"].append(driver.name)
        await self._remove_stale_vips(to_start)
        new_drivers = []
        for plan, source in zip(to_start, sources, strict=True):
            new_drivers.append(await self._add_driver(plan, source))
            self._watch_listeners()
            summary["added" if plan in added else "changed"].append(plan.name)
        self.config = config
        try:
            await self._configure_fitness(config)  # trackers first: new routers know them
        finally:  # even if that failed: every router runs, and in its group
            self._build_groups(config)
            for driver in new_drivers:
                link_up = self.ports[driver.egress.interface].link.up
                driver.start(link_up=link_up, source_present=driver in self._sourced)

    def _key(self, driver: RouterDriver) -> tuple[str, int]:
        plan = self._plan_of[driver]
        return plan.instance.name, plan.family

    def _same_identity(self, driver: RouterDriver, plan: _Plan) -> bool:
        """What a router cannot change in place: where it lives and whom it talks to."""
        old = self._plan_of[driver]

        def identity(p: _Plan) -> tuple[object, ...]:
            i, family = p.instance, p.family
            return (
                i.interface,
                i.vrid,
                family,
                i.use_vmac,
                i.source_of(family),
                i.group_of(family),
                bool(i.peers_of(family)),
            )

        return identity(old) == identity(plan)

    async def _resolve(self, plans: list[_Plan]) -> list[IPAddress]:
        for plan in plans:
            await self._open_port(plan.instance.interface)
        return [
            await self._source(plan, self.ports[plan.instance.interface].link) for plan in plans
        ]

    async def _remove_driver(self, driver: RouterDriver) -> None:
        """Stop one router gracefully (priority 0, VIPs released) and forget it."""
        await driver.stop()
        self._save_sequence(driver)
        self.drivers.remove(driver)
        self._sourced.discard(driver)
        plan = self._plan_of.pop(driver)
        for listener in self._listeners_of.pop(driver):
            feeds = self._listeners[listener]
            del feeds[plan.instance.vrid]
            if not feeds:
                del self._listeners[listener]
                if listener in self._watched:
                    asyncio.get_running_loop().remove_reader(listener.fileno())
                    self._watched.discard(listener)
        if driver.egress.vmac:
            await self.vmacs.remove(driver.egress.vmac)

    # ------------------------------------------------------------------ fitness, groups, hooks

    async def _configure_fitness(self, config: Config) -> None:
        """Trackers and their users as ``config`` says (start-up and reload)."""
        refs = group_refs(config)
        uses = {d: refs[self._instance_of(d)] for d in self.drivers}
        await self.fitness.adopt(config, uses, self.netlink)

    def _build_groups(self, config: Config) -> None:
        self.groups = sync.build(config.sync_groups, self.drivers, self._instance_of)

    def _instance_of(self, driver: RouterDriver) -> str:
        return self.instance_config(driver).name

    def instance_config(self, driver: RouterDriver) -> InstanceConfig:
        """The configured instance a router belongs to (a dual-stack one runs two routers)."""
        return self._plan_of[driver].instance

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
        instance = self._plan_of[driver].instance
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
            known = ", ".join(sorted({self._instance_of(d) for d in self.drivers}))
            return {"ok": False, "error": f"no instance {name!r}; instances: {known}"}
        drivers = [d for d in self.drivers if self._instance_of(d) in names]
        return {"instances": await self.in_maintenance.change(on, names, drivers)}

    def _maintenance_targets(self, name: str | None) -> set[str]:
        """The instances ``name`` means (all when None), with their sync groups' members."""
        everything = {self._instance_of(d) for d in self.drivers}
        chosen = everything if name is None else everything & {name}
        for instance in list(chosen):
            group = self.config.sync_group_of(instance)
            chosen |= set(group.instances) if group else set()
        return chosen

    # ------------------------------------------------------------------ control

    def status(self, _request: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "pid": os.getpid(),
            "config": str(self.config.path),
            "unknown_vrid_packets": self.unknown_vrid,
            "instances": [self._describe(driver, now) for driver in self.drivers],
            "hooks": self.hooks.summary(),
            "event_subscribers": self.events.subscribers,
        }

    def _describe(self, driver: RouterDriver, now: Any) -> dict[str, Any]:
        group = self.groups.get(self._instance_of(driver))
        return {
            **describe(driver, now),
            "maintenance": driver.router.maintenance,
            "handover": handover_view(driver.router),
            "trackers": self.fitness.describe(driver),
            "sync_group": None if group is None else group.describe(driver),
        }


def _announce_policy(plan: _Plan) -> AnnouncePolicy:
    settings = plan.instance.announce
    return AnnouncePolicy(settings.count, settings.interval, settings.refresh)


def _labels(plan: _Plan) -> dict[IPInterface, str | None]:
    # A label must start with the name of the interface holding the address.
    vmac = plan.instance.use_vmac
    return {
        vip.interface: None if vmac else vip.label for vip in plan.instance.vips_of(plan.family)
    }


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


def _join(sock: VrrpSocket, group: IPAddress) -> None:
    try:
        sock.join(group)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:  # EADDRINUSE: another instance joined it already
            raise
