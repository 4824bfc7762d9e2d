"""What the agent checks at start-up (and on every reload) about the sandbox it runs in, so that
a tracker or hook that could never work there is refused with its cause and fix, instead of
failing at every check or at 3 a.m. on the first failover.

The shipped unit runs the agent as an unprivileged user with only CAP_NET_ADMIN and CAP_NET_RAW,
``NoNewPrivileges`` and ``ProtectProc=invisible``. Running a command as another user needs
CAP_SETUID and CAP_SETGID (and the setuid system calls); one check covers script trackers and
notify hooks alike. A process tracker by name needs a /proc that shows other users' processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..config import Config, ProcessCheck, ScriptCheck
from ..io.capabilities import (
    CAP_SETGID,
    CAP_SETUID,
    can_switch_user,
    sees_every_process,
    withhold_from_programs,
)
from ..io.commands import RunAs
from ..io.processes import hidden_processes

USER_DROP_IN = (
    "grant them (systemd drop-in: AmbientCapabilities= and CapabilityBoundingSet= with"
    " CAP_SETUID CAP_SETGID, SystemCallFilter=@setuid) or remove `user`"
)


def startup_problems(config: Config) -> list[str]:
    """Checked at start-up and on every reload: :func:`problems`, then :func:`confine_commands`
    (which must run on the loop's thread)."""
    return problems(config) + confine_commands()


def confine_commands() -> list[str]:
    """Tracker scripts and hooks never inherit CAP_SETUID and CAP_SETGID (which the drop-in for
    `user` makes ambient): the agent needs them to start a command as its user, the command
    itself must not be able to become anyone, root included. Call it on the loop's thread,
    which starts every command (capabilities belong to threads). Returns the problem, if the
    kernel refused: then the agent must not run commands at all."""
    try:
        withhold_from_programs(CAP_SETUID, CAP_SETGID)
    except OSError as error:
        return [
            "the agent cannot keep CAP_SETUID and CAP_SETGID from the commands it starts"
            f" ({error.strerror}), so any tracker script or hook could make itself root: remove"
            " the drop-in that grants them (and every `user`)"
        ]
    return []


def problems(config: Config) -> list[str]:
    """What in ``config`` cannot work with the agent's current privileges and view of the
    system, each with its cause and fix (the runtime refuses to start or reload on any)."""
    return [p for p in (_user_problem(config), _process_name_problem(config)) if p]


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


def _process_name_problem(config: Config) -> str | None:
    """A process tracker by name finds nothing where /proc hides other users' processes."""
    named = [
        (t.name, t.check.name)
        for t in config.trackers
        if isinstance(t.check, ProcessCheck) and t.check.name is not None
    ]
    hidden = hidden_processes() if named else None
    if hidden is None or sees_every_process():
        return None
    trackers = ", ".join(
        f"tracker {tracker!r} looks for processes named {name!r}" for tracker, name in named
    )
    return (
        f"{trackers} in /proc, but /proc is mounted {hidden} (the unit's"
        " ProtectProc=invisible), which hides other users' processes from the agent: track the"
        f' service\'s PID file instead (pidfile = "/run/{named[0][1]}.pid"), or add a drop-in'
        " with ProtectProc=default (systemctl edit vipguard)"
    )
