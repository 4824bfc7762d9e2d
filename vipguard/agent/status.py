"""What `vipguard status` reports about each virtual router, as plain JSON-ready values."""

from __future__ import annotations

from typing import Any

from ..proto.router import VirtualRouter
from ..proto.timers import Instant
from .driver import RouterDriver


def describe(driver: RouterDriver, now: Instant) -> dict[str, Any]:
    router, config = driver.router, driver.router.config
    master = router.master
    counters = driver.counters
    return {
        "name": driver.name,
        "interface": driver.egress.interface,
        "vmac": driver.egress.vmac,
        "family": f"ipv{driver.family}",
        "vrid": config.vrid,
        "version": config.version,
        "state": router.state.value,
        "seconds_in_state": round(now.monotonic - router.state_since, 3),
        "priority": {
            "base": config.priority,
            "effective": router.priority,
            "contributions": router.contributions,
            "faults": list(router.faulted),
        },
        "source": str(config.source),
        "mode": "unicast" if config.peers else "multicast",
        "peers": [str(peer) for peer in config.peers],
        "vips": [{"address": str(vip), "bound": vip in driver.bound} for vip in config.vips],
        "master": None
        if master is None
        else {
            "address": str(master.address),
            "priority": master.priority,
            "self": master.address == config.source,
        },
        "advert_interval_ms": config.interval_cs * 10,
        "master_advert_interval_ms": router.master_adver_interval_cs * 10,
        "master_down_interval_ms": round(router.master_down_interval * 1000, 1),
        "checksum": _checksum(driver),
        "auth": config.auth.mode.value if config.auth else "off",
        "last_transition": driver.last_transition,
        "counters": {
            "adverts_in": counters.adverts_in,
            "adverts_out": counters.adverts_out,
            "send_errors": counters.send_errors,
            "transitions": counters.transitions,
            "announcements": counters.announcements,
            "rejected": dict(counters.rejected),
        },
    }


def _checksum(driver: RouterDriver) -> str:
    """What the adverts' checksum covers: only VRRPv3 over IPv4 has a choice."""
    config = driver.router.config
    if config.version == 2:
        return "message"
    if driver.family == 6:
        return "pseudo-header"
    return driver.router.wire.send_checksum_mode.value


def handover_view(router: VirtualRouter) -> dict[str, Any] | None:
    """A master handing its VIPs over: why, and to whom once a peer has taken over."""
    handover = router.handover
    if handover is None:
        return None
    peer = None if handover.peer is None else str(handover.peer.address)
    return {"reason": handover.reason.value, "peer": peer}
