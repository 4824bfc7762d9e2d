"""Kernel parameters under /proc/sys (the agent only sets those of interfaces it manages)."""

from __future__ import annotations

from pathlib import Path

PROC_SYS = Path("/proc/sys")


def get_sysctl(key: str) -> str:
    return (PROC_SYS / key).read_text().strip()


def set_sysctl(key: str, value: str) -> str:
    """Write ``value``; return the previous value so the caller can restore it."""
    path = PROC_SYS / key
    previous = path.read_text().strip()
    if previous != value:
        path.write_text(value)
    return previous
