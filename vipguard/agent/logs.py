"""One line per event, key=value (or JSON), journald-friendly; rate limits for noisy peers.

When stderr is the journal (systemd says so in JOURNAL_STREAM), every line starts with its syslog
priority (``<4>`` for a warning, as sd-daemon(3) describes), so ``journalctl -p warning`` works;
the journal stamps the time itself. JSON lines carry their own RFC 3339 UTC time.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any

LOGGER = logging.getLogger("vipguard")

# syslog priorities (sd-daemon(3)): the first level at or below a record's level gives its prefix.
_PRIORITIES = (
    (logging.CRITICAL, 2),
    (logging.ERROR, 3),
    (logging.WARNING, 4),
    (logging.INFO, 6),
)
_DEBUG_PRIORITY = 7


def syslog_priority(level: int) -> int:
    return next((priority for floor, priority in _PRIORITIES if level >= floor), _DEBUG_PRIORITY)


class _EventFormatter(logging.Formatter):
    """An event as one line; with ``journal`` prefixed by its syslog priority."""

    def __init__(self, journal: bool = False) -> None:
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        line = self.line(record, getattr(record, "fields", {}))
        return f"<{syslog_priority(record.levelno)}>{line}" if self.journal else line

    def line(self, record: logging.LogRecord, fields: dict[str, Any]) -> str:
        raise NotImplementedError


class KeyValueFormatter(_EventFormatter):
    def line(self, record: logging.LogRecord, fields: dict[str, Any]) -> str:
        parts = [f"level={record.levelname.lower()}", f"event={record.getMessage()}"]
        for key, value in fields.items():
            parts += [f"{name}={_quote(text)}" for name, text in _flattened(key, value)]
        return " ".join(parts)


class JsonFormatter(_EventFormatter):
    def line(self, record: logging.LogRecord, fields: dict[str, Any]) -> str:
        entry = {
            "time": _rfc3339(record.created),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            **fields,
        }
        return json.dumps(entry, default=str)


def _rfc3339(timestamp: float) -> str:
    """``2026-12-03T12:31:37.123Z``"""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_journal(stream: IO[str], environ: Mapping[str, str]) -> bool:
    """Whether ``stream`` is the journal systemd connected (JOURNAL_STREAM=device:inode): a
    stderr redirected elsewhere inherits the variable, so the file itself is compared."""
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO)
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


def _flattened(key: str, value: object) -> Iterator[tuple[str, object]]:
    """Nested values as dotted keys (``priority.base=150``, ``vips.0.address=...``), so that a
    line stays greppable; a list of plain values is joined with commas."""
    if isinstance(value, dict) and value:
        for inner, item in value.items():
            yield from _flattened(f"{key}.{inner}", item)
    elif isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
        for index, item in enumerate(value):
            yield from _flattened(f"{key}.{index}", item)
    elif isinstance(value, dict | list | tuple):
        yield key, ",".join(map(str, value))
    else:
        yield key, value


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return json.dumps(text)
    return text


def setup(
    log_format: str,
    level: int = logging.INFO,
    *,
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Log to ``stream`` (stderr), with priority prefixes if it is the journal."""
    stream = sys.stderr if stream is None else stream
    journal = is_journal(stream, os.environ if environ is None else environ)
    handler = logging.StreamHandler(stream)
    formatter = JsonFormatter if log_format == "json" else KeyValueFormatter
    handler.setFormatter(formatter(journal))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def event(name: str, level: int = logging.INFO, /, **fields: object) -> None:
    LOGGER.log(level, name, extra={"fields": fields})


def debugging() -> bool:
    """Whether debug lines are written: hot paths ask before they build one."""
    return LOGGER.isEnabledFor(logging.DEBUG)


def debug(name: str, /, **fields: object) -> None:
    if LOGGER.isEnabledFor(logging.DEBUG):
        LOGGER.debug(name, extra={"fields": fields})


class RateLimiter:
    """Allows one log line per key per ``period`` seconds and counts what it held back."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._last: dict[object, float] = {}
        self._held: dict[object, int] = {}

    def allow(self, key: object, now: float) -> int | None:
        """None to stay quiet; otherwise how many lines were suppressed since the last one."""
        last = self._last.get(key)
        if last is not None and now - last < self.period:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)
