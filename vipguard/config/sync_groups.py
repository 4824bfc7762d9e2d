"""``[[sync_group]]``: instances that change state together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .instances import INSTANCES
from .reader import Table, array_tables, check_unique, describe, read_name, unknown_name, valid
from .sections import Document, Read, Section


@dataclass(frozen=True, slots=True)
class SyncGroup:
    """Instances that share one state: if one must go Backup or Fault, all do."""

    name: str
    instances: tuple[str, ...]


def _read(document: Document) -> Read[tuple[SyncGroup, ...], None]:
    instances = document.read(INSTANCES).facts
    return Read(_sync_groups(document.top, instances), None)


def _sync_groups(top: Table, instances: Sequence[str]) -> tuple[SyncGroup, ...] | None:
    """The sync groups if all are valid; ``instances``: every instance name that was read."""
    array = array_tables(top, "sync_group")
    built: list[SyncGroup] = []
    names: list[tuple[int, str | None]] = []
    members: dict[str, str] = {}  # instance name -> the group that has it
    for index, data in array.tables:
        before = len(top.context.problems)
        table = Table(top.context, f"sync_group[{index}]", data, ("name", "instances"))
        name = read_name(table)
        group_instances = _group_members(table, instances, members)
        named = f"{table.path} ({name!r})" if name else table.path
        members.update(dict.fromkeys(group_instances, named))
        names.append((index, name))
        if len(top.context.problems) == before:
            built.append(SyncGroup(valid(name), group_instances))
    check_unique(top.context, "sync_group", names)
    return array.all_of(built)


def _group_members(
    table: Table, instances: Sequence[str], members: Mapping[str, str]
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
        return f"expected an instance name, got {describe(item)}"
    if item in found:
        return f"{item!r} is listed twice"
    if item not in instances:
        return unknown_name(item, instances, "instance")
    if item in members:
        return f"{item!r} is already in {members[item]}; an instance joins one sync group at most"
    return None


SYNC_GROUPS = Section(
    "sync_group",
    _read,
    hints={"vrrp_sync_group": "use a [[sync_group]] with name = ... and instances = [...]"},
    attribute="sync_groups",
)
