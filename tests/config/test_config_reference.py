"""The configuration reference (and so vipguard.toml(5)) documents exactly the keys that the
readers accept, section by section: a key added to a reader without its documentation, or
documented but not read, fails here. The readers' own word is the "valid keys here" list they
give for an unknown key."""

from __future__ import annotations

import re

import pytest

from vipguard.config import ConfigError, parse
from vipguard.config.reference import EXAMPLE, sections

TRACKER = '[[tracker]]\nname = "proxy"\ntcp = "127.0.0.1:80"\n{tracker}\n'
UNKNOWN = "zz_not_a_key"
ODD = f"{UNKNOWN} = 1"


def instance(body: str = "", vip: str = '"192.0.2.1/24"', track: str = "") -> str:
    head = '[[instance]]\nname = "web"\ninterface = "eth0"\nvrid = 51\n'
    return f"{head}vips = [{vip}]\ntrack = [{track}]\n{body}\n"


# Where an unknown key lands in each section of the reference.
PLACES = {
    "agent": f"[agent]\n{ODD}\n",
    "instance": instance(ODD),
    "instance.vips[]": instance(vip=f'{{ address = "192.0.2.1/24", {ODD} }}'),
    "instance.announce": instance(f"[instance.announce]\n{ODD}"),
    "instance.auth": instance(f"[instance.auth]\n{ODD}"),
    "instance.auth.keys[]": instance(f"[instance.auth]\nkeys = [{{ id = 1, {ODD} }}]"),
    "instance.track[]": TRACKER.format(tracker="")
    + instance(track=f'{{ tracker = "proxy", {ODD} }}'),
    "instance.notify": instance(f"[instance.notify]\n{ODD}"),
    "instance.notify.*": instance(
        f'[instance.notify]\nmaster = {{ command = "/bin/true", {ODD} }}'
    ),
    "tracker": TRACKER.format(tracker=ODD),
    "sync_group": f'[[sync_group]]\nname = "both"\n{ODD}\n',
}


def accepted_keys(text: str) -> set[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    messages = [problem.message for problem in caught.value.problems]
    found = [m for m in messages if f"unknown key '{UNKNOWN}'" in m]
    assert len(found) == 1, messages
    listed = re.search(r"valid keys here: (.*)$", found[0])
    assert listed, found[0]
    return set(listed.group(1).split(", "))


@pytest.mark.parametrize("section", sections(), ids=lambda section: section.path)
def test_the_reference_documents_exactly_the_keys_the_reader_accepts(section: object) -> None:
    from vipguard.config.reference import Section

    assert isinstance(section, Section)
    assert accepted_keys(PLACES[section.path]) == set(section.names())


def test_every_section_of_the_reference_is_probed() -> None:
    assert sorted(PLACES) == sorted(section.path for section in sections())


def test_every_key_is_documented_with_a_kind_and_a_sentence() -> None:
    for section in sections():
        assert section.doc.endswith("."), section.path
        for key in section.keys:
            assert key.kind and key.doc.endswith("."), (section.path, key.name)


def test_the_example_in_the_manual_is_a_valid_file() -> None:
    config = parse(EXAMPLE)
    assert [instance.name for instance in config.instances] == ["web"]
