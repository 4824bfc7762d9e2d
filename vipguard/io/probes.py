"""Probes: a TCP connect, an HTTP GET, a number in a file, a script. Node fitness trackers use
them today; backend health checks are meant to share them.

Every probe is bounded by its timeout and never blocks the event loop (VRRP adverts share it): the
network probes are plain asyncio streams, a script runs through :func:`run_command`, and a file is
read in a thread of its own, so a file on a hung NFS mount stalls only that thread. Each probe
returns a :class:`ProbeResult`; none raises for a failed check.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, cast
from urllib.parse import urlsplit

from ..proto.addresses import IPAddress
from .commands import CommandResult, RunAs, run_command

Outcome = Literal["ok", "failed", "timeout", "error"]

MAX_NUMBER_FILE = 64  # bytes: a number file holds one integer, not a document
MAX_STATUS_LINE = 4096  # bytes: only the status line of an HTTP answer is read
USER_AGENT = "vipguard-health"
_INTEGER = re.compile(rb"[+-]?[0-9]+")
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?:[ \r\n]|$)")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One check's result. ``outcome``: ok; failed (the target answered no); timeout; error (the
    check could not be made at all). ``detail`` is for status and logs ("HTTP 503", "connection
    refused"); ``value`` is the number a file held."""

    outcome: Outcome
    latency: float
    detail: str
    value: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class ProbeFailed(Exception):
    """The target answered, but not as a healthy one does (its message is the detail)."""


# --------------------------------------------------------------------------- TCP and HTTP


async def probe_tcp(host: IPAddress | str, port: int, timeout: float) -> ProbeResult:
    """Success when a TCP connection to ``host``:``port`` is accepted; closed at once."""

    async def connect() -> str:
        _, writer = await asyncio.open_connection(str(host), port)
        writer.close()
        return "connected"

    return await _bounded(connect, timeout)


async def probe_http(
    url: str,
    expect_status: Collection[int],
    timeout: float,
    verify_tls: bool = True,
    *,
    tls: ssl.SSLContext | None = None,
) -> ProbeResult:
    """Success when a GET of ``url`` is answered with a status in ``expect_status``. Only the
    status line is read. ``tls`` reuses a context from :func:`tls_context` (building one costs
    some 20 ms of CPU, so a tracker builds it once); without it one is built per call."""
    try:
        request = HttpRequest.parse(url)
    except ValueError as error:
        return ProbeResult("error", 0.0, str(error))
    if request.secure and tls is None:
        tls = tls_context(verify_tls)

    async def exchange() -> str:
        status = await _fetch_status(request, tls if request.secure else None)
        if status not in expect_status:
            raise ProbeFailed(f"HTTP {status}")
        return f"HTTP {status}"

    return await _bounded(exchange, timeout)


def tls_context(verify: bool) -> ssl.SSLContext:
    """The client context for https probes; ``verify`` False accepts any certificate and name."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class HttpRequest:
    host: str
    port: int
    secure: bool
    header_host: str  # as written in the URL, with brackets and port
    target: str  # path and query

    @classmethod
    def parse(cls, url: str) -> HttpRequest:
        """Raises ValueError naming what is wrong with ``url``."""
        if not url.isascii():
            raise ValueError(f"URL not in ASCII (percent-encode it): {url!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL with a host: {url!r}")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)  # .port raises ValueError for a bad one
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.hostname, port, secure, parts.netloc.rpartition("@")[2], target)

    def encode(self) -> bytes:
        lines = [
            f"GET {self.target} HTTP/1.1",
            f"Host: {self.header_host}",
            f"User-Agent: {USER_AGENT}",
            "Accept: */*",
            "Connection: close",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", errors="strict")


async def _fetch_status(request: HttpRequest, tls: ssl.SSLContext | None) -> int:
    reader, writer = await asyncio.open_connection(
        request.host,
        request.port,
        ssl=tls,
        server_hostname=request.host if tls else None,
        limit=MAX_STATUS_LINE,
    )
    try:
        writer.write(request.encode())
        await writer.drain()
        try:
            line = await reader.readline()
        except ValueError:  # no line end within the stream's limit
            raise ProbeFailed(f"no HTTP status line in the first {MAX_STATUS_LINE} bytes") from None
        return _parse_status(line)
    finally:
        writer.close()


def _parse_status(line: bytes) -> int:
    if not line:
        raise ProbeFailed("connection closed before an HTTP status line")
    match = _STATUS_LINE.match(line)
    if match is None:
        raise ProbeFailed(f"not an HTTP status line: {line[:40]!r}")
    return int(match.group(1))


# --------------------------------------------------------------------------- scripts


async def probe_script(
    command: Sequence[str], timeout: float, run_as: RunAs | None = None
) -> ProbeResult:
    """Success when ``command`` exits 0 within ``timeout`` (which kills its process group)."""
    result = await run_command(command, timeout, run_as=run_as)
    outcome = cast(Outcome, result.outcome)  # the same four words
    return ProbeResult(outcome, result.duration, _script_detail(result, timeout))


def _script_detail(result: CommandResult, timeout: float) -> str:
    if result.timed_out:
        return f"timeout after {timeout:g}s"
    if result.error is not None:
        return result.error
    last_line = result.output.rpartition("\n")[2].strip()
    return f"exit {result.exit_code}" + (f": {last_line}" if last_line else "")


# --------------------------------------------------------------------------- number files


def read_number(path: Path, missing: int | None = 0) -> ProbeResult:
    """The integer in a small file (blocking: see :class:`NumberFile`). A file that does not
    exist holds ``missing`` (None: it is a failure): an operator's drain file that was never
    written means "not drained". An unreadable file, or one that does not hold just an
    integer, is a failure."""
    started = time.monotonic()
    try:
        with path.open("rb") as file:
            content = file.read(MAX_NUMBER_FILE + 1)
    except FileNotFoundError as error:
        if missing is None:
            return ProbeResult("failed", time.monotonic() - started, describe(error))
        detail = f"no file: counts as {missing}"
        return ProbeResult("ok", time.monotonic() - started, detail, missing)
    except OSError as error:
        return ProbeResult("failed", time.monotonic() - started, describe(error))
    latency = time.monotonic() - started
    text = content.strip()
    if len(content) > MAX_NUMBER_FILE or not _INTEGER.fullmatch(text):
        return ProbeResult("failed", latency, f"not an integer: {text[:20]!r}")
    value = int(text)
    return ProbeResult("ok", latency, f"value {value}", value)


class NumberFile:
    """Reads a number file off the loop, one read at a time: while a read hangs (a dead NFS
    server) later calls wait for that same read instead of piling up threads. The threads are
    daemons, so a read that never returns cannot hold up the agent's exit either."""

    def __init__(self, path: Path, missing: int | None = 0) -> None:
        self.path = path
        self.missing = missing
        self._pending: asyncio.Future[ProbeResult] | None = None

    async def read(self, timeout: float) -> ProbeResult:
        started = time.monotonic()
        if self._pending is None or self._pending.done():
            self._pending = _in_daemon_thread(read_number, self.path, self.missing)
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._pending)
        except TimeoutError:
            detail = f"timeout after {timeout:g}s reading {self.path}"
            return ProbeResult("timeout", time.monotonic() - started, detail)


def _in_daemon_thread(function: Callable[..., T], *args: object) -> asyncio.Future[T]:
    # Not asyncio.to_thread: the default executor's threads are joined at exit and shared with
    # getaddrinfo, so a few hung reads could block both.
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(function(*args))
        except BaseException as error:
            future.set_exception(error)

    threading.Thread(target=work, name="vipguard-probe", daemon=True).start()
    return asyncio.wrap_future(future)


# --------------------------------------------------------------------------- shared


async def _bounded(attempt: Callable[[], Awaitable[str]], timeout: float) -> ProbeResult:
    """Runs ``attempt`` within ``timeout``; its return value is the success detail, a
    ProbeFailed or OSError a failure, running out of time a timeout."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            detail = await attempt()
    except TimeoutError:
        return ProbeResult("timeout", time.monotonic() - started, f"timeout after {timeout:g}s")
    except (ProbeFailed, OSError) as error:
        return ProbeResult("failed", time.monotonic() - started, describe(error))
    return ProbeResult("ok", time.monotonic() - started, detail)


def describe(error: BaseException) -> str:
    """A short lower-case reason for status and logs: "connection refused", "TLS: ..."."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    if isinstance(error, OSError) and (error.errno or error.strerror):
        # asyncio's connect errors carry "Connect call failed (...)" as strerror; errno says it
        reason = os.strerror(error.errno) if error.errno else str(error.strerror)
        return reason[0].lower() + reason[1:]
    return str(error) or type(error).__name__
