"""The reload diff, a pure function from the running routers' plans and a new configuration to
actions: which routers are added, removed, replaced (identity changed) or kept (reconfigured in
place). No kernel, no root; then the reload's validate, prepare and apply phases on a running
agent over the in-memory kernel (tests/kernel_fake.py)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

from kernel_fake import OWNER, FakeKernel, instance, running, write_config

from vipguard.agent.plan import (
    AddRouter,
    KeepRouter,
    ReloadPlan,
    RemoveRouter,
    ReplaceRouter,
    RouterAction,
    diff,
    router_plans,
)
from vipguard.agent.runtime import Agent
from vipguard.config import Config, parse


def config(*instances: str, agent: str = "") -> Config:
    text = agent + "".join(textwrap.dedent(instance) for instance in instances)
    return parse(text)


def reload(old: Config, new: Config) -> ReloadPlan:
    return diff({plan.key: plan for plan in router_plans(old)}, old.agent, new)


def kinds(actions: tuple[RouterAction, ...]) -> list[tuple[str, str]]:
    return [(type(action).__name__, _plan_of(action).name) for action in actions]


def _plan_of(action: RouterAction) -> object:
    return action.running if isinstance(action, RemoveRouter) else action.plan


WEB, API = instance("web", 51), instance("api", 52, vips='"192.0.2.101/24"')


def test_the_same_configuration_keeps_every_router() -> None:
    plan = reload(config(WEB, API), config(WEB, API))
    assert kinds(plan.actions) == [("KeepRouter", "web"), ("KeepRouter", "api")]
    assert plan.starting() == []
    assert not plan.agent_settings_ignored


def test_a_new_instance_is_added_and_a_missing_one_removed() -> None:
    plan = reload(config(WEB, API), config(WEB, instance("db", 53, vips='"192.0.2.102/24"')))
    assert kinds(plan.actions) == [
        ("RemoveRouter", "api"),
        ("KeepRouter", "web"),
        ("AddRouter", "db"),
    ]
    assert [p.name for p in plan.starting()] == ["db"]


def test_a_new_priority_or_vip_is_a_change_in_place_not_a_restart() -> None:
    changed = instance("web", 51, "priority = 200", vips='"192.0.2.100/24", "192.0.2.110/24"')
    plan = reload(config(WEB), config(changed))
    (action,) = plan.actions
    assert isinstance(action, KeepRouter)
    assert action.plan.instance.priority == 200
    assert action.running.instance.priority != 200


def test_a_new_vrid_or_interface_replaces_the_router() -> None:
    for changed in (instance("web", 61), instance("web", 51).replace("eth0", "eth1")):
        plan = reload(config(WEB), config(changed))
        (action,) = plan.actions
        assert isinstance(action, ReplaceRouter), changed
        assert plan.starting() == [action.plan]


def test_an_added_ipv6_vip_adds_a_router_and_keeps_the_ipv4_one_though_its_name_changes() -> None:
    dual = instance("web", 51, vips='"192.0.2.100/24", "2001:db8::100/64"')
    plan = reload(config(WEB), config(dual))
    assert kinds(plan.actions) == [("KeepRouter", "web/ipv4"), ("AddRouter", "web/ipv6")]
    keep = plan.actions[0]
    assert isinstance(keep, KeepRouter) and keep.running.name == "web"


def test_new_routers_start_before_the_replacements_new_routers() -> None:
    plan = reload(config(WEB), config(instance("web", 61), API))
    assert [type(a) for a in plan.actions] == [ReplaceRouter, AddRouter]
    assert [p.name for p in plan.starting()] == ["api", "web"]


def test_changed_agent_settings_are_reported_as_ignored() -> None:
    plan = reload(config(WEB), config(WEB, agent="[agent]\nrealtime_priority = 10\n"))
    assert plan.agent_settings_ignored
    assert kinds(plan.actions) == [("KeepRouter", "web")]


# ---------------------------------------------------------------------- validate, prepare, apply


async def reload_to(agent: Agent, directory: Path, instances: str) -> dict[str, Any]:
    write_config(directory, instances)
    return await agent.reload({})


def test_a_reload_whose_prepare_fails_changes_nothing_and_says_why(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24")
    kernel.netlink.add_link("eth1")  # no IPv4 address: no advert source
    agent = Agent(write_config(tmp_path, OWNER), kernel.adapters())
    missing = instance("api", 52, vips='"192.0.2.101/24"', interface="eth9")
    moved = OWNER.replace("eth0", "eth1")

    async def scenario() -> None:
        async with running(agent, kernel):
            await kernel.until(lambda: kernel.netlink.holds("eth0", "192.0.2.100/24"))
            (web,) = agent.drivers
            before = len(kernel.calls)
            answer = await reload_to(agent, tmp_path, OWNER + missing)
            assert answer == {
                "ok": False,
                "error": f"interface 'eth9' does not exist: fix `interface` in"
                f" {tmp_path / 'vipguard.toml'}; the running configuration stays",
            }
            answer = await reload_to(agent, tmp_path, moved)
            assert answer["ok"] is False
            assert "interface eth1 has no IPv4 address to send adverts from" in answer["error"]
            assert answer["error"].endswith("the running configuration stays")
            during = kernel.calls[before:]
            assert agent.drivers == [web] and agent.config.instances[0].interface == "eth0"
            assert web.router.state.value == "master"
            assert kernel.netlink.holds("eth0", "192.0.2.100/24")
            touched = {"remove_address", "add_address", "open_socket", "close_socket"}
            assert [call for call in during if call[0] in touched] == []
            assert [a.ifname for a in kernel.announcers if not a.closed] == ["eth0"]
            assert set(agent.ports.by_name) == {"eth0"}

    asyncio.run(scenario())


def test_a_reload_adds_a_router_and_keeps_the_running_one(
    kernel: FakeKernel, tmp_path: Path
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24")
    agent = Agent(write_config(tmp_path, OWNER), kernel.adapters())

    async def scenario() -> None:
        async with running(agent, kernel):
            await kernel.until(lambda: kernel.netlink.holds("eth0", "192.0.2.100/24"))
            (web,) = agent.drivers
            answer = await reload_to(agent, tmp_path, OWNER + API)
            assert answer == {
                "kept": ["web"],
                "changed": [],
                "removed": [],
                "added": ["api"],
                "warnings": [],
            }
            assert agent.drivers[0] is web and [d.name for d in agent.drivers] == ["web", "api"]
            answer = await reload_to(agent, tmp_path, API)
            assert answer["removed"] == ["web"] and answer["kept"] == ["api"]
            assert not kernel.netlink.holds("eth0", "192.0.2.100/24")  # released on removal

    asyncio.run(scenario())
