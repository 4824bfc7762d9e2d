"""Layer 3: a virtual-MAC router's macvlan is up only while it is master, and only a master
holding it speaks from it (the kernel side is in netns-tests/test_vmac.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from ipaddress import IPv4Address

from kernel_fake import FakeAnnouncer, FakeKernel, FakeNetlink, FakeSocket
from test_driver import SOURCE, VIP, advert, settle

from vipguard.agent.driver import AnnouncePolicy, Egress, RouterDriver
from vipguard.io.clock import SteadyWallClock
from vipguard.proto.effects import State
from vipguard.proto.router import RouterConfig, VirtualRouter

VMAC_INDEX = 7


class MacvlanNetlink(FakeNetlink):
    """The fake kernel's netlink with one macvlan (VMAC_INDEX) that goes up and down on request;
    ``fail_ups``: that many next raisings fail."""

    def __init__(self, kernel: FakeKernel, fail_ups: int = 0) -> None:
        super().__init__(kernel)
        self.fail_ups = fail_ups

    async def set_up(self, index: int, up: bool) -> None:
        if up and self.fail_ups:
            self.fail_ups -= 1
            raise OSError("netlink says no")
        self.kernel.calls.append(("link", index, "up" if up else "down"))


def vmac_driver(
    kernel: FakeKernel,
    *,
    priority: int,
    fail_ups: int = 0,
    peers: tuple[IPv4Address, ...] = (),
) -> tuple[RouterDriver, FakeSocket, FakeSocket]:
    config = RouterConfig(
        vrid=51, priority=priority, vips=(VIP,), source=SOURCE, interval_cs=5, peers=peers
    )
    macvlan = FakeSocket(kernel, "vrrp.51", ipv6=False)
    parent = FakeSocket(kernel, "eth0", ipv6=False)
    egress = Egress(
        "eth0",
        2,
        VMAC_INDEX,
        macvlan,  # type: ignore[arg-type]
        FakeAnnouncer(kernel, "vrrp.51"),  # type: ignore[arg-type]
        "vrrp.51",
        parent,  # type: ignore[arg-type]
    )
    driver = RouterDriver(
        name="web",
        router=VirtualRouter(config),
        egress=egress,
        netlink=MacvlanNetlink(kernel, fail_ups),  # type: ignore[arg-type]
        clock=SteadyWallClock(),
        labels={VIP: None},
        announce=AnnouncePolicy(count=1, interval=0.001),
    )
    return driver, macvlan, parent


async def run_to_master(driver: RouterDriver, before: Callable[[], bool] = lambda: True) -> None:
    """Start ``driver`` (no peer: it becomes master) and wait until its effects ran;
    ``before`` must hold right after the start."""
    driver.start(link_up=True)
    assert before()
    await driver.wait_until(lambda: driver.router.state is State.MASTER, 1.0)
    await settle(driver)


def test_a_new_master_binds_raises_the_macvlan_then_speaks_from_it(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver, _, _ = vmac_driver(kernel, priority=255)
        driver.start(link_up=True)
        await settle(driver)
        assert kernel.calls == [
            # on the macvlan while it is down: nothing can answer yet
            ("add_address", str(VIP), None),
            ("link", VMAC_INDEX, "up"),  # it reports its groups from the virtual MAC
            # the takeover advert waited: it pulls the clients here
            ("send", "vrrp.51", "192.0.2.11", "224.0.0.18", 255),
            ("announce", "vrrp.51", str(VIP.ip)),
        ]
        kernel.calls.clear()
        await driver.stop(handover=False)
        assert kernel.calls == [
            ("send", "eth0", "192.0.2.11", "224.0.0.18", 0),  # letting go: not from the virtual MAC
            ("link", VMAC_INDEX, "down"),  # silent before the VIP goes (no MLD leave from it)
            ("remove_address", str(VIP), True),
        ]

    asyncio.run(scenario())


def test_an_outranked_master_goes_silent_and_its_last_advert_leaves_from_the_parent(
    kernel: FakeKernel,
) -> None:
    async def scenario() -> None:
        driver, _, _ = vmac_driver(kernel, priority=254)
        await run_to_master(driver)
        kernel.calls.clear()
        driver.on_packet(advert(255))
        await settle(driver)
        assert kernel.calls == [
            ("send", "eth0", "192.0.2.11", "224.0.0.18", 254),
            ("link", VMAC_INDEX, "down"),
            ("remove_address", str(VIP), True),
        ]
        await driver.stop()

    asyncio.run(scenario())


def test_multicast_adverts_are_read_on_the_macvlan_while_it_is_up_on_the_parent_otherwise(
    kernel: FakeKernel,
) -> None:
    async def scenario() -> None:
        driver, macvlan, parent = vmac_driver(kernel, priority=100)

        def reads_the_parent() -> bool:
            return driver.hears(parent) and not driver.hears(macvlan)  # type: ignore[arg-type]

        await run_to_master(driver, before=reads_the_parent)
        assert driver.hears(macvlan) and not driver.hears(parent)  # type: ignore[arg-type]
        await driver.stop()
        assert reads_the_parent()
        unicast, _, parent = vmac_driver(kernel, priority=100, peers=(IPv4Address("192.0.2.12"),))
        assert unicast.hears(parent)  # type: ignore[arg-type]

    asyncio.run(scenario())


def test_a_macvlan_that_cannot_come_up_faults_and_no_stale_advert_follows(
    kernel: FakeKernel,
) -> None:
    async def scenario() -> None:
        driver, _, _ = vmac_driver(kernel, priority=255, fail_ups=3)  # every retry fails
        driver.start(link_up=True)
        await driver.wait_until(lambda: driver.router.state.value == "fault", 1.0)
        await settle(driver)
        sent = [entry for entry in kernel.calls if entry[0] == "send"]
        # the fault's priority 0; never "255" after it
        assert sent == [("send", "eth0", "192.0.2.11", "224.0.0.18", 0)]
        assert ("link", VMAC_INDEX, "up") not in kernel.calls
        await driver.stop()

    asyncio.run(scenario())
