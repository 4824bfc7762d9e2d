"""Human-readable rendering of the agent's answers: status, events, maintenance (standard
library only). Parts that older agents do not send are left out."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def render(status: dict[str, Any]) -> str:
    lines = [f"vipguard agent pid {status['pid']}, config {status['config']}"]
    if isinstance(status.get("hooks"), dict):
        lines.append(_hooks(status["hooks"]))
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
        *_fitness(item),
        f"  priority      {priority['effective']}  ({', '.join(parts)})",
        *(_tracker(tracker) for tracker in item.get("trackers", [])),
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


def _fitness(item: dict[str, Any]) -> list[str]:
    lines = []
    if "maintenance" in item:
        lines.append(f"  maintenance   {'ON' if item['maintenance'] else 'off'}")
    handover = item.get("handover")
    if handover:
        lines.append(f"  handover      {_handover(handover)}")
    group = item.get("sync_group")
    if group:
        held = ", held in backup by a member" if group.get("held") else ""
        members = ", ".join(group.get("members", []))
        lines.append(f"  sync group    {group['name']} ({members}){held}")
    return lines


def _tracker(tracker: dict[str, Any]) -> str:
    up = tracker.get("up")
    health = "unknown" if up is None else "up" if up else "down"
    if tracker.get("fault"):
        health += " (FAULT)"
    contribution = tracker.get("contribution", 0)
    parts = [health] + ([] if tracker.get("value") is None else [f"value {tracker['value']}"])
    parts.append(f"weight {tracker.get('weight', 0)}")
    parts.append(f"contribution {contribution:+d}" if contribution else "contribution 0")
    latency = tracker.get("latency_ms")
    measured = [tracker.get("detail") or "", "" if latency is None else f"{latency:.1f} ms"]
    detail = " in ".join(part for part in measured if part)
    return f"  tracker {tracker['name']} ({tracker.get('kind', '?')}): {', '.join(parts)}" + (
        f" — {detail}" if detail else ""
    )


def _hooks(hooks: dict[str, Any]) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in hooks.get("outcomes", {}).items()) or "none yet"
    running = ", ".join(hooks.get("running", [])) or "none"
    return f"hooks: {outcomes}; running {running}; queued {hooks.get('queued', 0)}"


_EVENT_STAMP = ("seq", "time", "event", "instance")
_EVENT_FIRST = ("reason", "priority")  # what an operator reads first; the rest follows


def render_event(event: dict[str, Any]) -> str:
    """One line: local time, instance, kind, then the details (a state change as old→new)."""
    rest = {k: v for k, v in event.items() if k not in _EVENT_STAMP and v is not None}
    parts = [_clock(event.get("time")), str(event.get("instance", "-")), str(event.get("event"))]
    if "old" in rest and "new" in rest:
        parts.append(f"{rest.pop('old')}→{rest.pop('new')}")
    first = {key: rest.pop(key) for key in _EVENT_FIRST if key in rest}
    parts += [f"{key}={_value(value)}" for key, value in {**first, **rest}.items()]
    return " ".join(parts)


def _clock(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    return datetime.fromtimestamp(seconds).isoformat(timespec="milliseconds")


def _value(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=') else text


def render_maintenance(answer: dict[str, Any]) -> str:
    """The agent's answer to ``maintenance``: one line per instance it applied to."""
    lines = []
    for item in answer.get("instances", []):
        mode = "on" if item.get("maintenance") else "off"
        line = f"{item['name']}: maintenance {mode}, state {item.get('state', '?')}"
        if item.get("handover"):
            line += f", handing over: {_handover(item['handover'])}"
        elif item.get("master"):
            line += f", master now {item['master']}"
        lines.append(line)
    return "\n".join(lines) or "no instances"


def _handover(handover: dict[str, Any]) -> str:
    """``maintenance, to 192.0.2.12`` or ``maintenance, waiting for a peer to take over``."""
    peer = handover.get("peer")
    whom = f"to {peer}" if peer else "waiting for a peer to take over"
    return f"{handover.get('reason', '?')}, {whom}"
