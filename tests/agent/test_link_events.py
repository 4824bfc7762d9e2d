"""Kernel link and address events reach the routers (agent/links.py), and after the kernel
dropped some (its queue overflowed) the agent reads links and addresses again: driven on the
in-memory kernel, no root."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kernel_fake import OWNER, FakeKernel, running, write_config

from vipguard.agent.runtime import Agent
from vipguard.io.netlink import LinkChange


def test_a_link_going_down_faults_its_router_and_coming_back_restores_it(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    eth0 = kernel.netlink.add_link("eth0", "192.0.2.11/24")
    agent = Agent(write_config(tmp_path, OWNER), kernel.adapters())

    async def scenario() -> None:
        async with running(agent, kernel):
            (web,) = agent.drivers
            await kernel.until(lambda: web.router.state.value == "master")
            kernel.watcher.push(LinkChange(eth0.index, False, "eth0"))
            await kernel.until(lambda: web.router.state.value == "fault")
            await kernel.until(lambda: not kernel.netlink.holds("eth0", "192.0.2.100/24"))
            kernel.watcher.push(LinkChange(eth0.index, True, "eth0"))
            await kernel.until(lambda: web.router.state.value == "master")

    asyncio.run(scenario())


def test_after_lost_events_a_vip_removed_meanwhile_is_noticed_and_bound_again(
    kernel: FakeKernel,
    tmp_path: Path,
) -> None:
    eth0 = kernel.netlink.add_link("eth0", "192.0.2.11/24")
    agent = Agent(write_config(tmp_path, OWNER), kernel.adapters())

    async def scenario() -> None:
        async with running(agent, kernel):
            await kernel.until(lambda: kernel.netlink.holds("eth0", "192.0.2.100/24"))
            binds = kernel.kinds().count("add_address")
            # Someone removes the VIP and the kernel's event for it is lost.
            kernel.netlink.addresses_of[eth0.index] = kernel.netlink.addresses_of[eth0.index][:1]
            kernel.watcher.overflow()
            await kernel.until(lambda: kernel.kinds().count("add_address") > binds)
            await kernel.until(lambda: kernel.netlink.holds("eth0", "192.0.2.100/24"))

    asyncio.run(scenario())
