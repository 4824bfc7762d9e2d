"""The configuration file: TOML, read once into frozen, validated values.

:func:`load` returns a complete :class:`Config` or raises :class:`ConfigError` with every problem
it found, each naming the file, the key path, the line where it can be found and what would be
valid, so an operator fixes a file in one pass. The only I/O is reading the file and the
``secret_file`` keys it names, and looking up the programs and users that trackers and notify
hooks name (a hook that cannot run is a silent failure; better to refuse the file).

One ``[[instance]]`` may hold IPv4 and IPv6 VIPs; the agent runs one virtual router per address
family (:meth:`InstanceConfig.router_config`), and unicast peers, source and multicast group apply
to their own family only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import ipaddress
import math
import os
import pwd
import re
import shlex
import shutil
import tomllib
import urllib.parse
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path
from typing import Literal, TypeVar

from .keyfiles import read_key_file, service_user_problem
from .proto.addresses import IPAddress
from .proto.auth import (
    MAX_KEY_LENGTH,
    MAX_TIME_WINDOW,
    MIN_KEY_LENGTH,
    AntiReplay,
    AuthConfig,
    AuthKey,
    AuthMode,
    default_time_window,
)
from .proto.errors import ProtocolUsageError
from .proto.packet import MAX_ADDRESSES, V2_MAX_INTERVAL_S, V3_MAX_INTERVAL_CS
from .proto.router import RouterConfig
from .proto.wire import ChecksumPolicy

DEFAULT_PATH = Path("/etc/vipguard/vipguard.toml")
DEFAULT_CONTROL_SOCKET = Path("/run/vipguard/control.sock")
DEFAULT_STATE_DIR = Path("/var/lib/vipguard")
DEFAULT_METRICS = ("127.0.0.1", 9650)
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
# sun_path is 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107
# IFNAMSIZ is 16 including the NUL; address labels share the limit.
MAX_INTERFACE_NAME = 15
MAX_PREEMPT_DELAY = Fraction(1000)
MAX_ANNOUNCE_COUNT = 100
MAX_ANNOUNCE_INTERVAL = Fraction(1)
MIN_ANNOUNCE_REFRESH = Fraction(1)
MAX_TRACK_WEIGHT = 253
MAX_TRACKER_COUNT = 100  # rise and fall
MIN_TRACKER_INTERVAL = Fraction(1, 100)
MAX_TRACKER_TIME = Fraction(3600)  # interval and timeout
MIN_TRACKER_TIMEOUT = Fraction(1, 1000)
DEFAULT_NOTIFY_TIMEOUT = Fraction(10)
MIN_NOTIFY_TIMEOUT = Fraction(1, 10)
MAX_NOTIFY_TIMEOUT = Fraction(600)

_T = TypeVar("_T")
_FAMILY_NAMES = {4: "IPv4", 6: "IPv6"}
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class AgentSettings:
    control_socket: Path
    state_dir: Path
    log_format: str
    realtime_priority: int = 0
    metrics: tuple[str, int] | None = DEFAULT_METRICS
    log_level: str = "info"  # `run --log-level` overrides it


@dataclass(frozen=True, slots=True)
class Vip:
    interface: IPv4Interface | IPv6Interface
    label: str | None = None

    @property
    def address(self) -> IPAddress:
        return self.interface.ip

    @property
    def family(self) -> int:
        return self.interface.version


@dataclass(frozen=True, slots=True)
class AnnounceSettings:
    """Gratuitous ARP / unsolicited NA per VIP on becoming master; times in seconds."""

    count: int = 5
    interval: float = 0.02
    refresh: float = 0.0  # 0: no periodic re-announcement while master


# --------------------------------------------------------------------------- fitness and hooks


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


@dataclass(frozen=True, slots=True)
class SyncGroup:
    """Instances that share one state: if one must go Backup or Fault, all do."""

    name: str
    instances: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    name: str
    interface: str
    vrid: int
    priority: int
    version: int
    interval_cs: int
    preempt: bool
    preempt_delay: float
    accept: bool
    vips: tuple[Vip, ...]
    unicast_source: IPAddress | None
    unicast_peers: tuple[IPAddress, ...]
    multicast_group: IPAddress | None
    checksum: ChecksumPolicy
    auth: AuthConfig | None
    use_vmac: bool
    announce: AnnounceSettings
    track: tuple[TrackRef, ...] = ()
    notify: NotifyConfig | None = None

    def families(self) -> tuple[int, ...]:
        """4 and/or 6, in that order: one virtual router per family."""
        present = {vip.family for vip in self.vips}
        return tuple(family for family in (4, 6) if family in present)

    def vips_of(self, family: int) -> tuple[Vip, ...]:
        return tuple(vip for vip in self.vips if vip.family == family)

    def peers_of(self, family: int) -> tuple[IPAddress, ...]:
        return tuple(peer for peer in self.unicast_peers if peer.version == family)

    def source_of(self, family: int) -> IPAddress | None:
        """The configured source of ``family``; None: use the interface's primary address."""
        source = self.unicast_source
        return source if source is not None and source.version == family else None

    def group_of(self, family: int) -> IPAddress | None:
        """The multicast group override of ``family``; None: the VRRP default group."""
        group = self.multicast_group
        return group if group is not None and group.version == family else None

    def router_config(self, family: int, source: IPAddress) -> RouterConfig:
        """The protocol core's view of this instance's ``family`` router, sending from
        ``source`` (``source_of(family)`` or the interface's primary address)."""
        return RouterConfig(
            vrid=self.vrid,
            priority=self.priority,
            vips=tuple(vip.interface for vip in self.vips_of(family)),
            source=source,
            version=self.version,
            interval_cs=self.interval_cs,
            preempt=self.preempt,
            preempt_delay=self.preempt_delay,
            accept=self.accept,
            peers=self.peers_of(family),
            group=self.group_of(family),
            checksum=self.checksum,
            auth=self.auth,
        )


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    agent: AgentSettings
    instances: tuple[InstanceConfig, ...]
    trackers: tuple[TrackerConfig, ...] = ()
    sync_groups: tuple[SyncGroup, ...] = ()
    # About the file's text, not the configuration: two files that mean the same compare equal.
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    def tracker(self, name: str) -> TrackerConfig:
        return next(tracker for tracker in self.trackers if tracker.name == name)

    def sync_group_of(self, instance: str) -> SyncGroup | None:
        return next((g for g in self.sync_groups if instance in g.instances), None)

    def summary(self) -> str:
        """``2 instances: web@eth0 vrid 51, api@eth0 vrid 52``"""
        count = len(self.instances)
        routers = ", ".join(f"{i.name}@{i.interface} vrid {i.vrid}" for i in self.instances)
        return f"{count} instance{'' if count == 1 else 's'}: {routers}"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    key: str
    line: int | None
    message: str
    warning: bool = False  # valid, but probably not what was meant: reported, not refused

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        severity = "warning" if self.warning else ""
        return ": ".join(part for part in (where, severity, self.key, self.message) if part)


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


# --------------------------------------------------------------------------- entry points


def load(path: str | os.PathLike[str] = DEFAULT_PATH) -> Config:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError([Problem(str(path), "", None, f"cannot read: {reason}")]) from None
    except UnicodeDecodeError as error:
        message = f"not UTF-8 text (byte {error.start}); TOML files are UTF-8"
        raise ConfigError([Problem(str(path), "", None, message)]) from None
    return parse(text, path)


def parse(text: str, path: str | os.PathLike[str] = "vipguard.toml") -> Config:
    """Validate ``text`` as if read from ``path`` (relative ``secret_file`` paths are taken
    relative to ``path``'s directory)."""
    path = Path(path)
    byte_order_mark = text.startswith(_BOM)
    text = text.removeprefix(_BOM)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_syntax_problem(str(path), str(error), text)]) from None
    context = _Context(str(path), path.parent, _LineIndex(text), [])
    if byte_order_mark:
        context.warnings.append(Problem(str(path), "", 1, _bom_message(path), warning=True))
    config = _config(context, data, path)
    if config is None or context.problems:
        raise ConfigError(sorted(context.problems, key=_by_line))
    return dataclasses.replace(config, warnings=tuple(sorted(context.warnings, key=_by_line)))


# Notepad and other Windows editors start UTF-8 files with U+FEFF. TOML does not allow it, but
# the text is unambiguous: refusing an invisible character would only stop the agent.
_BOM = "\ufeff"


def _bom_message(path: Path) -> str:
    return (
        "the file starts with a UTF-8 byte order mark (the bytes EF BB BF that some Windows"
        " editors add), which TOML does not allow; it was ignored. Remove it:"
        f" sed -i '1s/^\\xEF\\xBB\\xBF//' {path}"
    )


def _by_line(problem: Problem) -> float:
    return math.inf if problem.line is None else problem.line


_TOML_POSITION = re.compile(
    r"(?P<message>.*) \((?:at line (?P<line>\d+), column (?P<column>\d+)|at end of document)\)"
)


def _syntax_problem(file: str, error: str, text: str) -> Problem:
    match = _TOML_POSITION.fullmatch(error)
    if match is None:
        return Problem(file, "", None, f"invalid TOML: {error}")
    if match["line"] is None:
        return Problem(file, "", text.count("\n") + 1, f"invalid TOML: {match['message']}")
    message = f"invalid TOML: {match['message']} (column {match['column']})"
    return Problem(file, "", int(match["line"]), message)


# --------------------------------------------------------------------------- reading tables


@dataclass(slots=True)
class _Context:
    file: str
    base_dir: Path
    lines: _LineIndex
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)

    def report(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, key, self.lines.find(key), message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(Problem(self.file, key, self.lines.find(key), message, warning=True))


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "a boolean (true or false)",
    list: "an array",
    dict: "a table",
}


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the {'integer' if isinstance(value, int) else 'float'} {value}"
    if isinstance(value, list):
        return "an array"
    return "a table" if isinstance(value, dict) else "a date/time"


def _type_message(value: object, kind: type) -> str:
    message = f"expected {_KIND_NAMES[kind]}, got {_describe(value)}"
    if kind is int and isinstance(value, str) and value.strip().isdigit():
        message += f" (write {value.strip()} without quotes)"
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        message += f" (write {value.lower()} without quotes)"
    return message


def _is_kind(value: object, kind: type) -> bool:
    # TOML booleans are Python ints; never take one for the other.
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _unknown_key(name: str, known: Sequence[str], hints: Mapping[str, str]) -> str:
    if name in hints:
        return f"unknown key '{name}'; {hints[name]}"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown key '{name}'; did you mean '{close[0]}'?"
    return f"unknown key '{name}'; valid keys here: {', '.join(known)}"


class _Table:
    """One TOML table being read: hands out typed values and reports what is wrong with them."""

    def __init__(
        self,
        context: _Context,
        path: str,
        data: dict[str, object],
        known: Sequence[str],
        hints: Mapping[str, str] | None = None,
    ) -> None:
        self.context = context
        self.path = path
        self.data = data
        for name in data:
            if name not in known:
                self.report(name, _unknown_key(name, known, hints or {}))

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def report(self, name: str, message: str) -> None:
        self.context.report(self.key(name), message)

    def warn(self, name: str, message: str) -> None:
        self.context.warn(self.key(name), message)

    def need(self, name: str, kind: type[_T], what: str) -> _T | None:
        """A required key; ``what`` describes a valid value."""
        if name not in self.data:
            self.report(name, f"missing: give {what}")
            return None
        return self._typed(name, kind)

    def get(self, name: str, kind: type[_T], default: _T) -> _T | None:
        return self._typed(name, kind) if name in self.data else default

    def optional(self, name: str, kind: type[_T]) -> _T | None:
        return self._typed(name, kind) if name in self.data else None

    def _typed(self, name: str, kind: type[_T]) -> _T | None:
        value = self.data[name]
        if isinstance(value, kind) and _is_kind(value, kind):
            return value
        self.report(name, _type_message(value, kind))
        return None

    def integer(self, name: str, low: int, high: int, why: str, default: int | None) -> int | None:
        """An integer in ``low..high``; required when ``default`` is None."""
        if default is None:
            value = self.need(name, int, f"an integer {low}..{high}")
        else:
            value = self.get(name, int, default)
        if value is not None and not low <= value <= high:
            self.report(name, f"{value} is outside {low}..{high} ({why})")
            return None
        return value

    def choice(self, name: str, choices: Sequence[str], default: str) -> str | None:
        value = self.get(name, str, default)
        if value is None or value in choices:
            return value
        message = f"{value!r} is not one of {', '.join(choices)}"
        close = difflib.get_close_matches(value, choices, n=1)
        self.report(name, message + (f"; did you mean {close[0]!r}?" if close else ""))
        return None

    def duration(
        self,
        name: str,
        default: Fraction,
        high: Fraction | None = None,
        low: Fraction = Fraction(0),
    ) -> Fraction | None:
        """A duration in seconds in ``low..high`` (no upper bound if ``high`` is None)."""
        if name not in self.data:
            return default
        value = self.data[name]
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            self.report(name, str(error))
            return None
        if seconds < low or (high is not None and seconds > high):
            top = "" if high is None else format_duration(high)
            self.report(name, f"{_show(value)} is outside {format_duration(low)}..{top}")
            return None
        return seconds

    def table(self, name: str, known: Sequence[str]) -> _Table | None:
        data = self.optional(name, dict)
        return None if data is None else _Table(self.context, self.key(name), data, known)


# --------------------------------------------------------------------------- durations

_DURATION = re.compile(r"(?P<number>[+-]?[0-9]+(?:\.[0-9]+)?)(?P<unit>.*)")
_UNITS = {"ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60), "h": Fraction(3600)}
_DURATION_EXAMPLES = "'100ms', '1.5s' or '2m'"


def parse_duration(value: object) -> Fraction:
    """Seconds from a TOML number of seconds or a string with a unit (ms, s, m, h).

    Exact (a Fraction), so that '0.1s' is 10 centiseconds. ValueError says what to write.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        expected = f"a duration (a number of seconds, or a string like {_DURATION_EXAMPLES})"
        raise ValueError(f"expected {expected}, got {_describe(value)}")
    if isinstance(value, str):
        seconds = _parse_duration_text(value)
    elif not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number of seconds")
    else:
        seconds = Fraction(str(value))  # str(): the decimal the operator wrote, not binary float
    if seconds < 0:
        raise ValueError(f"{_show(value)} is negative; durations are 0 or more")
    return seconds


def _parse_duration_text(text: str) -> Fraction:
    compact = "".join(text.split())
    if compact != text and _DURATION.fullmatch(compact):
        raise ValueError(f"{text!r}? write {compact!r}")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit, like {_DURATION_EXAMPLES}"
        )
    number, unit = match["number"], match["unit"]
    if not unit:
        raise ValueError(
            f"{text!r} has no unit; write '{number}s' or '{number}ms' "
            "(or a bare number of seconds, without quotes)"
        )
    if unit not in _UNITS:
        raise ValueError(f"{text!r} has the unknown unit {unit!r}; use ms, s, m or h")
    return Fraction(number) * _UNITS[unit]


def format_duration(seconds: Fraction) -> str:
    if 0 < seconds < 1 and (seconds * 1000).denominator == 1:
        return f"{seconds * 1000}ms"
    if seconds.denominator == 1:
        return f"{seconds}s"
    return f"{float(seconds):g}s"


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- the document

_TOP_KEYS = ("agent", "instance", "tracker", "sync_group")
# keepalived's names, for operators migrating a keepalived.conf.
_TOP_HINTS = {
    "vrrp_script": "use a [[tracker]] with script = [...]",
    "vrrp_sync_group": "use a [[sync_group]] with name = ... and instances = [...]",
}
_AGENT_KEYS = (
    "control_socket",
    "state_dir",
    "log_format",
    "realtime_priority",
    "metrics",
    "log_level",
)


def _config(context: _Context, data: dict[str, object], path: Path) -> Config | None:
    top = _Table(context, "", data, _TOP_KEYS, _TOP_HINTS)
    agent = _agent(top)
    trackers, weights = _trackers(top)
    instances, names = _instances(top, weights)
    sync_groups = _sync_groups(top, names)
    if agent is None or trackers is None or instances is None or sync_groups is None:
        return None
    return Config(path, agent, instances, trackers, sync_groups)


def _tables(top: _Table, section: str) -> tuple[list[tuple[int, dict[str, object]]], bool]:
    """The ``[[section]]`` tables with their indexes, and whether every item was a table
    (the others are reported)."""
    items = top.data.get(section, [])
    if not isinstance(items, list):
        got = "a single table" if isinstance(items, dict) else _describe(items)
        top.report(section, f"expected [[{section}]] tables (double brackets), got {got}")
        return [], False
    tables: list[tuple[int, dict[str, object]]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            tables.append((index, item))
        else:
            top.report(f"{section}[{index}]", f"expected a table, got {_describe(item)}")
    return tables, len(tables) == len(items)


def _check_unique(context: _Context, section: str, names: Iterable[tuple[int, str | None]]) -> None:
    """Report every ``[[section]]`` whose name an earlier one already has."""
    first: dict[str, int] = {}
    for index, name in names:
        if name is None:
            continue
        if name in first:
            context.report(
                f"{section}[{index}].name",
                f"{name!r} is already the name of {section}[{first[name]}]; "
                f"each [[{section}]] needs a name of its own",
            )
        first.setdefault(name, index)


def _unknown_name(name: str, known: Sequence[str], section: str) -> str:
    """``'proxi' names no [[tracker]]; did you mean 'proxy'? (trackers: proxy, uplink)``"""
    if not known:
        return f"{name!r} names no [[{section}]] (there are none in this file)"
    close = difflib.get_close_matches(name, known, n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name!r} names no [[{section}]]{suggestion} ({section}s: {', '.join(known)})"


def _agent(top: _Table) -> AgentSettings | None:
    table = top.table("agent", _AGENT_KEYS) or _Table(top.context, "agent", {}, _AGENT_KEYS)
    socket = _absolute_path(table, "control_socket", DEFAULT_CONTROL_SOCKET)
    if socket is not None and len(os.fsencode(socket)) > MAX_SOCKET_PATH:
        length = len(os.fsencode(socket))
        table.report("control_socket", f"is {length} bytes; a socket path is at most 107")
        socket = None
    state_dir = _absolute_path(table, "state_dir", DEFAULT_STATE_DIR)
    log_format = table.choice("log_format", LOG_FORMATS, "text")
    realtime = table.integer(
        "realtime_priority", 0, 99, "0 is off, 1..99 a SCHED_FIFO priority", default=0
    )
    metrics = _metrics_address(table)
    log_level = table.choice("log_level", LOG_LEVELS, "info")
    if socket is None or state_dir is None or log_format is None or realtime is None:
        return None
    if metrics is False or log_level is None:
        return None
    return AgentSettings(socket, state_dir, log_format, realtime, metrics, log_level)


def _metrics_address(table: _Table) -> tuple[str, int] | Literal[False] | None:
    """``"host:port"`` (IPv6 as ``"[::1]:9650"``), or ``""`` for no metrics; False if invalid."""
    text = table.get("metrics", str, "127.0.0.1:9650")
    if text is None:
        return False
    if text == "":
        return None
    endpoint = _host_port(text)
    if endpoint is None:
        table.report(
            "metrics",
            f'{text!r} is not an address:port such as "127.0.0.1:9650",'
            ' "[::1]:9650", or "" for no metrics endpoint',
        )
        return False
    if endpoint[0].is_unspecified:
        table.warn(
            "metrics",
            f"{text!r} listens on every address of this host: whoever reaches it reads the"
            " instances, states and priorities; bind the address Prometheus scrapes, like"
            " '192.0.2.11:9650', or '127.0.0.1:9650' for this host only",
        )
    return str(endpoint[0]), endpoint[1]


def _host_port(text: str) -> tuple[IPAddress, int] | None:
    """``"192.0.2.1:80"`` or ``"[2001:db8::1]:80"`` (IP literals only); None if neither."""
    host, _, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        address = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        return None
    if bracketed != (address.version == 6) or not (port.isascii() and port.isdigit()):
        return None
    return (address, int(port)) if 1 <= int(port) <= 65535 else None


def _absolute_path(table: _Table, name: str, default: Path) -> Path | None:
    text = table.get(name, str, str(default))
    if text is None:
        return None
    if not Path(text).is_absolute():
        table.report(name, f"{text!r} is relative; write an absolute path (like '{default}')")
        return None
    return Path(text)


def _instances(
    top: _Table, trackers: Mapping[str, int]
) -> tuple[tuple[InstanceConfig, ...] | None, list[str]]:
    """The instances if all are valid, and every instance name that could be read."""
    items = top.data.get("instance")
    if items is None or items == []:
        top.report("instance", "no [[instance]] tables: configure at least one virtual router")
        return None, []
    tables, complete = _tables(top, "instance")
    built: list[InstanceConfig] = []
    identities: list[_Identity] = []
    for index, item in tables:
        instance, identity = _instance(top.context, index, item, trackers)
        identities.append(identity)
        if instance is not None:
            built.append(instance)
    _check_across(top.context, identities)
    names = [identity.name for identity in identities if identity.name is not None]
    return (tuple(built) if complete and len(built) == len(tables) else None), names


# --------------------------------------------------------------------------- one instance

_INSTANCE_KEYS = (
    "name",
    "interface",
    "vrid",
    "priority",
    "version",
    "advert_interval",
    "preempt",
    "preempt_delay",
    "accept",
    "vips",
    "unicast_source",
    "unicast_peers",
    "multicast_group",
    "checksum",
    "use_vmac",
    "announce",
    "auth",
    "track",
    "notify",
)
# keepalived's names, for operators migrating a keepalived.conf.
_INSTANCE_HINTS = {
    "virtual_router_id": "did you mean 'vrid'?",
    "advert_int": "did you mean 'advert_interval'?",
    "virtual_ipaddress": "did you mean 'vips'?",
    "unicast_src_ip": "did you mean 'unicast_source'?",
    "unicast_peer": "did you mean 'unicast_peers'?",
    "nopreempt": "write preempt = false",
    "vip_labels": (
        'give the label with its VIP: vips = [{ address = "192.0.2.100/24", label = "eth0:web" }]'
    ),
    **dict.fromkeys(
        ("track_script", "track_interface", "track_file"),
        "use track = [...] naming [[tracker]] tables",
    ),
    **{
        f"notify_{state}": f"use [instance.notify] {state} = [...]"
        for state in ("master", "backup", "fault")
    },
}


@dataclass(frozen=True, slots=True)
class _Identity:
    """What instances must not share, as far as it could be read."""

    index: int
    name: str | None
    interface: str | None
    vrid: int | None
    vips: tuple[tuple[str, Vip], ...]

    def describe(self) -> str:
        named = f" ({self.name!r})" if self.name else ""
        return f"instance[{self.index}]{named}"


def _instance(
    context: _Context, index: int, data: dict[str, object], trackers: Mapping[str, int]
) -> tuple[InstanceConfig | None, _Identity]:
    before = len(context.problems)
    table = _Table(context, f"instance[{index}]", data, _INSTANCE_KEYS, _INSTANCE_HINTS)
    name = _name(table)
    interface = _interface_name(table)
    vrid = table.integer("vrid", 1, 255, "VRID is 1..255", None)
    priority = table.integer("priority", 1, 255, "255 is the address owner", 100)
    version = _version(table)
    interval_cs = _interval_cs(table, version)
    preempt = table.get("preempt", bool, True)
    preempt_delay = table.duration("preempt_delay", Fraction(0), MAX_PREEMPT_DELAY)
    accept = table.get("accept", bool, False)
    use_vmac = table.get("use_vmac", bool, False)
    vips = _vips(table, interface, version)
    families = {vip.family for _, vip in vips}
    source, peers = _unicast(table, families)
    group = _group(table, families, peers)
    checksum = table.choice("checksum", [policy.value for policy in ChecksumPolicy], "auto")
    announce = _announce(table)
    auth = _auth(table, interval_cs)
    track = _track(table, trackers)
    notify = _notify(table)
    identity = _Identity(index, name, interface, vrid, tuple(vips))
    if len(context.problems) > before:
        return None, identity
    instance = InstanceConfig(
        name=_valid(name),
        interface=_valid(interface),
        vrid=_valid(vrid),
        priority=_valid(priority),
        version=_valid(version),
        interval_cs=_valid(interval_cs),
        preempt=_valid(preempt),
        preempt_delay=float(_valid(preempt_delay)),
        accept=_valid(accept),
        vips=tuple(vip for _, vip in vips),
        unicast_source=source,
        unicast_peers=peers,
        multicast_group=group,
        checksum=ChecksumPolicy(_valid(checksum)),
        auth=auth,
        use_vmac=_valid(use_vmac),
        announce=_valid(announce),
        track=track,
        notify=notify,
    )
    return instance, identity


def _valid(value: _T | None) -> _T:
    """A value read without a problem (callers check that no problem was reported)."""
    if value is None:
        raise AssertionError("a value was None although no problem was reported")
    return value


def _name(table: _Table) -> str | None:
    name = table.need("name", str, "a name like 'web' (letters, digits, '_', '.', '-')")
    if name is not None and not _NAME.fullmatch(name):
        table.report(
            "name", f"{name!r} must be non-empty and made of letters, digits, '_', '.', '-'"
        )
        return None
    return name


def _interface_name(table: _Table) -> str | None:
    return _checked_interface(
        table, table.need("interface", str, "the network interface, like 'eth0'")
    )


def _checked_interface(table: _Table, name: str | None) -> str | None:
    """``name`` (read from the key ``interface``) if it can be an interface's name."""
    problem = None if name is None else _interface_problem(name)
    if problem:
        table.report("interface", problem)
        return None
    return name


def _interface_problem(name: str) -> str | None:
    if not 1 <= len(name) <= MAX_INTERFACE_NAME:
        return f"{name!r} is {len(name)} characters; interface names are 1..15"
    if name in (".", "..") or any(c == "/" or c.isspace() for c in name):
        return f"{name!r} is not an interface name (no '/', no whitespace)"
    if ":" in name:
        return f"{name!r} is not an interface name (':' belongs to address labels)"
    return None


def _version(table: _Table) -> int | None:
    version = table.get("version", int, 3)
    if version is not None and version not in (2, 3):
        table.report("version", f"{version} is not 2 or 3 (VRRPv2 is RFC 3768, VRRPv3 RFC 5798)")
        return None
    return version


def _interval_cs(table: _Table, version: int | None) -> int | None:
    """The advert interval in centiseconds, as the protocol core counts it."""
    seconds = table.duration("advert_interval", Fraction(1))
    if seconds is None or version is None:
        return None
    shown = _show(table.data.get("advert_interval", "1s"))
    problem = _v2_interval_problem(seconds) if version == 2 else _v3_interval_problem(seconds)
    if problem:
        table.report("advert_interval", f"{shown} {problem}")
        return None
    return int(seconds * 100)


def _v2_interval_problem(seconds: Fraction) -> str | None:
    if seconds.denominator == 1 and 1 <= seconds <= V2_MAX_INTERVAL_S:
        return None
    return (
        "is not a whole number of seconds in 1s..255s "
        "(VRRPv2 carries whole seconds; use version = 3 for shorter intervals)"
    )


def _v3_interval_problem(seconds: Fraction) -> str | None:
    centiseconds = seconds * 100
    if centiseconds.denominator != 1:
        return "is not a multiple of 10ms (VRRPv3 carries centiseconds)"
    if not 1 <= centiseconds <= V3_MAX_INTERVAL_CS:
        return "is outside 10ms..40.95s (VRRPv3 carries 1..4095 centiseconds)"
    return None


# --------------------------------------------------------------------------- VIPs

_VIP_EXAMPLE = '"192.0.2.100/24"'


def _vips(table: _Table, interface: str | None, version: int | None) -> list[tuple[str, Vip]]:
    """The VIPs that are valid, each with its key path."""
    items = table.need("vips", list, f"an array of addresses with prefix, like [{_VIP_EXAMPLE}]")
    if items is None:
        return []
    if not items:
        table.report("vips", f"is empty: list at least one VIP, like [{_VIP_EXAMPLE}]")
        return []
    found: list[tuple[str, Vip]] = []
    first: dict[IPAddress, str] = {}
    for index, item in enumerate(items):
        key = f"vips[{index}]"
        vip = _vip(table, key, item, interface, version)
        if vip is not None and vip.address in first:
            table.report(key, f"{vip.address} is listed twice (also {first[vip.address]})")
        elif vip is not None:
            first[vip.address] = key
            found.append((table.key(key), vip))
    _check_vip_count(table, found)
    return found


def _check_vip_count(table: _Table, vips: list[tuple[str, Vip]]) -> None:
    for family in (4, 6):
        count = sum(1 for _, vip in vips if vip.family == family)
        if count > MAX_ADDRESSES:
            message = f"has {count} {_FAMILY_NAMES[family]} VIPs; an advert carries at most 255"
            table.report("vips", message)


def _vip(
    table: _Table, key: str, item: object, interface: str | None, version: int | None
) -> Vip | None:
    if isinstance(item, str):
        return _vip_from(table.context, table.key(key), item, interface, version)
    if not isinstance(item, dict):
        expected = "an address string or a table { address = ..., label = ... }"
        table.report(key, f"expected {expected}, got {_describe(item)}")
        return None
    entry = _Table(table.context, table.key(key), item, ("address", "label"))
    address = entry.need("address", str, f"an address with prefix, like {_VIP_EXAMPLE}")
    label = entry.optional("label", str)
    if address is None:
        return None
    vip = _vip_from(table.context, entry.key("address"), address, interface, version)
    if vip is None or label is None:
        return vip
    problem = _label_problem(label, vip, interface)
    if problem:
        entry.report("label", problem)
        return None
    return Vip(vip.interface, label)


def _vip_from(
    context: _Context, key: str, text: str, interface: str | None, version: int | None
) -> Vip | None:
    try:
        parsed = ipaddress.ip_interface(text)
    except ValueError:
        example = "'192.0.2.100/24' or '2001:db8::100/64'"
        context.report(key, f"{text!r} is not an address with prefix length, like {example}")
        return None
    problem = _unicast_problem(parsed.ip)
    if problem is None and version == 2 and parsed.version == 6:
        problem = "is IPv6, but VRRPv2 carries IPv4 only (use version = 3)"
    if problem:
        context.report(key, f"{parsed.ip} {problem}")
        return None
    warning = _vip_warning(text, parsed)
    if warning:
        context.warn(key, warning)
    return Vip(parsed)


def _vip_warning(text: str, vip: IPv4Interface | IPv6Interface) -> str | None:
    """What is odd about a valid VIP: no prefix written, or its prefix's network, broadcast
    or (IPv6) Subnet-Router anycast address."""
    address, network = vip.ip, vip.network
    if "/" not in text:
        usual = 24 if vip.version == 4 else 64
        return (
            f"{text!r} has no prefix length, so it is bound as {vip}: write '{vip}' if a host"
            f" address is meant, else its subnet's prefix, like '{address}/{usual}'"
        )
    if network.num_addresses <= 2:  # /31, /32, /127, /128: every address is a host's
        return None
    fix = f"pick a host address of {network}, or write the VIP's real prefix"
    if address == network.network_address and vip.version == 6:
        return (
            f"{address} is the Subnet-Router anycast address of {network} (RFC 4291), which"
            f" every router on the link answers; {fix}"
        )
    if address == network.network_address:
        return (
            f"{address} is the network address of {network}, which hosts do not send to as"
            f" one host; {fix}"
        )
    if address == network.broadcast_address and vip.version == 4:
        return (
            f"{address} is the broadcast address of {network}: hosts send to it as a broadcast,"
            f" not to the VIP's owner; {fix}"
        )
    return None


def _label_problem(label: str, vip: Vip, interface: str | None) -> str | None:
    if vip.family == 6:
        return "labels are IPv4-only (Linux has no labels on IPv6 addresses)"
    if len(label) > MAX_INTERFACE_NAME:
        return f"{label!r} is {len(label)} characters; the kernel allows at most 15"
    if interface is not None and not label.startswith(interface):
        return f"{label!r} must start with the interface name {interface!r}, like '{interface}:vip'"
    return None


def _unicast_problem(address: IPAddress) -> str | None:
    for failed, kind in (
        (address.is_multicast, "a multicast"),
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
    ):
        if failed:
            return f"is {kind} address; it must be a unicast address"
    return None


def _multicast_problem(address: IPAddress) -> str | None:
    return None if address.is_multicast else "is not a multicast address"


# --------------------------------------------------------------------------- addressing


def _families_text(families: Iterable[int]) -> str:
    return " and ".join(_FAMILY_NAMES[family] for family in sorted(families))


def _parse_address(
    table: _Table, key: str, text: str, *, multicast: bool = False
) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        table.report(key, f"{text!r} is not an IP address")
        return None
    problem = _multicast_problem(address) if multicast else _unicast_problem(address)
    if problem:
        table.report(key, f"{address} {problem}")
        return None
    return address


def _unicast(table: _Table, families: set[int]) -> tuple[IPAddress | None, tuple[IPAddress, ...]]:
    text = table.optional("unicast_source", str)
    source = None if text is None else _parse_address(table, "unicast_source", text)
    peers = _peers(table, source)
    if source is not None and families and source.version not in families:
        table.report("unicast_source", _family_mismatch(source, families))
    for key, peer in peers:
        if families and peer.version not in families:
            table.context.report(key, _family_mismatch(peer, families))
    if peers:
        _check_peer_families(table, families, {peer.version for _, peer in peers})
    return source, tuple(peer for _, peer in peers)


def _family_mismatch(address: IPAddress, families: set[int]) -> str:
    return (
        f"{address} is {_FAMILY_NAMES[address.version]}, but this instance has only "
        f"{_families_text(families)} VIPs"
    )


def _check_peer_families(table: _Table, families: set[int], peer_families: set[int]) -> None:
    for family in sorted(families - peer_families):
        name = _FAMILY_NAMES[family]
        table.report(
            "unicast_peers",
            f"has no {name} peer for the {name} VIPs: each family's adverts go only to peers "
            f"of that family; add {name} peers or move these VIPs to an instance of their own",
        )


def _peers(table: _Table, source: IPAddress | None) -> list[tuple[str, IPAddress]]:
    items = table.get("unicast_peers", list, [])
    peers: list[tuple[str, IPAddress]] = []
    for index, item in enumerate(items or []):
        key = f"unicast_peers[{index}]"
        if not isinstance(item, str):
            table.report(key, f"expected an address string, got {_describe(item)}")
            continue
        peer = _parse_address(table, key, item)
        if peer is None:
            continue
        if peer == source:
            table.report(key, f"{peer} is the unicast_source itself; list only the other hosts")
        elif peer in [known for _, known in peers]:
            table.report(key, f"{peer} is listed twice")
        else:
            peers.append((table.key(key), peer))
    return peers


def _group(table: _Table, families: set[int], peers: tuple[IPAddress, ...]) -> IPAddress | None:
    text = table.optional("multicast_group", str)
    if text is None:
        return None
    group = _parse_address(table, "multicast_group", text, multicast=True)
    if group is None or not families:
        return group
    if group.version not in families:
        table.report("multicast_group", _family_mismatch(group, families))
    elif any(peer.version == group.version for peer in peers):
        name = _FAMILY_NAMES[group.version]
        table.report(
            "multicast_group",
            f"is unused: {name} adverts go to unicast_peers; remove one of the two",
        )
    return group


# --------------------------------------------------------------------------- announce


def _announce(table: _Table) -> AnnounceSettings | None:
    section = table.table("announce", ("count", "interval", "refresh"))
    if section is None:
        return AnnounceSettings() if "announce" not in table.data else None
    count = section.integer("count", 1, MAX_ANNOUNCE_COUNT, "announcements per VIP", 5)
    interval = section.duration("interval", Fraction(1, 50), MAX_ANNOUNCE_INTERVAL)
    refresh = section.duration("refresh", Fraction(0))
    if refresh is not None and 0 < refresh < MIN_ANNOUNCE_REFRESH:
        shown = _show(section.data["refresh"])
        section.report("refresh", f"{shown} is too often; write 0 (off) or at least '1s'")
        refresh = None
    if count is None or interval is None or refresh is None:
        return None
    return AnnounceSettings(count, float(interval), float(refresh))


# --------------------------------------------------------------------------- authentication

_AUTH_KEYS = ("keys", "active_key", "mode", "anti_replay", "time_window")
_KEY_KEYS = ("id", "secret", "secret_file")
_KEY_EXAMPLE = '[{ id = 1, secret = "hex:…" }]'


def _auth(table: _Table, interval_cs: int | None) -> AuthConfig | None:
    section = table.table("auth", _AUTH_KEYS)
    if section is None:
        return None
    keys, ids = _auth_keys(section)
    active = section.integer("active_key", 1, 255, "key ids are 1..255", None)
    if ids and active is not None and active not in ids:
        known = ", ".join(str(key_id) for key_id in ids)
        section.report("active_key", f"{active} names no key (key ids: {known})")
        active = None
    mode = section.choice("mode", [mode.value for mode in AuthMode], AuthMode.ENFORCE.value)
    anti_replay = section.choice("anti_replay", [a.value for a in AntiReplay], "time")
    window = _time_window(section, interval_cs)
    if keys is None or active is None or mode is None or anti_replay is None or window is None:
        return None
    try:
        return AuthConfig(keys, active, AuthMode(mode), AntiReplay(anti_replay), window)
    except ProtocolUsageError as error:
        section.report("keys", str(error))
        return None


def _time_window(section: _Table, interval_cs: int | None) -> int | None:
    default = default_time_window(interval_cs or 100)
    seconds = section.duration("time_window", Fraction(default))
    if seconds is None:
        return None
    if seconds.denominator != 1 or not 1 <= seconds <= MAX_TIME_WINDOW:
        shown = _show(section.data["time_window"])
        section.report("time_window", f"{shown} is not a whole number of seconds in 1..300")
        return None
    return int(seconds)


def _auth_keys(section: _Table) -> tuple[tuple[AuthKey, ...] | None, list[int]]:
    """The keys if all are valid, and every key id that could be read."""
    items = section.need("keys", list, f"an array of keys, like {_KEY_EXAMPLE}")
    if not items:
        if items is not None:
            section.report("keys", f"is empty: give at least one key, like {_KEY_EXAMPLE}")
        return None, []
    keys: list[AuthKey] = []
    ids: list[int] = []
    for index, item in enumerate(items):
        key_id, key = _auth_key(section, f"keys[{index}]", item)
        if key_id is not None and key_id in ids:
            section.report(f"keys[{index}].id", f"key id {key_id} is listed twice")
            continue
        ids += [] if key_id is None else [key_id]
        keys += [] if key is None else [key]
    return (tuple(keys) if len(keys) == len(items) else None), ids


def _auth_key(section: _Table, key: str, item: object) -> tuple[int | None, AuthKey | None]:
    if not isinstance(item, dict):
        section.report(key, f"expected a table like {_KEY_EXAMPLE[1:-1]}, got {_describe(item)}")
        return None, None
    entry = _Table(section.context, section.key(key), item, _KEY_KEYS)
    key_id = entry.integer("id", 1, 255, "key ids are 1..255", None)
    secret = _secret(entry)
    if key_id is None or secret is None:
        return key_id, None
    return key_id, AuthKey(key_id, secret)


def _secret(entry: _Table) -> bytes | None:
    """The key bytes from ``secret`` or ``secret_file``; messages never quote a secret."""
    if ("secret" in entry.data) == ("secret_file" in entry.data):
        entry.report("secret", "give exactly one of secret or secret_file")
        return None
    name = "secret" if "secret" in entry.data else "secret_file"
    value = entry.optional(name, str)
    if value is None:
        return None
    try:
        if name == "secret_file":
            value = _read_secret_file(entry, entry.context.base_dir / value)
        return decode_secret(value)
    except ValueError as error:
        entry.report(name, str(error))
        return None


def _read_secret_file(entry: _Table, path: Path) -> str:
    text = read_key_file(path)
    problem = service_user_problem(path)
    if problem is not None:
        entry.warn("secret_file", problem)
    return text


def decode_secret(text: str) -> bytes:
    """``hex:<digits>`` or raw ASCII, 32..64 bytes once decoded."""
    if text.startswith("hex:"):
        try:
            secret = bytes.fromhex(text[4:])
        except ValueError:
            raise ValueError("'hex:' must be followed by pairs of hex digits") from None
    elif text.isascii():
        secret = text.encode("ascii")
    else:
        raise ValueError("a raw secret must be ASCII; write other bytes as hex:<digits>")
    if not MIN_KEY_LENGTH <= len(secret) <= MAX_KEY_LENGTH:
        size = f"{len(secret)} byte{'' if len(secret) == 1 else 's'}"
        raise ValueError(
            f"the key is {size}; keys are 32..64 bytes (64..128 digits after 'hex:'); "
            "make one with: openssl rand -hex 32"
        )
    return secret


# --------------------------------------------------------------------------- commands

_COMMAND_EXAMPLE = '["/usr/local/bin/check-proxy", "--quick"]'


def _command(table: _Table, name: str) -> tuple[str, ...] | None:
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
        return f"is empty: give the program and its arguments, like {_COMMAND_EXAMPLE}"
    return tuple(argv)


def _argv_array(table: _Table, name: str, value: object) -> tuple[str, ...] | str | None:
    """The argv of an array of strings, or what is wrong with it (None: reported already)."""
    if not isinstance(value, list):
        return f"expected a command like {_COMMAND_EXAMPLE} (or one string), got {_describe(value)}"
    if not value:
        return f"is empty: give the program and its arguments, like {_COMMAND_EXAMPLE}"
    strings = [item for item in value if isinstance(item, str)]
    for index, item in enumerate(value):
        if not isinstance(item, str):
            table.report(f"{name}[{index}]", f"expected a string, got {_describe(item)}")
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


# --------------------------------------------------------------------------- trackers

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


def _trackers(top: _Table) -> tuple[tuple[TrackerConfig, ...] | None, dict[str, int]]:
    """The trackers if all are valid, and the default weight of every tracker name that could
    be read (0 where the weight itself is wrong), for resolving instances' references."""
    tables, complete = _tables(top, "tracker")
    built: list[TrackerConfig] = []
    weights: dict[str, int] = {}
    names: list[tuple[int, str | None]] = []
    for index, data in tables:
        tracker, name, weight = _tracker(top.context, index, data)
        names.append((index, name))
        if name is not None:
            weights.setdefault(name, weight)
        built += [] if tracker is None else [tracker]
    _check_unique(top.context, "tracker", names)
    return (tuple(built) if complete and len(built) == len(tables) else None), weights


def _tracker(
    context: _Context, index: int, data: dict[str, object]
) -> tuple[TrackerConfig | None, str | None, int]:
    before = len(context.problems)
    table = _Table(context, f"tracker[{index}]", data, _TRACKER_KEYS)
    name = _name(table)
    weight = table.integer("weight", -MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT, _WEIGHT_RANGE, 0)
    check = _check(table)
    rhythm = _rhythm(table)
    if len(context.problems) > before or check is None:
        return None, name, weight or 0
    tracker = TrackerConfig(_valid(name), check, _valid(rhythm), _valid(weight))
    return tracker, name, tracker.weight


def _check(table: _Table) -> Check | None:
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


def _report_kinds(table: _Table, kinds: list[str]) -> None:
    exactly = f"a tracker checks exactly one of: {', '.join(_CHECK_KINDS)}"
    if not kinds:
        example = 'http = "http://127.0.0.1/healthz"'
        table.context.report(table.path, f"{exactly}; give one, like {example}")
        return
    given = " and ".join(kinds)
    table.report(kinds[1], f"{exactly}; this one has {given}: write a [[tracker]] for each")


def _interface_check(table: _Table) -> InterfaceCheck | None:
    name = _checked_interface(table, table.optional("interface", str))
    return None if name is None else InterfaceCheck(name)


def _file_check(table: _Table) -> FileCheck | None:
    path = _absolute_path(table, "file", Path("/var/lib/vipguard/drain"))
    missing = table.data.get("missing", 0)
    if isinstance(missing, int) and not isinstance(missing, bool):
        return None if path is None else FileCheck(path, missing)
    if missing == "down":
        return None if path is None else FileCheck(path, None)
    table.report(
        "missing",
        f"{_show(missing)} is not a value for a missing file: give an integer (it reads as"
        ' that number; default 0) or "down" (a missing file is a failed check)',
    )
    return None


def _script_check(table: _Table) -> ScriptCheck | None:
    command = _command(table, "script")
    user = _user(table)  # a wrong user is reported; the tracker is dropped with the problem
    return None if command is None else ScriptCheck(command, user)


def _user(table: _Table) -> str | None:
    user = table.optional("user", str)
    if user is None:
        return None
    try:
        pwd.getpwnam(user)
    except (KeyError, ValueError):
        table.report("user", f"no such user {user!r} on this host; name an existing user")
        return None
    return user


def _tcp_check(table: _Table) -> TcpCheck | None:
    text = table.optional("tcp", str)
    endpoint = None if text is None else _host_port(text)
    if text is not None and endpoint is None:
        example = '"127.0.0.1:8080" or "[::1]:8080"'
        table.report("tcp", f"{text!r} is not an IP address and port such as {example}")
    return None if endpoint is None else TcpCheck(*endpoint)


def _http_check(table: _Table) -> HttpCheck | None:
    text = table.optional("http", str)
    url = None if text is None else _http_url(table, text)
    statuses = _expect_status(table)
    verify_tls = table.get("verify_tls", bool, True)
    if url is None or statuses is None or verify_tls is None:
        return None
    return HttpCheck(url, statuses, verify_tls)


def _http_url(table: _Table, text: str) -> str | None:
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


def _expect_status(table: _Table) -> tuple[int, ...] | None:
    items = table.get("expect_status", list, [200])
    if items is not None and not items:
        table.report("expect_status", "is empty: give the statuses that mean up, like [200, 204]")
    statuses = [item for item in items or [] if _is_kind(item, int) and 100 <= item <= 599]
    for index, item in enumerate(items or []):
        if not _is_kind(item, int):
            table.report(f"expect_status[{index}]", _type_message(item, int))
        elif item not in statuses:
            table.report(f"expect_status[{index}]", f"{item} is not an HTTP status (100..599)")
    return tuple(statuses) if items and len(statuses) == len(items) else None


def _process_check(table: _Table) -> ProcessCheck | None:
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


def _pidfile_check(table: _Table) -> ProcessCheck | None:
    path = _absolute_path(table, "pidfile", Path("/run/haproxy.pid"))
    return None if path is None else ProcessCheck(pidfile=path)


_CHECK_READERS: dict[str, Callable[[_Table], Check | None]] = {
    "interface": _interface_check,
    "file": _file_check,
    "script": _script_check,
    "tcp": _tcp_check,
    "http": _http_check,
    "process": _process_check,
    "pidfile": _pidfile_check,
}


def _rhythm(table: _Table) -> Rhythm | None:
    interval = table.duration("interval", Fraction(1), MAX_TRACKER_TIME, MIN_TRACKER_INTERVAL)
    # Checks never overlap, so a timeout longer than the interval just spaces them out.
    default_timeout = min(interval or Fraction(1), Fraction(1))
    timeout = table.duration("timeout", default_timeout, MAX_TRACKER_TIME, MIN_TRACKER_TIMEOUT)
    rise = table.integer("rise", 1, MAX_TRACKER_COUNT, "successes in a row to come up", 2)
    fall = table.integer("fall", 1, MAX_TRACKER_COUNT, "failures in a row to go down", 3)
    if interval is None or timeout is None or rise is None or fall is None:
        return None
    return Rhythm(float(interval), float(timeout), rise, fall)


# --------------------------------------------------------------------------- track and notify

_TRACK_EXAMPLE = '["proxy", { tracker = "uplink", weight = -50 }]'
_NOTIFY_KEYS = ("master", "backup", "fault", "maintenance", "any")


def _track(table: _Table, trackers: Mapping[str, int]) -> tuple[TrackRef, ...]:
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
    table: _Table, key: str, item: object, trackers: Mapping[str, int]
) -> TrackRef | None:
    if isinstance(item, str):
        known = _known_tracker(table, key, item, trackers)
        return None if known is None else TrackRef(known, trackers[known])
    if not isinstance(item, dict):
        expected = f"a tracker name or a table, like {_TRACK_EXAMPLE}"
        table.report(key, f"expected {expected}, got {_describe(item)}")
        return None
    entry = _Table(table.context, table.key(key), item, ("tracker", "weight"))
    name = entry.need("tracker", str, "the name of a [[tracker]]")
    known = None if name is None else _known_tracker(entry, "tracker", name, trackers)
    default = trackers[known] if known is not None else 0
    weight = entry.integer("weight", -MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT, _WEIGHT_RANGE, default)
    return None if known is None or weight is None else TrackRef(known, weight)


def _known_tracker(table: _Table, key: str, name: str, trackers: Mapping[str, int]) -> str | None:
    if name in trackers:
        return name
    table.report(key, _unknown_name(name, list(trackers), "tracker"))
    return None


def _notify(table: _Table) -> NotifyConfig | None:
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


def _hook(section: _Table, key: str) -> tuple[tuple[str, ...], str | None] | None:
    """(argv, user) of one hook: a command, or a table ``{ command = ..., user = "..." }``."""
    value = section.data[key]
    if not isinstance(value, dict):
        argv = _command(section, key)
        return None if argv is None else (argv, None)
    entry = _Table(section.context, section.key(key), value, ("command", "user"))
    if "command" not in entry.data:
        entry.report(
            "command", f"missing: give the program and its arguments, like {_COMMAND_EXAMPLE}"
        )
        argv = None
    else:
        argv = _command(entry, "command")
    user = _user(entry)
    if argv is None or ("user" in entry.data and user is None):
        return None
    return argv, user


# --------------------------------------------------------------------------- sync groups


def _sync_groups(top: _Table, instances: Sequence[str]) -> tuple[SyncGroup, ...] | None:
    """The sync groups if all are valid; ``instances``: every instance name that was read."""
    tables, complete = _tables(top, "sync_group")
    built: list[SyncGroup] = []
    names: list[tuple[int, str | None]] = []
    members: dict[str, str] = {}  # instance name -> the group that has it
    for index, data in tables:
        before = len(top.context.problems)
        table = _Table(top.context, f"sync_group[{index}]", data, ("name", "instances"))
        name = _name(table)
        group_instances = _group_members(table, instances, members)
        named = f"{table.path} ({name!r})" if name else table.path
        members.update(dict.fromkeys(group_instances, named))
        names.append((index, name))
        if len(top.context.problems) == before:
            built.append(SyncGroup(_valid(name), group_instances))
    _check_unique(top.context, "sync_group", names)
    return tuple(built) if complete and len(built) == len(tables) else None


def _group_members(
    table: _Table, instances: Sequence[str], members: Mapping[str, str]
) -> tuple[str, ...]:
    example = '["front", "back"]'
    items = table.need("instances", list, f"the names of two or more instances, like {example}")
    if items is None:
        return ()
    if len(items) < 2:
        table.report("instances", f"has {len(items)}; a sync group joins two or more instances")
    found: list[str] = []
    for index, item in enumerate(items):
        problem = _member_problem(item, found, instances, members)
        if problem:
            table.report(f"instances[{index}]", problem)
        else:
            found.append(str(item))
    return tuple(found)


def _member_problem(
    item: object, found: list[str], instances: Sequence[str], members: Mapping[str, str]
) -> str | None:
    if not isinstance(item, str):
        return f"expected an instance name, got {_describe(item)}"
    if item in found:
        return f"{item!r} is listed twice"
    if item not in instances:
        return _unknown_name(item, instances, "instance")
    if item in members:
        return f"{item!r} is already in {members[item]}; an instance joins one sync group at most"
    return None


# --------------------------------------------------------------------------- across instances


def _check_across(context: _Context, identities: list[_Identity]) -> None:
    names: dict[str, _Identity] = {}
    routers: dict[tuple[str, int, int], _Identity] = {}
    vips: dict[tuple[str, IPAddress], _Identity] = {}
    for identity in identities:
        path = f"instance[{identity.index}]"
        if identity.name is not None:
            if identity.name in names:
                other = names[identity.name].describe()
                context.report(f"{path}.name", f"{identity.name!r} is already used by {other}")
            names.setdefault(identity.name, identity)
        if identity.interface is not None:
            _check_router(context, identity, identity.interface, routers)
            _check_shared_vips(context, identity, identity.interface, vips)


def _check_router(
    context: _Context,
    identity: _Identity,
    interface: str,
    routers: dict[tuple[str, int, int], _Identity],
) -> None:
    if identity.vrid is None:
        return
    for family in sorted({vip.family for _, vip in identity.vips}):
        router = (interface, identity.vrid, family)
        other = routers.setdefault(router, identity)
        if other is not identity:
            context.report(
                f"instance[{identity.index}].vrid",
                f"vrid {identity.vrid} on {interface} ({_FAMILY_NAMES[family]}) is "
                f"already used by {other.describe()}; interface, VRID and family make one router",
            )


def _check_shared_vips(
    context: _Context,
    identity: _Identity,
    interface: str,
    vips: dict[tuple[str, IPAddress], _Identity],
) -> None:
    for key, vip in identity.vips:
        other = vips.setdefault((interface, vip.address), identity)
        if other is not identity:
            context.report(
                key, f"{vip.address} is already a VIP of {other.describe()} on {interface}"
            )


# --------------------------------------------------------------------------- line numbers


class _ScanError(Exception):
    pass


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}#\n]*")


class _LineIndex:
    """The line where each key path starts ("instance[1].auth.keys[0].id"), found by scanning
    the raw text; tomllib reports none. Only used on text tomllib accepted, and best effort:
    a path it cannot place (or any surprise) just has no line."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        self._arrays: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        with contextlib.suppress(_ScanError, IndexError):
            self._document()

    def find(self, key: str) -> int | None:
        """The line of ``key``, else of the nearest enclosing key or table that has one."""
        while key:
            if key in self.lines:
                return self.lines[key]
            cut = max(key.rfind("."), key.rfind("[") if key.endswith("]") else -1)
            key = key[: max(cut, 0)]
        return None

    def _record(self, path: str, pos: int) -> None:
        self.lines.setdefault(path, bisect_left(self._newlines, pos) + 1)

    def _skip(self, newlines: bool) -> None:
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            elif char in " \t\r" or (newlines and char == "\n"):
                self._pos += 1
            else:
                return

    def _document(self) -> None:
        table = ""
        while True:
            self._skip(newlines=True)
            start = self._pos
            if start >= len(self._text):
                return
            if self._text[start] == "[":
                table = self._header()
            else:
                self._keyval(table)
            if self._pos == start:
                raise _ScanError

    def _header(self) -> str:
        start = self._pos
        is_array = self._text.startswith("[[", start)
        self._pos += 2 if is_array else 1
        parts = self._key()
        self._skip(newlines=False)
        self._pos += 2 if is_array else 1
        path = ""
        for index, part in enumerate(parts):
            base = f"{path}.{part}" if path else part
            if is_array and index == len(parts) - 1:
                self._arrays[base] = self._arrays.get(base, 0) + 1
            count = self._arrays.get(base)
            path = base if count is None else f"{base}[{count - 1}]"
        self._record(path, start)
        return path

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip(newlines=False)
            parts.append(self._key_part())
            self._skip(newlines=False)
            if not self._text.startswith(".", self._pos):
                return parts
            self._pos += 1

    def _key_part(self) -> str:
        start = self._pos
        if self._text[start] in "\"'":
            self._string()
            return self._text[start + 1 : self._pos - 1]
        match = _BARE_KEY.match(self._text, start)
        if match is None:
            raise _ScanError
        self._pos = match.end()
        return match.group()

    def _keyval(self, table: str) -> None:
        start = self._pos
        path = table
        for part in self._key():
            path = f"{path}.{part}" if path else part
            self._record(path, start)
        self._skip(newlines=False)
        if not self._text.startswith("=", self._pos):
            raise _ScanError
        self._pos += 1
        self._skip(newlines=False)
        self._value(path)

    def _value(self, path: str) -> None:
        char = self._text[self._pos]
        if char in "\"'":
            self._string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            match = _SCALAR.match(self._text, self._pos)
            self._pos = match.end() if match else self._pos

    def _array(self, path: str) -> None:
        self._pos += 1
        index = 0
        while True:
            self._skip(newlines=True)
            if self._text[self._pos] == "]":
                self._pos += 1
                return
            element = f"{path}[{index}]"
            self._record(element, self._pos)
            start = self._pos
            self._value(element)
            if self._pos == start:
                raise _ScanError
            index += 1
            self._skip(newlines=True)
            if self._text[self._pos] == ",":
                self._pos += 1

    def _inline_table(self, path: str) -> None:
        self._pos += 1
        while True:
            self._skip(newlines=True)
            char = self._text[self._pos]
            if char == "}":
                self._pos += 1
                return
            if char == ",":
                self._pos += 1
                continue
            self._keyval(path)

    def _string(self) -> None:
        text, start = self._text, self._pos
        quote = text[start]
        closing = quote * 3 if text.startswith(quote * 3, start) else quote
        pos = start + len(closing)
        while pos < len(text):
            if quote == '"' and text[pos] == "\\":
                pos += 2
            elif text.startswith(closing, pos):
                pos += len(closing)
                # A multi-line string may end in one or two quotes of its own: """a""""
                extra = 0
                while len(closing) == 3 and extra < 2 and text.startswith(quote, pos):
                    pos, extra = pos + 1, extra + 1
                self._pos = pos
                return
            else:
                pos += 1
        raise _ScanError
