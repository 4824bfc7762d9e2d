"""The agent's start-up order, driven on an in-memory kernel (tests/kernel_fake.py), no root:
stale VIPs go before the first advert, sockets are read before any router starts, a start-up
refused while preparing touches nothing, and subsystems start before the routers and stop
after them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kernel_fake import OWNER, FakeKernel, instance, running, write_config

from vipguard.agent.runtime import Agent
from vipguard.config import Config

BACKUP = instance("web", 51, "priority = 100")


def test_a_stale_vip_goes_before_the_first_advert_and_the_socket_is_read_before(
    kernel: FakeKernel,
    tmp_path: Path,
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24", "192.0.2.100/24")  # a crash left the VIP
    agent = Agent(write_config(tmp_path, OWNER), kernel.adapters())

    async def scenario() -> None:
        async with running(agent, kernel):
            await kernel.until(lambda: "add_address" in kernel.kinds())

    asyncio.run(scenario())
    first_advert = kernel.first("send", "eth0", "192.0.2.11", "224.0.0.18")
    assert kernel.first("remove_address", "192.0.2.100/24", True) < first_advert
    assert kernel.first("open_socket", "eth0") < kernel.first("join", "eth0", "224.0.0.18")
    assert kernel.first("join", "eth0") < kernel.first("watch_socket", "eth0") < first_advert
    assert kernel.first("remove_address", "192.0.2.100/24") < kernel.first("add_address")


def test_a_backup_removes_the_stale_vip_and_does_not_take_it_back(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24", "192.0.2.100/24")
    agent = Agent(write_config(tmp_path, BACKUP), kernel.adapters())

    async def scenario() -> None:
        async with running(agent, kernel):
            (web,) = agent.status({})["instances"]
            assert web["state"] == "backup"
            assert web["vips"] == [{"address": "192.0.2.100/24", "bound": False}]

    asyncio.run(scenario())
    assert not kernel.netlink.holds("eth0", "192.0.2.100/24")
    assert "add_address" not in kernel.kinds()


def refused(config: Config, kernel: FakeKernel) -> int:
    return asyncio.run(Agent(config, kernel.adapters()).run())


def test_a_missing_interface_refuses_the_start_before_any_vip_is_touched(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24", "192.0.2.100/24")
    other = instance("api", 52, vips='"192.0.2.101/24"', interface="eth9")
    assert refused(write_config(tmp_path, OWNER + other), kernel) == 1
    assert kernel.netlink.holds("eth0", "192.0.2.100/24")  # left for the next, fixed, start
    assert "remove_address" not in kernel.kinds()
    assert "open_socket" not in kernel.kinds()
    assert all(announcer.closed for announcer in kernel.announcers)


def test_an_interface_without_an_address_refuses_the_start_before_any_vip_is_touched(
    kernel: FakeKernel,
    tmp_path: Path,
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.100/24")  # only the VIP: no source of its own
    assert refused(write_config(tmp_path, OWNER), kernel) == 1
    assert "remove_address" not in kernel.kinds()


def test_an_unreadable_maintenance_file_refuses_the_start_before_any_interface_is_read(
    kernel: FakeKernel,
    tmp_path: Path,
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24")
    config = write_config(tmp_path, OWNER)
    (tmp_path / "state" / "maintenance").mkdir(parents=True)  # reading it fails
    assert refused(config, kernel) == 1
    assert "link" not in kernel.kinds()


class Recorder:
    """A subsystem that writes its lifecycle into the kernel's calls."""

    name = "recorder"

    def __init__(self, kernel: FakeKernel) -> None:
        self.kernel = kernel

    async def start(self, config: Config) -> None:
        self.kernel.calls.append(("subsystem_start", len(config.instances)))

    async def reload(self, config: Config) -> None:
        self.kernel.calls.append(("subsystem_reload",))

    async def stop(self, timeout: float) -> None:
        self.kernel.calls.append(("subsystem_stop", timeout))

    def snapshot(self) -> None:
        return None


def test_subsystems_start_before_the_routers_adopt_them_before_they_run_and_stop_after(
    kernel: FakeKernel,
    tmp_path: Path,
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24")
    agent = Agent(write_config(tmp_path, OWNER), kernel.adapters())
    agent.subsystems.append(Recorder(kernel))

    async def scenario() -> None:
        async with running(agent, kernel):
            await kernel.until(lambda: "add_address" in kernel.kinds())

    asyncio.run(scenario())
    start, reload = kernel.first("subsystem_start", 1), kernel.first("subsystem_reload")
    assert start < kernel.first("link", "eth0")
    assert kernel.first("open_socket") < reload < kernel.first("send")
    last_advert = max(n for n, call in enumerate(kernel.calls) if call[0] == "send")
    assert last_advert < kernel.first("subsystem_stop") < kernel.first("close_socket")
