"""Key files (``secret_file``): who may own and read them, and the errors that say how to fix them.

The model, one for root's ``vipguard check-config`` and for the unit's ``User=vipguard``: a key
file is owned by root with group ``vipguard`` and mode 0640 (root writes it, the service group
reads it, nobody else can). Root-owned files may be readable by their group but no more; a file
owned by the reading user (an agent run by hand as someone else) must be 0600. PostgreSQL holds
its TLS keys to the same rule.

Run as root, the reader also asks whether the unit's user could read the file, so the mistake
shows at ``check-config`` time rather than as a unit that fails to start.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SERVICE_USER = "vipguard"  # the unit's User= and Group= (tests/config/test_keyfiles.py checks it)
FIX = "chown root:{group} {path} && chmod 0640 {path}"


def read_key_file(path: Path) -> str:
    """The file's ASCII text without trailing CR/LF; ValueError names the problem and the fix."""
    try:
        # O_NONBLOCK: a FIFO put in the key's place must not hang the agent on open().
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            check_key_file(path, os.fstat(descriptor))
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                raw = handle.read()
        finally:
            os.close(descriptor)
    except PermissionError:
        raise ValueError(_denied(path)) from None
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return raw.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not ASCII; write the key as hex:<digits>") from None


def check_key_file(path: Path, info: os.stat_result) -> None:
    """Refuse a key file that is not regular, has a foreign owner or is open to too many."""
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid == 0:
        if mode & 0o037:
            raise ValueError(
                f"{path} is {_too_open(mode)} (mode {mode:04o}); a root-owned key may be read by "
                f"its group only: run chmod 0640 {path}"
            )
    elif info.st_uid == os.geteuid():
        if mode & 0o077:
            raise ValueError(
                f"{path} is open to group/others (mode {mode:04o}); run: chmod 600 {path}"
            )
    else:
        raise ValueError(
            f"{path} is owned by uid {info.st_uid}; it must be owned by root: "
            + FIX.format(group=SERVICE_USER, path=path)
        )


def service_user_problem(path: Path) -> str | None:
    """Run as root: why the unit's user could not read ``path``, or None if it can (or if there
    is no such user here, as on a host that runs the agent as root)."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None
    groups = set(os.getgrouplist(SERVICE_USER, account.pw_gid))
    blocked = _first_blocked(path.absolute(), account.pw_uid, groups)
    if blocked is None:
        return None
    group = grp.getgrgid(account.pw_gid).gr_name
    return (
        f"user {SERVICE_USER!r} (the systemd unit's User=) cannot {blocked}, so the unit's "
        f"check-config and agent will refuse it: " + FIX.format(group=group, path=path)
    )


def _first_blocked(path: Path, uid: int, groups: set[int]) -> str | None:
    """What ``uid`` with ``groups`` cannot do on the way to reading ``path``, if anything."""
    for directory in reversed(path.parents):
        if not _allowed(directory.stat(), uid, groups, 0o1):
            return f"enter {directory}"
    return None if _allowed(path.stat(), uid, groups, 0o4) else f"read {path}"


def _allowed(info: os.stat_result, uid: int, groups: set[int], bit: int) -> bool:
    """Whether ``uid`` has permission ``bit`` (4 read, 1 execute) by the owner/group/other rule."""
    if info.st_uid == uid:
        shift = 6
    elif info.st_gid in groups:
        shift = 3
    else:
        shift = 0
    return bool(info.st_mode >> shift & bit)


def _too_open(mode: int) -> str:
    if mode & 0o007:
        return "open to others"
    return "writable by its group" if mode & 0o020 else "executable by its group"


def _denied(path: Path) -> str:
    user, group = _name(pwd.getpwuid, os.geteuid()), _name(grp.getgrgid, os.getegid())
    fix = FIX.format(group=group, path=path)
    if not os.access(path.parent, os.X_OK):
        fix += f" (and let that group enter {path.parent}: chgrp {group} {path.parent})"
    return f"cannot read {path}: permission denied to user {user!r}; let its group read it: {fix}"


def _name(lookup: Callable[[int], Sequence[Any]], number: int) -> str:
    """The account or group name of ``number``, or the number where the host has no name."""
    try:
        return str(lookup(number)[0])
    except KeyError:
        return str(number)
