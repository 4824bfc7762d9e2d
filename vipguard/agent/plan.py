"""What a configuration asks the agent to run, and what a reload must do to get there.

Pure: no kernel, no clock, no event loop. :func:`diff` turns the running routers' plans and a new
configuration into actions; the runtime validates, prepares (interfaces, sources) and only then
applies them, so a reload refused before the apply changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..config import AgentSettings, Config, InstanceConfig

RouterKey = tuple[str, int]  # (instance name, address family)


@dataclass(frozen=True, slots=True)
class RouterPlan:
    """One virtual router of the configuration: an instance's VIPs of one family."""

    instance: InstanceConfig
    family: int

    @property
    def ipv6(self) -> bool:
        return self.family == 6

    @property
    def key(self) -> RouterKey:
        # By instance and family, not by display name: "web" becomes "web/ipv4" when an IPv6
        # VIP is added, and the IPv4 router must not notice.
        return self.instance.name, self.family

    @property
    def name(self) -> str:
        many = len(self.instance.families()) > 1
        return f"{self.instance.name}/ipv{self.family}" if many else self.instance.name

    def identity(self) -> tuple[object, ...]:
        """What a router cannot change in place: where it lives and whom it talks to."""
        i, family = self.instance, self.family
        return (
            i.interface,
            i.vrid,
            family,
            i.use_vmac,
            i.source_of(family),
            i.group_of(family),
            bool(i.peers_of(family)),
        )


def router_plans(config: Config) -> Iterator[RouterPlan]:
    for instance in config.instances:
        for family in instance.families():
            yield RouterPlan(instance, family)


@dataclass(frozen=True, slots=True)
class AddRouter:
    plan: RouterPlan


@dataclass(frozen=True, slots=True)
class RemoveRouter:
    running: RouterPlan


@dataclass(frozen=True, slots=True)
class ReplaceRouter:
    """Stopped (VIPs released) and started anew: its identity changed."""

    running: RouterPlan
    plan: RouterPlan


@dataclass(frozen=True, slots=True)
class KeepRouter:
    """Reconfigured in place (priority, VIPs, timers...): its VIPs stay bound."""

    running: RouterPlan
    plan: RouterPlan


RouterAction = AddRouter | RemoveRouter | ReplaceRouter | KeepRouter


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    # In the order they run: removals and replacements (their old routers stop), routers kept,
    # then the routers to start (new ones first, then the replacements' new routers).
    actions: tuple[RouterAction, ...]
    # [agent] settings differ: they take effect at the next restart, not now
    agent_settings_ignored: bool

    def starting(self) -> list[RouterPlan]:
        """The plans of the routers to start, whose interfaces and sources must resolve."""
        added = [a.plan for a in self.actions if isinstance(a, AddRouter)]
        return added + [a.plan for a in self.actions if isinstance(a, ReplaceRouter)]


def diff(
    running: Mapping[RouterKey, RouterPlan], agent: AgentSettings, config: Config
) -> ReloadPlan:
    """The actions from the ``running`` routers' plans and ``agent`` settings to ``config``."""
    wanted = {plan.key: plan for plan in router_plans(config)}
    actions: list[RouterAction] = []
    for key, old in running.items():
        new = wanted.get(key)
        if new is None:
            actions.append(RemoveRouter(old))
        elif new.identity() != old.identity():
            actions.append(ReplaceRouter(old, new))
    actions += [KeepRouter(old, wanted[k]) for k, old in running.items() if _kept(old, wanted)]
    actions += [AddRouter(plan) for key, plan in wanted.items() if key not in running]
    return ReloadPlan(tuple(actions), agent_settings_ignored=config.agent != agent)


def _kept(old: RouterPlan, wanted: Mapping[RouterKey, RouterPlan]) -> bool:
    new = wanted.get(old.key)
    return new is not None and new.identity() == old.identity()
