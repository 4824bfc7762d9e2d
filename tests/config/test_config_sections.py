"""The seam for top-level sections: a section defined here, in the test, is registered by adding
it to the list that parse() reads with, and then read like the built-in ones (its problems with
file, line and key path, its need of another section's names, its value in the Config)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from test_config import INSTANCE

from vipguard.config import (
    SECTIONS,
    Config,
    ConfigError,
    Document,
    Read,
    Section,
    parse,
)
from vipguard.config.agent import AGENT
from vipguard.config.instances import INSTANCES
from vipguard.config.reader import Table, array_tables, read_name, unknown_name, valid

VALID_KEYS = "valid keys here: agent, instance, tracker, sync_group"


@dataclass(frozen=True, slots=True)
class Pool:
    """A throwaway section: a named pool that follows one instance."""

    name: str
    instance: str


def read_pools(document: Document) -> Read[tuple[Pool, ...], None]:
    instances = document.read(INSTANCES).facts  # the instance names that could be read
    array = array_tables(document.top, "pool")
    pools = [read_pool(document, index, data, instances) for index, data in array.tables]
    return Read(array.all_of([pool for pool in pools if pool is not None]), None)


def read_pool(
    document: Document, index: int, data: dict[str, object], instances: Sequence[str]
) -> Pool | None:
    table = Table(document.context, f"pool[{index}]", data, ("name", "instance"))
    name = read_name(table)
    instance = table.need("instance", str, "the name of an [[instance]]")
    if instance is not None and instance not in instances:
        table.report("instance", unknown_name(instance, instances, "instance"))
        return None
    return None if name is None or instance is None else Pool(valid(name), instance)


POOLS = Section("pool", read_pools, hints={"virtual_server": "use a [[pool]]"})
WITH_POOLS = (*SECTIONS, POOLS)


def problems(text: str, sections: Sequence[Section[object, object]]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(textwrap.dedent(text), "vipguard.toml", sections)
    return [str(problem) for problem in raised.value.problems]


def test_a_registered_section_is_read_into_the_config() -> None:
    text = INSTANCE + '[[pool]]\nname = "web-backends"\ninstance = "web"\n'
    config = parse(text, "vipguard.toml", WITH_POOLS)
    assert config.section(POOLS) == (Pool("web-backends", "web"),)
    assert config.section(AGENT) is config.agent  # built-in sections have attributes of their own
    assert config.instances[0].name == "web"


def test_without_the_registration_the_key_is_unknown_as_before() -> None:
    text = INSTANCE + '[pool]\nname = "web-backends"\ninstance = "web"\n'
    assert problems(text, SECTIONS) == [f"vipguard.toml:6: pool: unknown key 'pool'; {VALID_KEYS}"]


def test_a_registered_section_joins_the_valid_keys_and_brings_its_hints() -> None:
    text = INSTANCE + "[virtual_server]\n[flavour]\n"
    assert problems(text, WITH_POOLS) == [
        "vipguard.toml:6: virtual_server: unknown key 'virtual_server'; use a [[pool]]",
        f"vipguard.toml:7: flavour: unknown key 'flavour'; {VALID_KEYS}, pool",
    ]


def test_a_registered_section_reports_with_lines_and_key_paths() -> None:
    text = INSTANCE + '[[pool]]\nname = "web backends"\ninstance = "wbe"\n[[pool]]\nname = "b"\n'
    assert problems(text, WITH_POOLS) == [
        "vipguard.toml:7: pool[0].name: 'web backends' must be non-empty and made of letters,"
        " digits, '_', '.', '-'",
        "vipguard.toml:8: pool[0].instance: 'wbe' names no [[instance]]; did you mean 'web'?"
        " (instances: web)",
        "vipguard.toml:9: pool[1].instance: missing: give the name of an [[instance]]",
    ]


def test_a_section_registered_before_the_one_it_needs_still_reads_after_it() -> None:
    """The instance problem comes first although POOLS is listed first: the document reads
    the instances when the pools ask for their names."""
    text = '[[pool]]\nname = "p"\ninstance = "web"\n' + INSTANCE.replace("51", "0")
    found = problems(text, (POOLS, *SECTIONS))
    assert found == ["vipguard.toml:7: instance[0].vrid: 0 is outside 1..255 (VRID is 1..255)"]


def test_a_config_read_without_a_section_says_so() -> None:
    config: Config = parse(INSTANCE)
    with pytest.raises(LookupError, match="without the section 'pool'"):
        config.section(POOLS)


def test_a_section_that_needs_an_unregistered_one_is_a_programming_error() -> None:
    lonely = (AGENT, POOLS)  # POOLS reads INSTANCES, which is not in the list
    with pytest.raises(LookupError, match="section 'instance' is read but not registered"):
        parse(INSTANCE, "vipguard.toml", lonely)


def test_sections_that_need_each_other_are_a_programming_error() -> None:
    def needs_b(document: Document) -> Read[None, None]:
        document.read(second)
        return Read(None, None)

    def needs_a(document: Document) -> Read[None, None]:
        document.read(first)
        return Read(None, None)

    first, second = Section("a", needs_b), Section("b", needs_a)
    with pytest.raises(RecursionError, match="sections need each other: a -> b -> a"):
        parse(INSTANCE, "vipguard.toml", (first, second))
