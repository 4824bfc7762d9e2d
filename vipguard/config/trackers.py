"""``[[tracker]]``: the checks of the node's fitness (interface, file, script, TCP, HTTP,
process) with their rhythm and weight, and ``track = [...]``, an instance's use of them."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..proto.addresses import IPAddress
from .commands import read_command, read_user
from .reader import (
    Context,
    Table,
    absolute_path,
    array_tables,
    check_unique,
    checked_interface,
    describe,
    host_port,
    is_kind,
    read_name,
    show,
    type_message,
    unknown_name,
    valid,
)
from .sections import Document, Read, Section

MAX_TRACK_WEIGHT = 253
MAX_TRACKER_COUNT = 100  # rise and fall
MIN_TRACKER_INTERVAL = Fraction(1, 100)
MAX_TRACKER_TIME = Fraction(3600)  # interval and timeout
MIN_TRACKER_TIMEOUT = Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class Rhythm:
    """How often a tracker checks and how many results in a row flip it (times in seconds).
    Until its first result a tracker counts as down; the first result decides, then ``rise``
    successes in a row bring it up and ``fall`` failures in a row take it down."""

    interval: float = 1.0
    timeout: float = 1.0
    rise: int = 2
    fall: int = 3


@dataclass(frozen=True, slots=True)
class InterfaceCheck:
    """Up while the interface's link is up (reported by the kernel, not polled)."""

    interface: str


@dataclass(frozen=True, slots=True)
class FileCheck:
    """The integer in ``path`` (read every interval) times the weight; with weight 0 any value
    other than 0 is a fault. A missing file reads as ``missing`` (None: it counts as down); an
    unreadable one counts as down."""

    path: Path
    missing: int | None = 0


@dataclass(frozen=True, slots=True)
class ScriptCheck:
    """Exit status 0 is a success; anything else, or running past the timeout, a failure."""

    command: tuple[str, ...]
    user: str | None = None


@dataclass(frozen=True, slots=True)
class TcpCheck:
    """A TCP connection accepted within the timeout is a success."""

    host: IPAddress
    port: int


@dataclass(frozen=True, slots=True)
class HttpCheck:
    """A GET of ``url`` answered with one of ``expect_status`` within the timeout."""

    url: str
    expect_status: tuple[int, ...] = (200,)
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class ProcessCheck:
    """Up while a process runs: the one whose PID ``pidfile`` holds (works where /proc hides
    other users' processes, as under the systemd unit), or any process ``name``d so in
    /proc/PID/comm (exact match; needs a /proc that shows other users' processes)."""

    name: str | None = None
    pidfile: Path | None = None


Check = InterfaceCheck | FileCheck | ScriptCheck | TcpCheck | HttpCheck | ProcessCheck


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """One ``[[tracker]]``: a check that instances reference by name."""

    name: str
    check: Check
    rhythm: Rhythm = Rhythm()
    weight: int = 0  # used where an instance references the tracker without a weight


@dataclass(frozen=True, slots=True)
class TrackRef:
    """An instance's use of a tracker. Weight 0: the instance is in Fault while the tracker is
    down. Weight > 0: added to the priority while it is up. Weight < 0: added while it is down.
    File trackers add value × weight."""

    tracker: str
    weight: int


_CHECK_KINDS = ("interface", "file", "script", "tcp", "http", "process", "pidfile")
COMM_LENGTH = 15  # characters of a process name the kernel keeps (/proc/PID/comm)
_TRACKER_KEYS = (
    "name",
    *_CHECK_KINDS,
    "expect_status",
    "verify_tls",
    "interval",
    "timeout",
    "rise",
    "fall",
    "weight",
    "user",
    "missing",
)
# Keys that only some kinds of check read.
_KIND_KEYS = {
    "expect_status": ("http",),
    "verify_tls": ("http",),
    "user": ("script",),
    "missing": ("file",),
}
_WEIGHT_RANGE = "0: Fault while the tracker is down; others move the priority"


def _read(document: Document) -> Read[tuple[TrackerConfig, ...], dict[str, int]]:
    return Read(*_trackers(document.top))


def _trackers(top: Table) -> tuple[tuple[TrackerConfig, ...] | None, dict[str, int]]:
    """The trackers if all are valid, and the default weight of every tracker name that could
    be read (0 where the weight itself is wrong), for resolving instances' references."""
    array = array_tables(top, "tracker")
    built: list[TrackerConfig] = []
    weights: dict[str, int] = {}
    names: list[tuple[int, str | None]] = []
    for index, data in array.tables:
        tracker, name, weight = _tracker(top.context, index, data)
        names.append((index, name))
        if name is not None:
            weights.setdefault(name, weight)
        built += [] if tracker is None else [tracker]
    check_unique(top.context, "tracker", names)
    return array.all_of(built), weights


def _tracker(
    context: Context, index: int, data: dict[str, object]
) -> tuple[TrackerConfig | None, str | None, int]:
    before = len(context.problems)
    table = Table(context, f"tracker[{index}]", data, _TRACKER_KEYS)
    name = read_name(table)
    weight = table.integer("weight", -MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT, _WEIGHT_RANGE, 0)
    check = _check(table)
    rhythm = _rhythm(table)
    if len(context.problems) > before or check is None:
        return None, name, weight or 0
    tracker = TrackerConfig(valid(name), check, valid(rhythm), valid(weight))
    return tracker, name, tracker.weight


def _check(table: Table) -> Check | None:
    kinds = [key for key in table.data if key in _CHECK_KINDS]
    if len(kinds) != 1:
        _report_kinds(table, kinds)
        return None
    kind = kinds[0]
    for key, applies_to in _KIND_KEYS.items():
        if key in table.data and kind not in applies_to:
            names = " and ".join(applies_to)
            table.report(key, f"applies to {names} trackers only; this tracker checks {kind}")
    return _CHECK_READERS[kind](table)


def _report_kinds(table: Table, kinds: list[str]) -> None:
    exactly = f"a tracker checks exactly one of: {', '.join(_CHECK_KINDS)}"
    if not kinds:
        example = 'http = "http://127.0.0.1/healthz"'
        table.context.report(table.path, f"{exactly}; give one, like {example}")
        return
    given = " and ".join(kinds)
    table.report(kinds[1], f"{exactly}; this one has {given}: write a [[tracker]] for each")


def _interface_check(table: Table) -> InterfaceCheck | None:
    name = checked_interface(table, table.optional("interface", str))
    return None if name is None else InterfaceCheck(name)


def _file_check(table: Table) -> FileCheck | None:
    path = absolute_path(table, "file", Path("/var/lib/vipguard/drain"))
    missing = table.data.get("missing", 0)
    if isinstance(missing, int) and not isinstance(missing, bool):
        return None if path is None else FileCheck(path, missing)
    if missing == "down":
        return None if path is None else FileCheck(path, None)
    table.report(
        "missing",
        f"{show(missing)} is not a value for a missing file: give an integer (it reads as"
        ' that number; default 0) or "down" (a missing file is a failed check)',
    )
    return None


def _script_check(table: Table) -> ScriptCheck | None:
    command = read_command(table, "script")
    user = read_user(table)  # a wrong user is reported; the tracker is dropped with the problem
    return None if command is None else ScriptCheck(command, user)


def _tcp_check(table: Table) -> TcpCheck | None:
    text = table.optional("tcp", str)
    endpoint = None if text is None else host_port(text)
    if text is not None and endpoint is None:
        example = '"127.0.0.1:8080" or "[::1]:8080"'
        table.report("tcp", f"{text!r} is not an IP address and port such as {example}")
    return None if endpoint is None else TcpCheck(*endpoint)


def _http_check(table: Table) -> HttpCheck | None:
    text = table.optional("http", str)
    url = None if text is None else _http_url(table, text)
    statuses = _expect_status(table)
    verify_tls = table.get("verify_tls", bool, True)
    if url is None or statuses is None or verify_tls is None:
        return None
    return HttpCheck(url, statuses, verify_tls)


def _http_url(table: Table, text: str) -> str | None:
    """``text`` with the path defaulting to "/", if it is an http(s) URL with a host."""
    example = "'http://127.0.0.1:8080/healthz'"
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as error:
        table.report("http", f"{text!r} is not a valid URL ({error}); write one like {example}")
        return None
    if parts.scheme not in ("http", "https"):
        scheme = f"the scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        table.report(
            "http", f"{text!r} has {scheme}; give an http:// or https:// URL like {example}"
        )
    elif not parts.hostname or port == 0:
        table.report("http", f"{text!r} has no host or port 0; write a URL like {example}")
    else:
        return urllib.parse.urlunsplit(parts._replace(path=parts.path or "/"))
    return None


def _expect_status(table: Table) -> tuple[int, ...] | None:
    items = table.get("expect_status", list, [200])
    if items is not None and not items:
        table.report("expect_status", "is empty: give the statuses that mean up, like [200, 204]")
    statuses = [item for item in items or [] if is_kind(item, int) and 100 <= item <= 599]
    for index, item in enumerate(items or []):
        if not is_kind(item, int):
            table.report(f"expect_status[{index}]", type_message(item, int))
        elif item not in statuses:
            table.report(f"expect_status[{index}]", f"{item} is not an HTTP status (100..599)")
    return tuple(statuses) if items and len(statuses) == len(items) else None


def _process_check(table: Table) -> ProcessCheck | None:
    name = table.optional("process", str)
    problem = None if name is None else _process_name_problem(name)
    if problem:
        table.report("process", problem)
    return None if name is None or problem else ProcessCheck(name=name)


def _process_name_problem(name: str) -> str | None:
    if not name:
        return "is empty: give the process name, like 'haproxy'"
    if "/" in name:
        return (
            f"{name!r} is a path; give the process name as /proc/PID/comm shows it, like"
            f" {Path(name).name[:COMM_LENGTH]!r} (or track its pidfile)"
        )
    if len(name) > COMM_LENGTH:
        return (
            f"{name!r} is longer than the {COMM_LENGTH} characters the kernel keeps of a"
            f" process name (/proc/PID/comm): write {name[:COMM_LENGTH]!r}"
        )
    return None


def _pidfile_check(table: Table) -> ProcessCheck | None:
    path = absolute_path(table, "pidfile", Path("/run/haproxy.pid"))
    return None if path is None else ProcessCheck(pidfile=path)


_CHECK_READERS: dict[str, Callable[[Table], Check | None]] = {
    "interface": _interface_check,
    "file": _file_check,
    "script": _script_check,
    "tcp": _tcp_check,
    "http": _http_check,
    "process": _process_check,
    "pidfile": _pidfile_check,
}


def _rhythm(table: Table) -> Rhythm | None:
    interval = table.duration("interval", Fraction(1), MAX_TRACKER_TIME, MIN_TRACKER_INTERVAL)
    # Checks never overlap, so a timeout longer than the interval just spaces them out.
    default_timeout = min(interval or Fraction(1), Fraction(1))
    timeout = table.duration("timeout", default_timeout, MAX_TRACKER_TIME, MIN_TRACKER_TIMEOUT)
    rise = table.integer("rise", 1, MAX_TRACKER_COUNT, "successes in a row to come up", 2)
    fall = table.integer("fall", 1, MAX_TRACKER_COUNT, "failures in a row to go down", 3)
    if interval is None or timeout is None or rise is None or fall is None:
        return None
    return Rhythm(float(interval), float(timeout), rise, fall)


_TRACK_EXAMPLE = '["proxy", { tracker = "uplink", weight = -50 }]'


def read_track(table: Table, trackers: Mapping[str, int]) -> tuple[TrackRef, ...]:
    """The instance's valid references to trackers (``trackers``: name -> default weight)."""
    refs: list[TrackRef] = []
    first: dict[str, str] = {}
    for index, item in enumerate(table.get("track", list, []) or []):
        key = f"track[{index}]"
        ref = _track_ref(table, key, item, trackers)
        if ref is not None and ref.tracker in first:
            other = first[ref.tracker]
            table.report(key, f"{ref.tracker!r} is tracked twice (also {other}); list it once")
        elif ref is not None:
            first[ref.tracker] = key
            refs.append(ref)
    return tuple(refs)


def _track_ref(
    table: Table, key: str, item: object, trackers: Mapping[str, int]
) -> TrackRef | None:
    if isinstance(item, str):
        known = _known_tracker(table, key, item, trackers)
        return None if known is None else TrackRef(known, trackers[known])
    if not isinstance(item, dict):
        expected = f"a tracker name or a table, like {_TRACK_EXAMPLE}"
        table.report(key, f"expected {expected}, got {describe(item)}")
        return None
    entry = Table(table.context, table.key(key), item, ("tracker", "weight"))
    name = entry.need("tracker", str, "the name of a [[tracker]]")
    known = None if name is None else _known_tracker(entry, "tracker", name, trackers)
    default = trackers[known] if known is not None else 0
    weight = entry.integer("weight", -MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT, _WEIGHT_RANGE, default)
    return None if known is None or weight is None else TrackRef(known, weight)


def _known_tracker(table: Table, key: str, name: str, trackers: Mapping[str, int]) -> str | None:
    if name in trackers:
        return name
    table.report(key, unknown_name(name, list(trackers), "tracker"))
    return None


TRACKERS = Section(
    "tracker",
    _read,
    hints={"vrrp_script": "use a [[tracker]] with script = [...]"},
    attribute="trackers",
)
