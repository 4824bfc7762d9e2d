"""``[agent]``: the agent's own settings (control socket, state directory, logs, metrics,
real-time priority); every key has a default, so the table itself may be left out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .reader import Table, absolute_path, host_port
from .sections import Document, Read, Section

DEFAULT_CONTROL_SOCKET = Path("/run/vipguard/control.sock")
DEFAULT_STATE_DIR = Path("/var/lib/vipguard")
DEFAULT_METRICS = ("127.0.0.1", 9650)
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
# sun_path is 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


@dataclass(frozen=True, slots=True)
class AgentSettings:
    control_socket: Path
    state_dir: Path
    log_format: str
    realtime_priority: int = 0
    metrics: tuple[str, int] | None = DEFAULT_METRICS
    log_level: str = "info"  # `run --log-level` overrides it


_AGENT_KEYS = (
    "control_socket",
    "state_dir",
    "log_format",
    "realtime_priority",
    "metrics",
    "log_level",
)


def _read(document: Document) -> Read[AgentSettings, None]:
    return Read(_agent(document.top), None)


def _agent(top: Table) -> AgentSettings | None:
    table = top.table("agent", _AGENT_KEYS) or Table(top.context, "agent", {}, _AGENT_KEYS)
    socket = absolute_path(table, "control_socket", DEFAULT_CONTROL_SOCKET)
    if socket is not None and len(os.fsencode(socket)) > MAX_SOCKET_PATH:
        length = len(os.fsencode(socket))
        table.report("control_socket", f"is {length} bytes; a socket path is at most 107")
        socket = None
    state_dir = absolute_path(table, "state_dir", DEFAULT_STATE_DIR)
    log_format = table.choice("log_format", LOG_FORMATS, "text")
    realtime = table.integer(
        "realtime_priority", 0, 99, "0 is off, 1..99 a SCHED_FIFO priority", default=0
    )
    metrics = _metrics_address(table)
    log_level = table.choice("log_level", LOG_LEVELS, "info")
    if socket is None or state_dir is None or log_format is None or realtime is None:
        return None
    if metrics is False or log_level is None:
        return None
    return AgentSettings(socket, state_dir, log_format, realtime, metrics, log_level)


def _metrics_address(table: Table) -> tuple[str, int] | Literal[False] | None:
    """``"host:port"`` (IPv6 as ``"[::1]:9650"``), or ``""`` for no metrics; False if invalid."""
    text = table.get("metrics", str, "127.0.0.1:9650")
    if text is None:
        return False
    if text == "":
        return None
    endpoint = host_port(text)
    if endpoint is None:
        table.report(
            "metrics",
            f'{text!r} is not an address:port such as "127.0.0.1:9650",'
            ' "[::1]:9650", or "" for no metrics endpoint',
        )
        return False
    if endpoint[0].is_unspecified:
        table.warn(
            "metrics",
            f"{text!r} listens on every address of this host: whoever reaches it reads the"
            " instances, states and priorities; bind the address Prometheus scrapes, like"
            " '192.0.2.11:9650', or '127.0.0.1:9650' for this host only",
        )
    return str(endpoint[0]), endpoint[1]


AGENT = Section("agent", _read, attribute="agent")
