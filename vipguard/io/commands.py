"""Run an external command (a tracker script, a notify hook) without ever blocking the loop.

The command runs in its own session with no stdin and a minimal environment, optionally as
another user; its output is kept (the last few KiB) for the log. On timeout the whole process
group is killed, so a shell script's children die with it and nothing outlives the check.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

OUTPUT_TAIL = 4096
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended: ``exit_code`` None means it never finished (timeout) or never
    started (``error`` says why)."""

    exit_code: int | None
    duration: float
    output: str = ""
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def outcome(self) -> str:
        """One word for logs and metric labels: ok, failed, timeout or error."""
        if self.timed_out:
            return "timeout"
        if self.error is not None:
            return "error"
        return "ok" if self.ok else "failed"


@dataclass(frozen=True, slots=True)
class RunAs:
    """The identity a command runs with, resolved once (a missing user is a config problem,
    not something to discover at 3 a.m. when the first check runs)."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def lookup(cls, name: str) -> RunAs:
        """Raises KeyError if there is no such user."""
        entry = pwd.getpwnam(name)
        return cls(name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


async def run_command(
    argv: Sequence[str],
    timeout: float,
    *,
    run_as: RunAs | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    started = time.monotonic()
    identity = {}
    if run_as is not None and run_as.uid != os.geteuid():
        identity = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
    spawning = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
            env=_environment(run_as, env),
            **identity,  # type: ignore[arg-type]
        )
    )
    try:
        # Shielded: the child exists a few loop steps before this returns; cancelled in that
        # gap, we still need the process to kill its group (its own children too).
        process = await asyncio.shield(spawning)
    except (OSError, ValueError) as error:  # not found, not executable, no permission to switch
        return CommandResult(None, time.monotonic() - started, error=_describe(error))
    except asyncio.CancelledError:
        with contextlib.suppress(OSError, ValueError):
            await _kill_group(await spawning)
        raise
    output = bytearray()
    try:
        async with asyncio.timeout(timeout):
            await _collect(process, output)
            exit_code = await process.wait()
    except TimeoutError:
        await _kill_group(process)
        return CommandResult(None, time.monotonic() - started, _text(output), timed_out=True)
    except asyncio.CancelledError:
        await _kill_group(process)
        raise
    return CommandResult(exit_code, time.monotonic() - started, _text(output))


async def _collect(process: asyncio.subprocess.Process, output: bytearray) -> None:
    assert process.stdout is not None
    while chunk := await process.stdout.read(65536):
        output += chunk
        del output[:-OUTPUT_TAIL]


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the group id is its pid
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()


def _environment(run_as: RunAs | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}
    if run_as is not None:
        env.update(HOME=run_as.home, USER=run_as.name, LOGNAME=run_as.name)
    env.update(extra or {})
    return env


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error)


def _text(output: bytearray) -> str:
    return output.decode("utf-8", errors="replace").strip()
