"""Layer 3: the router driver on the in-memory kernel (tests/kernel_fake.py) — effect order,
shutdown, error paths."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, ip_address
from typing import Any

import pytest
from kernel_fake import FakeAnnouncer, FakeKernel, FakeSocket, FakeSuppression

from vipguard.agent import driver as driver_module
from vipguard.agent import logs
from vipguard.agent.driver import AnnouncePolicy, Egress, RouterDriver
from vipguard.io.clock import SteadyWallClock
from vipguard.proto.packet import Advertisement, ReceivedPacket, encode
from vipguard.proto.router import HANDOVER_GRACE, RouterConfig, VirtualRouter

VIP = IPv4Interface("192.0.2.100/24")
SOURCE = IPv4Address("192.0.2.11")
GROUP = IPv4Address("224.0.0.18")
QUICK_ANNOUNCE = AnnouncePolicy(count=2, interval=0.001)


def make_driver(
    kernel: FakeKernel,
    *,
    priority: int,
    fail_adds: int = 0,
    interval_cs: int = 5,
    suppression: FakeSuppression | None = None,
    announce: AnnouncePolicy = QUICK_ANNOUNCE,
) -> RouterDriver:
    """A driver of VRID 51 on the fake kernel's eth0 (index 2), its socket and announcer there."""
    config = RouterConfig(
        vrid=51, priority=priority, vips=(VIP,), source=SOURCE, interval_cs=interval_cs
    )
    link = kernel.netlink.add_link("eth0", f"{SOURCE}/24")
    kernel.netlink.fail_adds = fail_adds
    sock, announcer = FakeSocket(kernel, "eth0", ipv6=False), FakeAnnouncer(kernel, "eth0")
    egress = Egress("eth0", link.index, link.index, sock, announcer)  # type: ignore[arg-type]
    return RouterDriver(
        name="web",
        router=VirtualRouter(config),
        egress=egress,
        netlink=kernel.netlink,  # type: ignore[arg-type]
        clock=SteadyWallClock(),
        labels={VIP: "eth0:web"},
        announce=announce,
        suppression=suppression,  # type: ignore[arg-type]
    )


def advert(priority: int, source: str = "192.0.2.12") -> ReceivedPacket:
    payload = encode(
        Advertisement(3, 51, priority, 5, (VIP.ip,)), source=ip_address(source), destination=GROUP
    )
    return ReceivedPacket(ip_address(source), GROUP, 255, payload)


async def settle(driver: RouterDriver) -> None:
    await driver._queue.join()  # every queued effect executed
    if driver._announcing:
        await driver._announcing


def test_owner_binds_before_announcing_and_advertises(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255)
        driver.start(link_up=True)
        await settle(driver)
        assert kernel.kinds() == ["send", "add_address", "announce", "announce"]
        assert kernel.calls[1] == ("add_address", "192.0.2.100/24", "eth0:web")
        assert driver.bound == {VIP}
        assert driver.counters.announcements == 2
        assert driver.last_transition and driver.last_transition["reason"] == "address_owner"
        await driver.stop()

    asyncio.run(scenario())


def test_graceful_stop_sends_priority_zero_before_releasing(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255)
        driver.start(link_up=True)
        await settle(driver)
        kernel.calls.clear()
        await driver.stop(handover=False)
        assert kernel.calls == [
            ("send", "eth0", "192.0.2.11", "224.0.0.18", 0),
            ("remove_address", "192.0.2.100/24", True),
        ]
        assert driver.bound == set()
        assert driver.router.next_deadline() is None

    asyncio.run(scenario())


def test_stop_with_handover_keeps_the_vips_until_the_peer_took_over(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255, interval_cs=100)  # MDI 3 s: no give-up
        driver.start(link_up=True)
        await settle(driver)
        kernel.calls.clear()
        loop = asyncio.get_running_loop()
        stopping = asyncio.create_task(driver.stop())
        await driver.wait_until(lambda: bool(kernel.calls), 1.0)  # the priority-0 advert
        assert driver.bound == {VIP} and not stopping.done()
        heard = loop.time()
        driver.on_packet(advert(100))  # the peer took over
        await stopping
        released = loop.time()
        assert HANDOVER_GRACE <= released - heard < HANDOVER_GRACE + 0.1
        assert kernel.kinds()[-1] == "remove_address"
        assert {entry[4] for entry in kernel.calls if entry[0] == "send"} == {0}

    asyncio.run(scenario())


def test_stop_with_handover_and_no_peer_gives_up_after_master_down_interval(
    kernel: FakeKernel,
) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=100)
        driver.start(link_up=True)
        await driver.wait_until(lambda: driver.router.state.value == "master", 1.0)
        await settle(driver)
        bound = driver.router.master_down_interval
        loop = asyncio.get_running_loop()
        started = loop.time()
        await driver.stop()
        assert bound <= loop.time() - started < bound + 0.1
        assert driver.bound == set() and kernel.kinds()[-1] == "remove_address"

    asyncio.run(scenario())


def test_backup_takes_over_when_the_timer_fires(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=100)
        driver.start(link_up=True)
        assert driver.router.state.value == "backup"
        deadline = driver.router.next_deadline()
        assert deadline is not None
        loop = asyncio.get_running_loop()
        while driver.router.state.value != "master":  # bounded: MDI is 0.16 s here
            assert loop.time() < deadline + 1.0
            await asyncio.sleep(0.01)
        await settle(driver)
        assert loop.time() >= deadline
        assert kernel.kinds()[:2] == ["send", "add_address"]
        await driver.stop()

    asyncio.run(scenario())


def test_a_transient_bind_failure_is_retried(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255, fail_adds=1)
        driver.start(link_up=True)
        await settle(driver)
        assert driver.bound == {VIP}
        kinds = kernel.kinds()
        assert kinds.count("add_address") == 1
        assert kinds[kinds.index("add_address") + 1 :].count("announce") == 2
        assert "announce" not in kinds[: kinds.index("add_address")]
        await driver.stop()

    asyncio.run(scenario())


def test_a_master_that_cannot_bind_hands_over_and_tries_again_later(
    kernel: FakeKernel, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_module, "BIND_RETRY_AFTER", 0.05)

    async def scenario() -> None:
        driver = make_driver(
            kernel, priority=255, fail_adds=len(driver_module.NETLINK_RETRY_DELAYS)
        )
        driver.start(link_up=True)
        await settle(driver)
        assert driver.router.state.value == "fault"
        assert driver.router.faulted == (driver_module.BIND_TRACKER,)
        assert "bind_failed" in caplog.text
        # it advertised, then stepped aside with priority 0, and never announced a VIP it lacks
        priorities = [e[4] for e in kernel.calls if e[0] == "send"]
        assert priorities[-1] == 0 and set(priorities[:-1]) == {255}
        assert "announce" not in kernel.kinds()
        assert driver.bound == set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        while driver.router.state.value != "master":  # bounded: the retry comes after 50 ms
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        await settle(driver)
        assert driver.bound == {VIP}
        assert kernel.kinds()[-3:] == ["add_address", "announce", "announce"]
        await driver.stop()

    logs.LOGGER.propagate = True
    with caplog.at_level(logging.INFO, logger="vipguard"):
        asyncio.run(scenario())


def test_rejections_are_counted_by_reason_and_logged_at_a_limited_rate(
    kernel: FakeKernel, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=100)
        driver.start(link_up=True)
        bad_ttl = advert(200)
        for _ in range(50):
            driver.on_packet(ReceivedPacket(bad_ttl.source, GROUP, 64, bad_ttl.payload))
        driver.on_packet(advert(200))
        assert driver.counters.rejected == {"bad_ttl": 50}
        assert driver.counters.adverts_in == 1
        assert caplog.text.count("advert_rejected") == 1
        await driver.stop()

    logs.LOGGER.propagate = True
    with caplog.at_level(logging.INFO, logger="vipguard"):
        asyncio.run(scenario())


def test_link_down_faults_and_releases_then_link_up_rejoins_as_backup(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255)
        driver.start(link_up=True)
        await settle(driver)
        driver.on_link(up=False)
        await settle(driver)
        assert driver.router.state.value == "fault"
        assert driver.bound == set()
        assert driver.router.faulted == ("interface:eth0",)
        driver.on_link(up=True)
        await settle(driver)
        assert driver.router.state.value == "master"  # the owner returns at once
        await driver.stop()

    asyncio.run(scenario())


def test_starting_with_the_link_down_enters_fault_without_binding(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255)
        driver.start(link_up=False)
        await settle(driver)
        assert driver.router.state.value == "fault"
        assert "add_address" not in kernel.kinds()
        await driver.stop()

    asyncio.run(scenario())


def test_our_own_unbind_is_not_mistaken_for_a_vip_taken_away(
    kernel: FakeKernel, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255)
        kernel.netlink.on_removed = lambda index, ip: driver.on_address(index, ip, added=False)
        driver.start(link_up=True)
        await settle(driver)
        extra = IPv4Interface("192.0.2.101/24")  # a reload swaps the VIP; the node stays master
        driver.reconfigure(
            replace(driver.router.config, vips=(extra,)), driver._announce_policy, {}
        )
        await settle(driver)
        assert driver.bound == {extra}
        assert ("add_address", "192.0.2.100/24", None) not in kernel.calls[2:]
        assert "vip_removed_externally" not in caplog.text
        await driver.stop()
        assert driver.bound == set()

    logs.LOGGER.propagate = True
    with caplog.at_level(logging.INFO, logger="vipguard"):
        asyncio.run(scenario())


def test_a_failing_observer_never_stops_the_protocol(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        driver = make_driver(kernel, priority=255)

        def broken(*_: object) -> None:
            raise RuntimeError("observer bug")

        driver.on_input, driver.on_transition = broken, broken
        driver.start(link_up=True)
        await settle(driver)
        assert driver.router.state.value == "master"
        assert kernel.kinds()[:2] == ["send", "add_address"]  # advertised and bound all the same
        assert driver.counters.transitions == 1
        await driver.stop(handover=False)

    asyncio.run(scenario())


def _debug_lines(kernel: FakeKernel, level: int, tmp_path: Any) -> list[str]:
    """The lines a backup logs while it hears a master, misses it and takes over."""
    with (tmp_path / f"log-{level}").open("w+") as stream:
        logs.setup("text", level, stream=stream, environ={})
        try:

            async def scenario() -> None:
                driver = make_driver(kernel, priority=100)
                driver.start(link_up=True)
                driver.on_packet(advert(150))
                driver.on_packet(advert(150))  # the same master: no second line
                driver.on_packet(replace(advert(150, source="192.0.2.99"), ttl=1))  # rejected
                await driver.wait_until(lambda: driver.router.state.value == "master", 2.0)
                await settle(driver)
                await driver.stop(handover=False)

            asyncio.run(scenario())
        finally:
            logs.setup("text")
        stream.seek(0)
        return [line for line in stream.read().splitlines() if line.startswith("level=debug")]


def test_debug_lines_only_at_debug(kernel: FakeKernel, tmp_path: Any) -> None:
    assert _debug_lines(kernel, logging.INFO, tmp_path) == []
    lines = _debug_lines(kernel, logging.DEBUG, tmp_path)
    events = [line.split()[1] for line in lines]
    assert events.count("event=master_heard") == 1, lines
    assert "event=packet_rejected" in events, lines
    assert "event=bind_done" in events and "event=unbind_done" in events, lines
    detail = [line for line in lines if "event=state_detail" in line and "state=master" in line]
    assert detail and "master_down_interval_ms=" in detail[0], lines
    assert "next_timer_ms=" in detail[0] and "bound=192.0.2.100/24" in detail[0], lines


async def until_asked(kernel: FakeKernel, kind: str, timeout: float = 1.0) -> None:
    """Wait (bounded) until the fakes were asked to do ``kind``: the worker, not an input of the
    core, does it, so ``wait_until`` would not see it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while kind not in kernel.kinds():
        assert loop.time() < deadline, f"no {kind} within {timeout}s: {kernel.calls}"
        await asyncio.sleep(0.001)


def handing_over(kernel: FakeKernel, driver: RouterDriver) -> Any:
    """Start ``driver`` as the owner, then stop it with a handover; the stop task, once its
    priority-0 advert is out."""

    async def begin() -> asyncio.Task[None]:
        driver.start(link_up=True)
        await until_asked(kernel, "announce")  # bound and announced (announcing may go on)
        kernel.calls.clear()
        stopping = asyncio.create_task(driver.stop())
        await driver.wait_until(lambda: bool(kernel.calls), 1.0)
        return stopping

    return begin()


def test_the_old_master_falls_silent_when_the_peer_takes_over_and_answers_after_release(
    kernel: FakeKernel,
) -> None:
    async def scenario() -> None:
        driver = make_driver(
            kernel, priority=255, interval_cs=100, suppression=FakeSuppression(kernel)
        )
        stopping = await handing_over(kernel, driver)
        assert "silence" not in kernel.kinds()  # nobody else answers yet
        driver.on_packet(advert(100))
        await until_asked(kernel, "silence")
        assert driver.bound == {VIP}  # silent, but still accepting packets to the VIP
        await stopping
        tail = [
            entry for entry in kernel.calls if entry[0] in ("silence", "remove_address", "answer")
        ]
        assert tail == [
            ("silence", "192.0.2.100"),
            ("remove_address", "192.0.2.100/24", True),
            ("answer", "192.0.2.100"),
        ]

    asyncio.run(scenario())


def test_falling_silent_ends_the_periodic_announcements(kernel: FakeKernel) -> None:
    async def scenario() -> None:
        refresh = AnnouncePolicy(count=1, interval=0.001, refresh=0.02)
        driver = make_driver(
            kernel,
            priority=255,
            interval_cs=100,
            suppression=FakeSuppression(kernel),
            announce=refresh,
        )
        stopping = await handing_over(kernel, driver)
        driver.on_packet(advert(100))
        await until_asked(kernel, "silence")
        await stopping
        silent_at = kernel.kinds().index("silence")
        assert "announce" not in kernel.kinds()[silent_at:]

    asyncio.run(scenario())


def test_a_suppression_that_fails_is_logged_and_the_handover_goes_on(
    kernel: FakeKernel, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        suppression = FakeSuppression(kernel, fail=True)
        driver = make_driver(kernel, priority=255, interval_cs=100, suppression=suppression)
        stopping = await handing_over(kernel, driver)
        loop = asyncio.get_running_loop()
        heard = loop.time()
        driver.on_packet(advert(100))
        await stopping
        assert HANDOVER_GRACE <= loop.time() - heard < HANDOVER_GRACE + 0.1
        assert driver.bound == set() and "remove_address" in kernel.kinds()
        failed = [r for r in caplog.records if r.getMessage() == "neighbour_suppression_failed"]
        # At least the silencing's failure (answering again may fail and be logged as well).
        assert failed and {r.levelno for r in failed} == {logging.WARNING}
        assert "Operation not permitted" in failed[0].fields["error"]  # type: ignore[attr-defined]

    logs.LOGGER.propagate = True
    with caplog.at_level(logging.INFO, logger="vipguard"):
        asyncio.run(scenario())


def test_answering_again_is_retried_until_it_works(
    kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_module, "UNBIND_RETRY_AFTER", 0.02)

    async def scenario() -> None:
        suppression = FakeSuppression(kernel, fail_restores=2)
        driver = make_driver(kernel, priority=255, interval_cs=100, suppression=suppression)
        driver.start(link_up=True)
        await until_asked(kernel, "announce")
        driver.set_maintenance(True)
        driver.on_packet(advert(100))  # the peer took over
        await until_asked(kernel, "remove_address")
        await until_asked(kernel, "answer")  # a VIP must never stay unanswered here
        assert suppression.fail_restores == 0
        assert kernel.kinds().count("answer") == 1
        await driver.stop()

    asyncio.run(scenario())
