"""The process's capabilities, read from /proc and lowered with prctl (no libcap needed)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

CAP_SETGID = 6
CAP_SETUID = 7
CAP_SYS_PTRACE = 19


PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_LOWER = 3


def effective(status: Path = Path("/proc/self/status"), field: str = "CapEff") -> int:
    """The CapEff mask (or another ``field``: CapAmb...); 0 if it cannot be read (then nothing
    may be assumed)."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith(f"{field}:"):
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


def withhold_from_programs(*caps: int) -> None:
    """Lower ``caps`` in the calling thread's ambient set: the agent keeps them (its permitted
    and effective sets do not change), but the programs it starts from this thread no longer
    inherit them. Raises OSError if the kernel refuses."""
    ambient = effective(field="CapAmb")
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in caps:
        if ambient >> cap & 1 and libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0):
            error = ctypes.get_errno()
            raise OSError(error, f"cannot lower ambient capability {cap}: {os.strerror(error)}")
