"""The seam where top-level sections plug in.

A section is one top-level key of the file (``[agent]``, ``[[instance]]`` …) with the function
that reads it. ``vipguard.config.SECTIONS`` lists them; that list is the top-level table's valid
keys and the order of the "valid keys here" message. A section that needs what another one found
(instances resolve tracker names, sync groups instance names) asks the :class:`Document` for it,
which reads that section first, once; so sections are read in the order their needs give,
whatever the order of the list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from .reader import Context, Table

T = TypeVar("T")
F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Read(Generic[T, F]):
    """What a section made of the file."""

    value: T | None  # None: the section has problems, all of them reported
    facts: F  # what other sections need of it even when it has problems (names that could be read)


@dataclass(frozen=True, slots=True)
class Section(Generic[T, F]):
    """One top-level key: ``key = "tracker"`` reads the ``[[tracker]]`` tables."""

    key: str
    read: Callable[[Document], Read[T, F]]
    # Other top-level names that mean this section (keepalived's), each with its hint.
    hints: Mapping[str, str] = field(default_factory=dict)
    # The attribute of Config that holds the value; None: Config.section(this section) gives it.
    attribute: str | None = None


class Document:
    """The file's top-level table, read one section at a time."""

    def __init__(
        self, context: Context, data: dict[str, object], sections: Sequence[Section[Any, Any]]
    ) -> None:
        hints = {name: hint for section in sections for name, hint in section.hints.items()}
        self.top = Table(context, "", data, [section.key for section in sections], hints)
        self.sections = tuple(sections)
        self._reads: dict[str, Read[Any, Any]] = {}
        self._reading: list[str] = []

    @property
    def context(self) -> Context:
        return self.top.context

    def read(self, section: Section[T, F]) -> Read[T, F]:
        """What ``section`` found, reading it now if no section asked for it before."""
        if section.key not in self._reads:
            self._read_now(section)
        return cast(Read[T, F], self._reads[section.key])

    def read_all(self) -> list[tuple[Section[Any, Any], Read[Any, Any]]]:
        return [(section, self.read(section)) for section in self.sections]

    def _read_now(self, section: Section[Any, Any]) -> None:
        if section not in self.sections:
            raise LookupError(f"section {section.key!r} is read but not registered")
        if section.key in self._reading:
            cycle = " -> ".join([*self._reading, section.key])
            raise RecursionError(f"sections need each other: {cycle}")
        self._reading.append(section.key)
        try:
            self._reads[section.key] = section.read(self)
        finally:
            self._reading.pop()
