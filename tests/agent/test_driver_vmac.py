"""Layer 3: a virtual-MAC router's macvlan is up only while it is master, and only a master
holding it speaks from it (the kernel side is in netns-tests/test_vmac.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from ipaddress import IPv4Address

import pytest
from test_driver import (
    SOURCE,
    VIP,
    FakeAnnouncer,
    FakeClock,
    FakeNetlink,
    FakeSocket,
    Journal,
    advert,
    settle,
)

from vipguard.agent.driver import AnnouncePolicy, Egress, RouterDriver
from vipguard.proto.addresses import IPAddress
from vipguard.proto.effects import State
from vipguard.proto.router import RouterConfig, VirtualRouter

VMAC_INDEX = 7


@pytest.fixture
def journal() -> Journal:
    return Journal()


class LinkNetlink(FakeNetlink):
    def __init__(self, journal: Journal, fail_ups: int = 0) -> None:
        super().__init__(journal)
        self.fail_ups = fail_ups

    async def set_up(self, index: int, up: bool) -> None:
        if up and self.fail_ups:
            self.fail_ups -= 1
            raise OSError("netlink says no")
        self.journal.entries.append(("link", index, "up" if up else "down"))


class NamedSocket(FakeSocket):
    def __init__(self, journal: Journal, name: str) -> None:
        super().__init__(journal)
        self.name = name

    def send(self, payload: bytes, source: IPAddress, destination: IPAddress) -> None:
        self.journal.entries.append(("send", self.name, payload[2]))


def vmac_driver(
    journal: Journal, *, priority: int, fail_ups: int = 0, peers: tuple[IPv4Address, ...] = ()
) -> tuple[RouterDriver, NamedSocket, NamedSocket]:
    config = RouterConfig(
        vrid=51, priority=priority, vips=(VIP,), source=SOURCE, interval_cs=5, peers=peers
    )
    macvlan, parent = NamedSocket(journal, "vrrp.51"), NamedSocket(journal, "eth0")
    egress = Egress(
        "eth0",
        2,
        VMAC_INDEX,
        macvlan,  # type: ignore[arg-type]
        FakeAnnouncer(journal),  # type: ignore[arg-type]
        "vrrp.51",
        parent,  # type: ignore[arg-type]
    )
    driver = RouterDriver(
        name="web",
        router=VirtualRouter(config),
        egress=egress,
        netlink=LinkNetlink(journal, fail_ups),  # type: ignore[arg-type]
        clock=FakeClock(),  # type: ignore[arg-type]
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


def test_a_new_master_binds_raises_the_macvlan_then_speaks_from_it(journal: Journal) -> None:
    async def scenario() -> None:
        driver, _, _ = vmac_driver(journal, priority=255)
        driver.start(link_up=True)
        await settle(driver)
        assert journal.entries == [
            ("bind", str(VIP), None),  # on the macvlan while it is down: nothing can answer yet
            ("link", VMAC_INDEX, "up"),  # it reports its groups from the virtual MAC
            ("send", "vrrp.51", 255),  # the takeover advert waited: it pulls the clients here
            ("announce", str(VIP.ip)),
        ]
        journal.entries.clear()
        await driver.stop(handover=False)
        assert journal.entries == [
            ("send", "eth0", 0),  # letting go: not from the virtual MAC
            ("link", VMAC_INDEX, "down"),  # silent before the VIP goes (no MLD leave from it)
            ("unbind", str(VIP)),
        ]

    asyncio.run(scenario())


def test_an_outranked_master_goes_silent_and_its_last_advert_leaves_from_the_parent(
    journal: Journal,
) -> None:
    async def scenario() -> None:
        driver, _, _ = vmac_driver(journal, priority=254)
        await run_to_master(driver)
        journal.entries.clear()
        driver.on_packet(advert(255))
        await settle(driver)
        assert journal.entries == [
            ("send", "eth0", 254),
            ("link", VMAC_INDEX, "down"),
            ("unbind", str(VIP)),
        ]
        await driver.stop()

    asyncio.run(scenario())


def test_multicast_adverts_are_read_on_the_macvlan_while_it_is_up_on_the_parent_otherwise(
    journal: Journal,
) -> None:
    async def scenario() -> None:
        driver, macvlan, parent = vmac_driver(journal, priority=100)

        def reads_the_parent() -> bool:
            return driver.hears(parent) and not driver.hears(macvlan)  # type: ignore[arg-type]

        await run_to_master(driver, before=reads_the_parent)
        assert driver.hears(macvlan) and not driver.hears(parent)  # type: ignore[arg-type]
        await driver.stop()
        assert reads_the_parent()
        unicast, _, parent = vmac_driver(journal, priority=100, peers=(IPv4Address("192.0.2.12"),))
        assert unicast.hears(parent)  # type: ignore[arg-type]

    asyncio.run(scenario())


def test_a_macvlan_that_cannot_come_up_faults_and_no_stale_advert_follows(
    journal: Journal,
) -> None:
    async def scenario() -> None:
        driver, _, _ = vmac_driver(journal, priority=255, fail_ups=3)  # every retry fails
        driver.start(link_up=True)
        await driver.wait_until(lambda: driver.router.state.value == "fault", 1.0)
        await settle(driver)
        sent = [entry for entry in journal.entries if entry[0] == "send"]
        assert sent == [("send", "eth0", 0)]  # the fault's priority 0; never "255" after it
        assert ("link", VMAC_INDEX, "up") not in journal.entries
        await driver.stop()

    asyncio.run(scenario())
