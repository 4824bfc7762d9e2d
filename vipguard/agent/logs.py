"""One line per event, key=value (or JSON), journald-friendly; rate limits for noisy peers."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

LOGGER = logging.getLogger("vipguard")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        parts = [f"level={record.levelname.lower()}", f"event={record.getMessage()}"]
        for key, value in fields.items():
            parts += [f"{name}={_quote(text)}" for name, text in _flattened(key, value)]
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        entry = {"level": record.levelname.lower(), "event": record.getMessage(), **fields}
        return json.dumps(entry, default=str)


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


def setup(log_format: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def event(name: str, level: int = logging.INFO, **fields: object) -> None:
    LOGGER.log(level, name, extra={"fields": fields})


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
