"""The whole configuration: one frozen value with a field per section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from .agent import AgentSettings
from .instances import InstanceConfig
from .reader import Problem
from .sections import Section
from .sync_groups import SyncGroup
from .trackers import TrackerConfig

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    agent: AgentSettings
    instances: tuple[InstanceConfig, ...]
    trackers: tuple[TrackerConfig, ...] = ()
    sync_groups: tuple[SyncGroup, ...] = ()
    # About the file's text, not the configuration: two files that mean the same compare equal.
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    # (key, value) of the registered sections that have no attribute above.
    sections: tuple[tuple[str, object], ...] = ()

    def section(self, section: Section[T, Any]) -> T:
        """The value of ``section``, one of the sections the file was read with."""
        if section.attribute is not None:
            return cast(T, getattr(self, section.attribute))
        for key, value in self.sections:
            if key == section.key:
                return cast(T, value)
        raise LookupError(f"the configuration was read without the section {section.key!r}")

    def tracker(self, name: str) -> TrackerConfig:
        return next(tracker for tracker in self.trackers if tracker.name == name)

    def sync_group_of(self, instance: str) -> SyncGroup | None:
        return next((g for g in self.sync_groups if instance in g.instances), None)

    def summary(self) -> str:
        """``2 instances: web@eth0 vrid 51, api@eth0 vrid 52``"""
        count = len(self.instances)
        routers = ", ".join(f"{i.name}@{i.interface} vrid {i.vrid}" for i in self.instances)
        return f"{count} instance{'' if count == 1 else 's'}: {routers}"
