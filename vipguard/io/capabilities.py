"""The process's effective capabilities, read from /proc (no libcap needed)."""

from __future__ import annotations

from pathlib import Path

CAP_SETGID = 6
CAP_SETUID = 7
CAP_SYS_PTRACE = 19


def effective(status: Path = Path("/proc/self/status")) -> int:
    """The CapEff mask; 0 if it cannot be read (then nothing may be assumed)."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def can_switch_user(mask: int | None = None) -> bool:
    """Whether commands can be started as another user (CAP_SETUID and CAP_SETGID)."""
    mask = effective() if mask is None else mask
    return all(mask >> bit & 1 for bit in (CAP_SETUID, CAP_SETGID))


def sees_every_process(mask: int | None = None) -> bool:
    """Whether /proc shows this process every other one even where it is mounted with hidepid
    (CAP_SYS_PTRACE, which root normally has and the unit's user has not)."""
    mask = effective() if mask is None else mask
    return bool(mask >> CAP_SYS_PTRACE & 1)
