"""Kernel link and address events, fed to the ports, routers and trackers they concern.

The watcher is read from the event loop; when the kernel dropped events (its queue overflowed),
links and addresses are read again and what changed is fed as if it had been heard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

from ..io.netlink import AddressChange, LinkChange
from ..proto.addresses import IPAddress
from . import logs
from .fitness import Fitness
from .kernel import NetlinkPort, WatcherPort
from .ports import Port, Ports
from .routers import Routers

Spawn = Callable[[Coroutine[Any, Any, None], str], None]


class LinkEvents:
    def __init__(
        self, netlink: NetlinkPort, ports: Ports, routers: Routers, fitness: Fitness, spawn: Spawn
    ) -> None:
        self._netlink, self._ports, self._routers = netlink, ports, routers
        self._fitness, self._spawn = fitness, spawn

    def readable(self, watcher: WatcherPort) -> None:
        events = watcher.read()
        if events is None:  # the kernel dropped messages: ask for every link again
            self._spawn(self.resync(), "link-resync")
            return
        by_index = {port.link.index: port for port in self._ports.by_name.values()}
        for event in events:
            if logs.debugging():
                logs.debug("kernel_event", kind=type(event).__name__, **dataclasses.asdict(event))
            if isinstance(event, LinkChange):
                port = by_index.get(event.index)
                if port is not None:
                    self._link_changed(port, event.up)
                self._fitness.on_link(event.name, event.up)
            elif isinstance(event, AddressChange):
                for driver in self._routers.drivers:
                    driver.on_address(event.index, event.address, event.added)

    async def resync(self) -> None:
        """After the kernel dropped events: read links and addresses again and feed what
        changed, so a missed source address or a VIP removed meanwhile is not missed for good."""
        for port in list(self._ports.by_name.values()):
            link = await self._netlink.link(port.link.name)
            self._link_changed(port, link.up)
        await self._fitness.follow_links(self._netlink)
        for driver in self._routers.drivers:
            egress, source = driver.egress, driver.router.config.source
            present = await self._addresses(egress.interface_index)
            driver.on_address(egress.interface_index, source, added=source in present)
            holding = await self._addresses(egress.vip_index)
            for vip in [vip for vip in driver.bound if vip.ip not in holding]:
                driver.on_address(egress.vip_index, vip.ip, added=False)

    async def _addresses(self, index: int) -> set[IPAddress]:
        return {address.interface.ip for address in await self._netlink.addresses(index)}

    def _link_changed(self, port: Port, up: bool) -> None:
        if port.link.up == up:
            return
        logs.event("link_changed", interface=port.link.name, up=up)
        port.link = dataclasses.replace(port.link, up=up)
        for driver in self._routers.drivers:
            if driver.egress.interface == port.link.name:
                driver.on_link(up)
