"""Whether a process runs (for process trackers), and whether /proc shows other users' processes.

Under the systemd unit (``ProtectProc=invisible``, a non-root user) /proc shows the agent only
its own processes, so `pidof`, `pgrep` and a scan of /proc find nothing, and `kill -0` fails
with EPERM. The kernel still answers about a PID it is given: pidfd_open() needs no permission,
and kill(pid, 0) tells "exists but not yours" (EPERM) from "no such process" (ESRCH). A pidfd
becomes readable the moment its process exits (a zombie counts as exited), so the loop hears of
an exit at once instead of at the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .probes import ProbeResult, describe

MOUNTINFO = Path("/proc/self/mountinfo")
MAX_PID_FILE = 64  # bytes: a PID file holds one number
MAX_WATCHED = 64  # pidfds one tracker holds at most (a name may match many processes)
SHOWN_PIDS = 5  # PIDs listed in a tracker's detail


class ProcessWatch:
    """Finds the tracked process(es) on each check and holds a pidfd for each one found, so
    that ``on_exit`` is called the moment one of them exits. Give a ``name`` (exact match on
    /proc/PID/comm) or a ``pidfile``. Call :meth:`close` when done."""

    def __init__(
        self,
        name: str | None = None,
        pidfile: Path | None = None,
        on_exit: Callable[[], None] = lambda: None,
    ) -> None:
        if (name is None) == (pidfile is None):
            raise ValueError("give a process name or a PID file")
        self.name, self.pidfile = name, pidfile
        self._on_exit = on_exit
        self._pidfds: dict[int, int] = {}  # pid -> pidfd, watched by the loop until it exits
        self._exited: set[int] = set()  # watched processes seen exiting, until let go
        self._loop: asyncio.AbstractEventLoop | None = None

    async def check(self, timeout: float) -> ProbeResult:
        started = time.monotonic()
        self._loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                ok, detail = await (self._by_pidfile() if self.pidfile else self._by_name())
        except TimeoutError:
            return ProbeResult("timeout", time.monotonic() - started, f"timeout after {timeout:g}s")
        return ProbeResult("ok" if ok else "failed", time.monotonic() - started, detail)

    def close(self) -> None:
        self._keep(())

    # ------------------------------------------------------------------ the two ways to find it

    async def _by_pidfile(self) -> tuple[bool, str]:
        assert self.pidfile is not None
        pid = await asyncio.to_thread(read_pid, self.pidfile)  # a file: may sit on a slow disk
        if isinstance(pid, str):
            self._keep(())
            return False, pid
        running = self._running(pid)
        state = "running" if running else ("exited" if pid in self._exited else "is not running")
        self._keep([pid] if running else ())
        return running, f"pid {pid} {state} (from {self.pidfile})"

    async def _by_name(self) -> tuple[bool, str]:
        assert self.name is not None
        found = await asyncio.to_thread(pids_named, self.name)  # reads every /proc/PID/stat
        running = [pid for pid in found if self._running(pid)]
        self._keep(running)
        if not running:
            return False, f"no process named {self.name}"
        shown = ", ".join(str(pid) for pid in running[:SHOWN_PIDS])
        shown += ", ..." if len(running) > SHOWN_PIDS else ""
        many = len(running) > 1
        what = f"{len(running)} process{'es' if many else ''} named {self.name}"
        return True, f"{what} (pid{'s' if many else ''} {shown})"

    # ------------------------------------------------------------------ liveness and pidfds

    def _running(self, pid: int) -> bool:
        """Whether ``pid`` runs (not a zombie), watching it with a pidfd where possible."""
        fd = self._pidfds.get(pid)
        if fd is None and len(self._pidfds) < MAX_WATCHED:
            fd = self._open(pid)
        if fd is None:
            return signal_zero_finds(pid)
        if _readable(fd):
            self._exited.add(pid)
            return False
        return True

    def _open(self, pid: int) -> int | None:
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # gone (ESRCH), a thread, or no pidfd here: kill(pid, 0) decides
            return None
        self._pidfds[pid] = fd
        assert self._loop is not None
        self._loop.add_reader(fd, self._exit_seen, pid, fd)
        return fd

    def _exit_seen(self, pid: int, fd: int) -> None:
        assert self._loop is not None
        self._loop.remove_reader(fd)  # stays readable: the next check reads the exit from it
        self._exited.add(pid)
        self._on_exit()

    def _keep(self, pids: Iterable[int]) -> None:
        """Close the pidfds of every process not in ``pids``."""
        wanted = set(pids)
        self._exited &= wanted
        for pid in [pid for pid in self._pidfds if pid not in wanted]:
            fd = self._pidfds.pop(pid)
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(fd)
            os.close(fd)


def read_pid(path: Path) -> int | str:
    """The PID in a PID file, or what is wrong with the file (blocking)."""
    try:
        with path.open("rb") as file:
            content = file.read(MAX_PID_FILE + 1)
    except FileNotFoundError:
        return f"no PID file {path}"
    except OSError as error:
        return f"{path}: {describe(error)}"
    text = content.strip().decode("ascii", errors="replace")
    if len(content) > MAX_PID_FILE or not text.isdigit() or int(text) < 1:
        return f"{path} holds no PID: {text[:20]!r}"
    return int(text)


def pids_named(name: str, proc: Path = Path("/proc")) -> list[int]:
    """The processes (not threads, not zombies) whose name (/proc/PID/comm) is ``name``; only
    those /proc shows us (blocking)."""
    found = []
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
        except OSError:  # exited meanwhile, or hidden
            continue
        # "pid (comm) state ...": the name may hold spaces and parentheses
        comm, _, rest = stat.partition(b" (")[2].rpartition(b") ")
        if comm.decode(errors="replace") == name and rest[:1] not in (b"Z", b"X"):
            found.append(int(entry.name))
    return sorted(found)


def signal_zero_finds(pid: int) -> bool:
    """Whether ``pid`` exists, by kill(pid, 0): EPERM means it does, but is not ours."""
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError as error:
        if error.errno == errno.ESRCH:
            return False
        raise
    return True


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def hidden_processes(mountinfo: str | None = None) -> str | None:
    """The mount option of /proc that hides other users' processes ("hidepid=invisible", as
    the unit's ProtectProc=invisible sets), or None if /proc shows them."""
    if mountinfo is None:
        with contextlib.suppress(OSError):
            mountinfo = MOUNTINFO.read_text()
    option = None
    for line in (mountinfo or "").splitlines():
        mount, _, source = line.partition(" - ")
        fields, source_fields = mount.split(), source.split()
        if len(fields) < 5 or len(source_fields) < 3 or fields[4] != "/proc":
            continue
        if source_fields[0] != "proc":
            continue
        options = [*source_fields[2].split(","), *fields[5].split(",")]
        hidepid = [o for o in options if o.startswith("hidepid=")]
        # the last mount on /proc is the one in effect
        option = hidepid[0] if hidepid and hidepid[0] not in ("hidepid=0", "hidepid=off") else None
    return option
