"""A stand-in for :class:`RouterDriver` where a test needs what the agent's observers use of one
(the fitness wiring's ``track``/``untrack``, the metrics collector's router, egress and counters)
but no event loop, socket or netlink: a real :class:`VirtualRouter`, started as a backup, whose
tracker inputs are also written down in ``tracked`` so that a test reads what it was told."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from types import SimpleNamespace

from vipguard.agent.driver import Counters
from vipguard.proto.router import RouterConfig, VirtualRouter
from vipguard.proto.timers import Instant

START = Instant(0.0, 0)
LATER = Instant(1.0, 0)


class FakeDriver:
    """Hashable by identity, like the real driver (the fitness wiring keys its users by it)."""

    def __init__(
        self, name: str, vrid: int = 51, priority: int = 100, failover: float | None = None
    ) -> None:
        vip = IPv4Interface(f"192.0.2.{vrid}/24")
        config = RouterConfig(vrid, priority, (vip,), IPv4Address("192.0.2.11"))
        self.name, self.family, self.last_failover = name, 4, failover
        self.egress = SimpleNamespace(interface="eth0", vmac=None)
        self.bound: set[IPv4Interface] = set()
        self.last_transition = None
        self.router = VirtualRouter(config)
        self.router.start(START)
        self.counters = Counters()
        self.tracked: dict[str, tuple[int, bool]] = {}

    def track(self, name: str, *, contribution: int = 0, fault: bool = False) -> None:
        self.tracked[name] = (contribution, fault)
        self.router.track(name, LATER, contribution=contribution, fault=fault)

    def untrack(self, name: str) -> None:
        self.tracked.pop(name, None)
        self.router.untrack(name, LATER)
