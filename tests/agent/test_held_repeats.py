"""Held repeats in the agent: ports and drivers on the in-memory kernel, the real event loop.

A backup that follows a steady master tells its socket to hold the master's repeats; the event
loop then runs for the router only at its Master_Down deadlines, where the repeats' arrival times
push the deadline back; anything else the router is told comes after the repeats held before it.
The fake socket sorts what it is given as the real socket's filter does (tests/io covers the
filters, netns-tests/test_held_repeats_kernel.py the kernel)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Interface, ip_address
from typing import Any

from kernel_fake import FakeKernel, FakeSocket, quiet_driver
from routerkit import EPOCH_NS, received

from vipguard.agent.driver import RouterDriver
from vipguard.agent.ports import Ports
from vipguard.io.clock import SteadyWallClock
from vipguard.proto.effects import State
from vipguard.proto.packet import Advertisement, ReceivedPacket
from vipguard.proto.router import RouterConfig
from vipguard.proto.wire import Wire, WireConfig

VIP = IPv4Interface("192.0.2.100/24")
MASTER, BACKUP = ip_address("192.0.2.11"), ip_address("192.0.2.12")
INTERVAL = 0.02  # 2 cs adverts: Master_Down_Interval 3 × 20 ms + Skew_Time 12.2 ms = 72.2 ms


def master_advert(priority: int = 150) -> ReceivedPacket:
    wire = Wire(WireConfig(3, 51, 2, MASTER))
    (transmit,) = wire.transmit(Advertisement(3, 51, priority, 2, (VIP.ip,)), EPOCH_NS)
    return received(transmit, MASTER)


class Recorder:
    """What the driver's core was given, in order: (kind, priority or name, time)."""

    def __init__(self, driver: RouterDriver) -> None:
        self.inputs: list[tuple[str, Any, float]] = []
        self.repeat_calls = 0
        router, record = driver.router, self.inputs
        receive, track = router.receive, router.track

        def receiving(packet: ReceivedPacket, now: Any) -> Any:
            record.append(("advert", packet.payload[2], now.monotonic))
            return receive(packet, now)

        def tracking(name: str, now: Any, **kw: Any) -> Any:
            record.append(("track", name, now.monotonic))
            return track(name, now, **kw)

        router.receive, router.track = receiving, tracking  # type: ignore[method-assign]
        on_repeats = driver.on_repeats

        def counted(*args: Any) -> None:
            self.repeat_calls += 1
            on_repeats(*args)

        driver.on_repeats = counted  # type: ignore[method-assign]


def run_backup(
    kernel: FakeKernel,
    scenario: Callable[[RouterDriver, FakeSocket, Ports, Recorder], Awaitable[None]],
) -> RouterDriver:
    """A priority-100 backup of VRID 51 listening through Ports on the fake eth0."""
    config = RouterConfig(51, 100, (VIP,), BACKUP, interval_cs=2)

    async def main() -> RouterDriver:
        driver, sock = quiet_driver(config, kernel)
        ports = Ports(kernel.adapters(), SteadyWallClock())
        ports.listen([sock], 51, driver)  # type: ignore[list-item]
        ports.watch()
        recorder = Recorder(driver)
        driver.start(link_up=True)
        try:
            await scenario(driver, sock, ports, recorder)
        finally:
            await driver.stop(handover=False)
            ports.close()
        return driver

    return asyncio.run(main())


async def first_heard(driver: RouterDriver, sock: FakeSocket, packet: ReceivedPacket) -> None:
    sock.deliver(packet)
    assert await driver.wait_until(lambda: driver.router.master is not None, 1.0)


def test_a_following_backup_runs_only_at_its_deadlines_and_stays_backup(
    kernel: FakeKernel,
) -> None:
    advert = master_advert()
    seen: dict[str, Any] = {}

    async def scenario(
        driver: RouterDriver, sock: FakeSocket, ports: Ports, recorder: Recorder
    ) -> None:
        await first_heard(driver, sock, advert)
        assert sock.held == (advert,)  # the socket was told to hold its repeats
        for _ in range(50):  # the master's cadence, one second of it
            await asyncio.sleep(INTERVAL)
            sock.deliver(advert)
        seen["state"] = driver.router.state
        seen["inbox"] = len(sock.inbox)
        seen["catch-ups"] = recorder.repeat_calls
        ports.catch_up_all()  # what a snapshot does first
        seen["adverts_in"] = driver.counters.adverts_in
        seen["inputs"] = list(recorder.inputs)

    run_backup(kernel, scenario)
    assert seen["state"] is State.BACKUP
    assert seen["inbox"] == 0  # no repeat ever made the socket readable
    # 1 s / (72.2 ms - at most one interval) ≈ 14-20 deadlines, not 50 adverts.
    assert 5 <= seen["catch-ups"] <= 25, seen["catch-ups"]
    assert seen["adverts_in"] == 51
    times = [at for _, _, at in seen["inputs"]]
    assert times == sorted(times)  # fed in arrival order, at their arrival times


def test_master_down_runs_from_the_last_repeat_held(kernel: FakeKernel) -> None:
    advert = master_advert()
    seen: dict[str, float] = {}

    async def scenario(
        driver: RouterDriver, sock: FakeSocket, ports: Ports, recorder: Recorder
    ) -> None:
        await first_heard(driver, sock, advert)
        for _ in range(10):
            await asyncio.sleep(INTERVAL)
            sock.deliver(advert)
        last = time.monotonic()
        assert await driver.wait_until(lambda: driver.router.state is State.MASTER, 2.0)
        seen["after"] = time.monotonic() - last
        seen["mdi"] = driver.router.master_down_interval

    run_backup(kernel, scenario)
    # Not before Master_Down_Interval after the last repeat (its arrival time counts), and not
    # much after it either.
    assert seen["mdi"] - 0.005 <= seen["after"] <= seen["mdi"] + 0.2, seen


def test_other_inputs_come_after_the_repeats_held_before_them(kernel: FakeKernel) -> None:
    advert, stopping = master_advert(), master_advert(priority=0)
    seen: dict[str, Any] = {}

    async def scenario(
        driver: RouterDriver, sock: FakeSocket, ports: Ports, recorder: Recorder
    ) -> None:
        await first_heard(driver, sock, advert)
        await asyncio.sleep(INTERVAL)
        sock.deliver(advert)  # held
        await asyncio.sleep(0.005)
        driver.track("uplink", contribution=-10)  # an input of another kind: after it
        sock.deliver(advert)  # held again (the master is still steady)
        sock.deliver(stopping)  # a change: read at once, after both
        assert await driver.wait_until(lambda: driver.router.master is not None, 1.0)
        await asyncio.sleep(0.01)
        seen["inputs"] = list(recorder.inputs)
        seen["held"] = sock.held

    run_backup(kernel, scenario)
    kinds = [(kind, what) for kind, what, _ in seen["inputs"] if what != "source-address"]
    assert kinds == [
        ("track", "interface:eth0"),  # the start
        ("advert", 150),  # heard at once: the first
        ("advert", 150),  # held, and handed over before the track
        ("track", "uplink"),
        ("advert", 150),  # held, and handed over before the change
        ("advert", 0),
    ]
    assert seen["held"] == ()  # a stopping master's repeats are not steady


def test_nothing_is_held_for_a_backup_that_will_preempt(kernel: FakeKernel) -> None:
    advert = master_advert(priority=50)  # lower than ours: we take over
    seen: dict[str, Any] = {}

    async def scenario(
        driver: RouterDriver, sock: FakeSocket, ports: Ports, recorder: Recorder
    ) -> None:
        await first_heard(driver, sock, advert)
        seen["held"] = sock.held
        seen["changes"] = sock.hold_changes

    run_backup(kernel, scenario)
    assert seen["held"] == () and seen["changes"] == 0
