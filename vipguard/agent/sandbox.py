"""What the agent checks at start-up (and on every reload) about the sandbox it runs in, so that
a tracker or hook that could never work there is refused with its cause and fix, instead of
failing at every check or at 3 a.m. on the first failover.

The shipped unit runs the agent as an unprivileged user with only CAP_NET_ADMIN and CAP_NET_RAW,
``NoNewPrivileges`` and ``ProtectProc=invisible``. Running a command as another user needs
CAP_SETUID and CAP_SETGID (and the setuid system calls); one check covers script trackers and
notify hooks alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..config import Config, ScriptCheck
from ..io.capabilities import can_switch_user
from ..io.commands import RunAs

USER_DROP_IN = (
    "grant them (systemd drop-in: AmbientCapabilities= and CapabilityBoundingSet= with"
    " CAP_SETUID CAP_SETGID, SystemCallFilter=@setuid) or remove `user`"
)


def problems(config: Config) -> list[str]:
    """What in ``config`` cannot work with the agent's current privileges and view of the
    system, each with its cause and fix (the runtime refuses to start or reload on any)."""
    return [problem for problem in (_user_problem(config),) if problem]


def commands_run_as(config: Config) -> Iterator[tuple[str, str]]:
    """(what, user) of every tracker script and notify hook configured with a user."""
    for tracker in config.trackers:
        if isinstance(tracker.check, ScriptCheck) and tracker.check.user is not None:
            yield f"tracker {tracker.name!r}", tracker.check.user
    for instance in config.instances:
        for key, user in instance.notify.users if instance.notify else ():
            yield f"notify hook {key!r} of instance {instance.name!r}", user


def _user_problem(config: Config) -> str | None:
    """A command with another ``user`` needs CAP_SETUID and CAP_SETGID: say so at start, not
    at every run."""
    switching = []
    for what, user in commands_run_as(config):
        try:
            if RunAs.lookup(user).uid != os.geteuid():
                switching.append(f"{what} (user {user})")
        except KeyError:  # removed since the file was checked
            return f"{what}: user {user!r} no longer exists"
    if not switching or can_switch_user():
        return None
    return (
        f"{', '.join(switching)} must run as another user, but the agent lacks CAP_SETUID"
        f" and CAP_SETGID: {USER_DROP_IN}"
    )
