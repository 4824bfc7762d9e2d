"""Where a key path stands in the file: tomllib gives values but no line numbers, so the raw
text is scanned once for the line of every key path ("instance[1].auth.keys[0].id")."""

from __future__ import annotations

import contextlib
import re
from bisect import bisect_left


class _ScanError(Exception):
    pass


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}#\n]*")


class LineIndex:
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
