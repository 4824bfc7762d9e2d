"""``[instance.notify]``: the commands an instance runs on its transitions."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .commands import COMMAND_EXAMPLE, read_command, read_user
from .reader import Table

DEFAULT_NOTIFY_TIMEOUT = Fraction(10)
MIN_NOTIFY_TIMEOUT = Fraction(1, 10)
MAX_NOTIFY_TIMEOUT = Fraction(600)


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Commands run on every transition of an instance, with five arguments appended:
    instance, new state, effective priority, reason, family (ipv4 or ipv6). One per state,
    plus ``any`` for all."""

    # (key, argv) pairs, key "master" | "backup" | "fault" | "maintenance" | "any"
    commands: tuple[tuple[str, tuple[str, ...]], ...]
    timeout: float = 10.0
    users: tuple[tuple[str, str], ...] = ()  # (key, user) of the hooks run as another user

    def user_of(self, key: str) -> str | None:
        """The user the ``key`` hook runs as; None: the agent's own."""
        return dict(self.users).get(key)

    def hooks_for(self, state: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(key, argv) of the commands to run when entering ``state``, in order: the state's
        own, then the one for any state."""
        by_key = dict(self.commands)
        keys = dict.fromkeys((state, "any"))  # ordered, and "any" only once
        return tuple((key, by_key[key]) for key in keys if key in by_key)

    def for_state(self, state: str) -> tuple[tuple[str, ...], ...]:
        """The commands to run when entering ``state``, in order."""
        return tuple(argv for _, argv in self.hooks_for(state))


_NOTIFY_KEYS = ("master", "backup", "fault", "maintenance", "any")


def read_notify(table: Table) -> NotifyConfig | None:
    section = table.table("notify", (*_NOTIFY_KEYS, "timeout"))
    if section is None:
        return None
    present = [key for key in _NOTIFY_KEYS if key in section.data]
    if not present:
        keys = ", ".join(_NOTIFY_KEYS)
        table.report("notify", f"has no command: give at least one of {keys}")
    hooks = [(key, _hook(section, key)) for key in present]
    timeout = section.duration(
        "timeout", DEFAULT_NOTIFY_TIMEOUT, MAX_NOTIFY_TIMEOUT, MIN_NOTIFY_TIMEOUT
    )
    valid = [(key, hook) for key, hook in hooks if hook is not None]
    if timeout is None or len(valid) < len(hooks):
        return None
    commands = tuple((key, argv) for key, (argv, _) in valid)
    users = tuple((key, user) for key, (_, user) in valid if user is not None)
    return NotifyConfig(commands, float(timeout), users)


def _hook(section: Table, key: str) -> tuple[tuple[str, ...], str | None] | None:
    """(argv, user) of one hook: a command, or a table ``{ command = ..., user = "..." }``."""
    value = section.data[key]
    if not isinstance(value, dict):
        argv = read_command(section, key)
        return None if argv is None else (argv, None)
    entry = Table(section.context, section.key(key), value, ("command", "user"))
    if "command" not in entry.data:
        entry.report(
            "command", f"missing: give the program and its arguments, like {COMMAND_EXAMPLE}"
        )
        argv = None
    else:
        argv = read_command(entry, "command")
    user = read_user(entry)
    if argv is None or ("user" in entry.data and user is None):
        return None
    return argv, user
