"""Commands and users that trackers and notify hooks name: checked when the file is read, since
a program that cannot run, or a user that does not exist, would only fail later and silently."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
from pathlib import Path

from .reader import Table, describe

COMMAND_EXAMPLE = '["/usr/local/bin/check-proxy", "--quick"]'


def read_command(table: Table, name: str) -> tuple[str, ...] | None:
    """The argv of ``name``: an array of strings, or a string split like a shell would (no
    expansion). The program must be an absolute path to an executable file."""
    value = table.data[name]
    argv = _split_command(value) if isinstance(value, str) else _argv_array(table, name, value)
    if isinstance(argv, str):
        table.report(name, argv)
        return None
    if argv is None:
        return None
    problem = _program_problem(argv[0])
    if problem:
        table.report(name if isinstance(value, str) else f"{name}[0]", problem)
        return None
    return argv


def _split_command(text: str) -> tuple[str, ...] | str:
    """The argv of a command string, or what is wrong with it."""
    try:
        argv = shlex.split(text)
    except ValueError as error:
        return f"{text!r} cannot be split into arguments ({error}); check the quotes"
    if not argv:
        return f"is empty: give the program and its arguments, like {COMMAND_EXAMPLE}"
    return tuple(argv)


def _argv_array(table: Table, name: str, value: object) -> tuple[str, ...] | str | None:
    """The argv of an array of strings, or what is wrong with it (None: reported already)."""
    if not isinstance(value, list):
        return f"expected a command like {COMMAND_EXAMPLE} (or one string), got {describe(value)}"
    if not value:
        return f"is empty: give the program and its arguments, like {COMMAND_EXAMPLE}"
    strings = [item for item in value if isinstance(item, str)]
    for index, item in enumerate(value):
        if not isinstance(item, str):
            table.report(f"{name}[{index}]", f"expected a string, got {describe(item)}")
    return tuple(strings) if len(strings) == len(value) else None


def _program_problem(program: str) -> str | None:
    if not os.path.isabs(program):
        found = shutil.which(program)
        example = found or f"/usr/local/bin/{program}"
        return (
            f"{program!r} is not an absolute path; write the program's full path, like {example!r}"
        )
    path = Path(program)
    if not path.exists():
        return f"{program} does not exist; install it or correct the path"
    if not path.is_file():
        return f"{program} is not a file; name the program to run"
    if not os.access(path, os.X_OK):
        return f"{program} is not executable; run: chmod +x {program}"
    return None


def read_user(table: Table) -> str | None:
    user = table.optional("user", str)
    if user is None:
        return None
    try:
        pwd.getpwnam(user)
    except (KeyError, ValueError):
        table.report("user", f"no such user {user!r} on this host; name an existing user")
        return None
    return user
