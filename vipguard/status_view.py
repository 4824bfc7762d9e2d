"""Human-readable rendering of the agent's status answer (standard library only)."""

from __future__ import annotations

from typing import Any


def render(status: dict[str, Any]) -> str:
    lines = [f"vipguard agent pid {status['pid']}, config {status['config']}"]
    for instance in status["instances"]:
        lines += ["", *_instance(instance)]
    if not status["instances"]:
        lines.append("no instances configured")
    return "\n".join(lines)


def _instance(item: dict[str, Any]) -> list[str]:
    priority = item["priority"]
    parts = [f"base {priority['base']}"]
    parts += [f"{name} {value:+d}" for name, value in priority["contributions"].items() if value]
    parts += [f"{name} FAULT" for name in priority["faults"]]
    vips = ", ".join(
        f"{v['address']} ({'bound' if v['bound'] else 'not bound'})" for v in item["vips"]
    )
    counters = item["counters"]
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(counters["rejected"].items())) or "none"
    return [
        f"{item['name']}: {item['state'].upper()}  ({item['interface']}, {item['family']},"
        f" VRID {item['vrid']}, VRRPv{item['version']}, {item['mode']})",
        f"  priority      {priority['effective']}  ({', '.join(parts)})",
        f"  vips          {vips}",
        f"  master        {_master(item['master'])}",
        f"  timers        advert {item['advert_interval_ms']} ms, master advert"
        f" {item['master_advert_interval_ms']} ms,"
        f" master down {item['master_down_interval_ms']} ms",
        f"  in state      {_duration(item['seconds_in_state'])}",
        f"  last change   {_transition(item['last_transition'])}",
        f"  wire          source {item['source']}, checksum {item['checksum']},"
        f" auth {item['auth']}" + (f", virtual MAC on {item['vmac']}" if item.get("vmac") else ""),
        f"  adverts       in {counters['adverts_in']}, out {counters['adverts_out']},"
        f" send errors {counters['send_errors']}",
        f"  rejected      {rejected}",
        f"  transitions   {counters['transitions']}, announcements {counters['announcements']}",
    ]


def _master(master: dict[str, Any] | None) -> str:
    if master is None:
        return "unknown"
    who = "this node" if master["self"] else master["address"]
    return f"{who} (priority {master['priority']})"


def _transition(transition: dict[str, Any] | None) -> str:
    if transition is None:
        return "none"
    return f"{transition['from']} -> {transition['to']} ({transition['reason']})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
