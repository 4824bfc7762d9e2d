"""What `vipguard status` reports, as plain JSON-ready values rendered from one agent snapshot
(the one `/metrics` renders too, see agent/snapshot.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..proto.router import VirtualRouter
from .snapshot import AgentSnapshot, HandoverView, RouterSnapshot


def answer(snapshot: AgentSnapshot) -> dict[str, Any]:
    """The control socket's answer to "status"."""
    hooks = snapshot.hooks
    outcomes: dict[str, int] = {}
    for (_, _, outcome), count in hooks.counts.items():
        outcomes[outcome] = outcomes.get(outcome, 0) + count
    return {
        "pid": snapshot.pid,
        "config": snapshot.config,
        "unknown_vrid_packets": snapshot.unknown_vrid,
        "instances": [_instance(snapshot, router) for router in snapshot.routers],
        "hooks": {
            "running": sorted(hooks.running),
            "queued": hooks.queued,
            "outcomes": dict(sorted(outcomes.items())),
        },
        "event_subscribers": snapshot.events.subscribers,
    }


def _instance(snapshot: AgentSnapshot, router: RouterSnapshot) -> dict[str, Any]:
    group = snapshot.sync.by_router.get(router.name)
    return {
        **describe(router, snapshot.taken_at),
        "maintenance": router.maintenance,
        "handover": _handover(router.handover),
        "trackers": [asdict(use) for use in snapshot.fitness.uses.get(router.name, ())],
        "sync_group": None
        if group is None
        else {"name": group.name, "members": list(group.members), "held": group.held},
    }


def describe(router: RouterSnapshot, now: float) -> dict[str, Any]:
    """One router as of the monotonic time ``now``."""
    master, counters = router.master, router.counters
    return {
        "name": router.name,
        "interface": router.interface,
        "vmac": router.vmac,
        "family": f"ipv{router.family}",
        "vrid": router.vrid,
        "version": router.version,
        "state": router.state.value,
        "seconds_in_state": round(now - router.state_since, 3),
        "priority": {
            "base": router.base_priority,
            "effective": router.effective_priority,
            "contributions": dict(router.contributions),
            "faults": list(router.faults),
        },
        "source": router.source,
        "mode": "unicast" if router.peers else "multicast",
        "peers": list(router.peers),
        "vips": [{"address": address, "bound": bound} for address, bound in router.vips],
        "master": None
        if master is None
        else {"address": master.address, "priority": master.priority, "self": master.self},
        "advert_interval_ms": router.advert_interval_cs * 10,
        "master_advert_interval_ms": router.master_advert_interval_cs * 10,
        "master_down_interval_ms": round(router.master_down_interval * 1000, 1),
        "checksum": router.checksum,
        "auth": router.auth,
        "last_transition": None if router.last_transition is None else dict(router.last_transition),
        "counters": {
            "adverts_in": counters.adverts_in,
            "adverts_out": counters.adverts_out,
            "send_errors": counters.send_errors,
            "transitions": counters.transitions,
            "announcements": counters.announcements,
            "rejected": dict(counters.rejected),
        },
    }


def _handover(handover: HandoverView | None) -> dict[str, Any] | None:
    return None if handover is None else {"reason": handover.reason, "peer": handover.peer}


def handover_view(router: VirtualRouter) -> dict[str, Any] | None:
    """A master handing its VIPs over: why, and to whom once a peer has taken over."""
    handover = router.handover
    if handover is None:
        return None
    peer = None if handover.peer is None else str(handover.peer.address)
    return {"reason": handover.reason.value, "peer": peer}
