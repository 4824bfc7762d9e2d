"""The generic reader every section uses: the problem type (file, line, key path, message),
typed reads of one TOML table that report what is wrong with a value, durations, and the field
readers that several sections share (names, absolute paths, addresses with ports, interfaces).

A section reads its tables through :class:`Table`, so that each message keeps its file, line and
key path and every problem of a file is reported in one pass."""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

from ..proto.addresses import IPAddress
from .locate import LineIndex

# IFNAMSIZ is 16 including the NUL; address labels share the limit.
MAX_INTERFACE_NAME = 15

_T = TypeVar("_T")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


# ------------------------------------------------------------------- problems


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


def by_line(problem: Problem) -> float:
    return math.inf if problem.line is None else problem.line


_TOML_POSITION = re.compile(
    r"(?P<message>.*) \((?:at line (?P<line>\d+), column (?P<column>\d+)|at end of document)\)"
)


def syntax_problem(file: str, error: str, text: str) -> Problem:
    match = _TOML_POSITION.fullmatch(error)
    if match is None:
        return Problem(file, "", None, f"invalid TOML: {error}")
    if match["line"] is None:
        return Problem(file, "", text.count("\n") + 1, f"invalid TOML: {match['message']}")
    message = f"invalid TOML: {match['message']} (column {match['column']})"
    return Problem(file, "", int(match["line"]), message)


# ------------------------------------------------------------- reading tables


@dataclass(slots=True)
class Context:
    file: str
    base_dir: Path
    lines: LineIndex
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


def describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the {'integer' if isinstance(value, int) else 'float'} {value}"
    if isinstance(value, list):
        return "an array"
    return "a table" if isinstance(value, dict) else "a date/time"


def type_message(value: object, kind: type) -> str:
    message = f"expected {_KIND_NAMES[kind]}, got {describe(value)}"
    if kind is int and isinstance(value, str) and value.strip().isdigit():
        message += f" (write {value.strip()} without quotes)"
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        message += f" (write {value.lower()} without quotes)"
    return message


def is_kind(value: object, kind: type) -> bool:
    # TOML booleans are Python ints; never take one for the other.
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _unknown_key(name: str, known: Sequence[str], hints: Mapping[str, str]) -> str:
    if name in hints:
        return f"unknown key '{name}'; {hints[name]}"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown key '{name}'; did you mean '{close[0]}'?"
    return f"unknown key '{name}'; valid keys here: {', '.join(known)}"


class Table:
    """One TOML table being read: hands out typed values and reports what is wrong with them."""

    def __init__(
        self,
        context: Context,
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
        if isinstance(value, kind) and is_kind(value, kind):
            return value
        self.report(name, type_message(value, kind))
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
            self.report(name, f"{show(value)} is outside {format_duration(low)}..{top}")
            return None
        return seconds

    def table(self, name: str, known: Sequence[str]) -> Table | None:
        data = self.optional(name, dict)
        return None if data is None else Table(self.context, self.key(name), data, known)


# ------------------------------------------------------------------ durations


_DURATION = re.compile(r"(?P<number>[+-]?[0-9]+(?:\.[0-9]+)?)(?P<unit>.*)")
_UNITS = {"ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60), "h": Fraction(3600)}
_DURATION_EXAMPLES = "'100ms', '1.5s' or '2m'"


def parse_duration(value: object) -> Fraction:
    """Seconds from a TOML number of seconds or a string with a unit (ms, s, m, h).

    Exact (a Fraction), so that '0.1s' is 10 centiseconds. ValueError says what to write.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        expected = f"a duration (a number of seconds, or a string like {_DURATION_EXAMPLES})"
        raise ValueError(f"expected {expected}, got {describe(value)}")
    if isinstance(value, str):
        seconds = _parse_duration_text(value)
    elif not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number of seconds")
    else:
        seconds = Fraction(str(value))  # str(): the decimal the operator wrote, not binary float
    if seconds < 0:
        raise ValueError(f"{show(value)} is negative; durations are 0 or more")
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


def show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# ---------------------------------------------------- arrays of tables, names


@dataclass(frozen=True, slots=True)
class TableArray:
    """The ``[[section]]`` tables of the file, each with its index."""

    tables: list[tuple[int, dict[str, object]]]
    complete: bool  # every item was a table (the others are reported)

    def all_of(self, built: Sequence[_T]) -> tuple[_T, ...] | None:
        """``built``, if a value was built from every item; None if any item had a problem."""
        return tuple(built) if self.complete and len(built) == len(self.tables) else None


def array_tables(top: Table, section: str) -> TableArray:
    """The ``[[section]]`` tables; whatever else stands under the key is reported."""
    items = top.data.get(section, [])
    if not isinstance(items, list):
        got = "a single table" if isinstance(items, dict) else describe(items)
        top.report(section, f"expected [[{section}]] tables (double brackets), got {got}")
        return TableArray([], complete=False)
    tables: list[tuple[int, dict[str, object]]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            tables.append((index, item))
        else:
            top.report(f"{section}[{index}]", f"expected a table, got {describe(item)}")
    return TableArray(tables, complete=len(tables) == len(items))


def check_unique(context: Context, section: str, names: Iterable[tuple[int, str | None]]) -> None:
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


def unknown_name(name: str, known: Sequence[str], section: str) -> str:
    """``'proxi' names no [[tracker]]; did you mean 'proxy'? (trackers: proxy, uplink)``"""
    if not known:
        return f"{name!r} names no [[{section}]] (there are none in this file)"
    close = difflib.get_close_matches(name, known, n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name!r} names no [[{section}]]{suggestion} ({section}s: {', '.join(known)})"


def valid(value: _T | None) -> _T:
    """A value read without a problem (callers check that no problem was reported)."""
    if value is None:
        raise AssertionError("a value was None although no problem was reported")
    return value


def read_name(table: Table) -> str | None:
    name = table.need("name", str, "a name like 'web' (letters, digits, '_', '.', '-')")
    if name is not None and not _NAME.fullmatch(name):
        table.report(
            "name", f"{name!r} must be non-empty and made of letters, digits, '_', '.', '-'"
        )
        return None
    return name


# ----------------------------------------------- values several sections read


def checked_interface(table: Table, name: str | None) -> str | None:
    """``name`` (read from the key ``interface``) if it can be an interface's name."""
    problem = None if name is None else interface_problem(name)
    if problem:
        table.report("interface", problem)
        return None
    return name


def interface_problem(name: str) -> str | None:
    if not 1 <= len(name) <= MAX_INTERFACE_NAME:
        return f"{name!r} is {len(name)} characters; interface names are 1..15"
    if name in (".", "..") or any(c == "/" or c.isspace() for c in name):
        return f"{name!r} is not an interface name (no '/', no whitespace)"
    if ":" in name:
        return f"{name!r} is not an interface name (':' belongs to address labels)"
    return None


def host_port(text: str) -> tuple[IPAddress, int] | None:
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


def absolute_path(table: Table, name: str, default: Path) -> Path | None:
    text = table.get(name, str, str(default))
    if text is None:
        return None
    if not Path(text).is_absolute():
        table.report(name, f"{text!r} is relative; write an absolute path (like '{default}')")
        return None
    return Path(text)
