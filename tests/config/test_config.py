"""The configuration model: every example loads, and every rule reports the right key, line and
message, all problems at once."""

from __future__ import annotations

import dataclasses
import textwrap
from fractions import Fraction
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_network
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from vipguard.cli import main
from vipguard.config import (
    AgentSettings,
    AnnounceSettings,
    Config,
    ConfigError,
    Problem,
    Vip,
    _LineIndex,
    load,
    parse,
    parse_duration,
)
from vipguard.proto.auth import AntiReplay, AuthMode, default_time_window
from vipguard.proto.wire import ChecksumPolicy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY_HEX = "hex:" + bytes(range(32)).hex()
INSTANCE = """\
[[instance]]
name = "web"
interface = "eth0"
vrid = 51
vips = ["192.0.2.100/24"]
"""


def config(text: str, path: str | Path = "vipguard.toml") -> Config:
    return parse(textwrap.dedent(text), path)


def problems(text: str, path: str | Path = "vipguard.toml") -> list[Problem]:
    with pytest.raises(ConfigError) as raised:
        parse(textwrap.dedent(text), path)
    return raised.value.problems


def only(text: str, path: str | Path = "vipguard.toml") -> Problem:
    found = problems(text, path)
    assert len(found) == 1, [str(problem) for problem in found]
    return found[0]


def line_starting(text: str, prefix: str) -> int:
    lines = textwrap.dedent(text).splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(prefix))


def line_of(text: str, fragment: str, occurrence: int = 0) -> int:
    """The 1-based line of the ``occurrence``-th line of ``text`` containing ``fragment``."""
    lines = textwrap.dedent(text).splitlines()
    return [number for number, line in enumerate(lines, 1) if fragment in line][occurrence]


LABELLED = '{ address = "192.0.2.100/24", label = "eth0:web" }'
EXPECTED_BOOL = "expected a boolean (true or false)"


def with_instance(extra: str = "", **replace: str) -> str:
    """INSTANCE with lines replaced (key -> whole new line, or "" to drop) and ``extra`` added."""
    lines = []
    for line in INSTANCE.splitlines():
        key = line.partition(" = ")[0]
        lines.append(replace.pop(key, line))
    return "\n".join([*(line for line in lines if line), *replace.values(), extra]) + "\n"


def assert_problem(problem: Problem, key: str, line: int | None, message: str) -> None:
    assert (problem.key, problem.line, problem.message) == (key, line, message)


# --------------------------------------------------------------------------- examples


EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.toml"))
DOCUMENTATION_NETWORKS = {
    4: [ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")],
    6: [ip_network("2001:db8::/32")],
}


def test_the_examples_are_all_there() -> None:
    names = {str(path.relative_to(EXAMPLES)) for path in EXAMPLE_FILES}
    assert names >= {
        "multicast-pair/lb1.toml",
        "multicast-pair/lb2.toml",
        "unicast-pair/lb1.toml",
        "unicast-pair/lb2.toml",
        "ipv6.toml",
        "several-vrids.toml",
        "authenticated.toml",
    }


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_every_example_loads(path: Path) -> None:
    loaded = load(path)
    assert loaded.path == path
    assert loaded.instances
    for instance in loaded.instances:
        addresses = [vip.address for vip in instance.vips] + list(instance.unicast_peers)
        addresses += [instance.unicast_source] if instance.unicast_source else []
        for address in addresses:
            assert any(address in network for network in DOCUMENTATION_NETWORKS[address.version])


def test_the_pairs_are_twins() -> None:
    for pair in ("multicast-pair", "unicast-pair"):
        lb1, lb2 = (load(EXAMPLES / pair / f"{name}.toml").instances[0] for name in ("lb1", "lb2"))
        assert (lb1.vrid, lb1.version, lb1.interval_cs, lb1.vips) == (
            lb2.vrid,
            lb2.version,
            lb2.interval_cs,
            lb2.vips,
        )
        assert lb1.priority > lb2.priority
    lb1, lb2 = (load(EXAMPLES / "unicast-pair" / f"{n}.toml").instances[0] for n in ("lb1", "lb2"))
    assert lb1.unicast_peers == (lb2.unicast_source,)
    assert lb2.unicast_peers == (lb1.unicast_source,)


def test_the_authenticated_example_has_a_key() -> None:
    auth = load(EXAMPLES / "authenticated.toml").instances[0].auth
    assert auth is not None
    assert auth.active_key == 1
    assert auth.secret(1) == bytes(range(32))
    assert (auth.mode, auth.anti_replay, auth.time_window) == (AuthMode.ENFORCE, AntiReplay.TIME, 5)


def test_several_vrids_example() -> None:
    loaded = load(EXAMPLES / "several-vrids.toml")
    web, api, internal, legacy = loaded.instances
    assert web.families() == (4, 6)
    assert [vip.label for vip in web.vips_of(4)] == [None, "eth0:web"]
    assert api.announce == AnnounceSettings(count=10, interval=0.05, refresh=60.0)
    assert (internal.interface, internal.vrid, internal.preempt) == ("eth1", 51, False)
    assert (legacy.version, legacy.interval_cs) == (2, 100)


# --------------------------------------------------------------------------- the model


def test_defaults() -> None:
    loaded = config(INSTANCE)
    assert loaded.agent == AgentSettings(
        Path("/run/vipguard/control.sock"), Path("/var/lib/vipguard"), "text"
    )
    (web,) = loaded.instances
    assert (web.name, web.interface, web.vrid, web.priority, web.version) == (
        "web",
        "eth0",
        51,
        100,
        3,
    )
    assert (web.interval_cs, web.preempt, web.preempt_delay, web.accept) == (100, True, 0.0, False)
    assert web.vips == (Vip(IPv4Interface("192.0.2.100/24"), None),)
    assert (web.unicast_source, web.unicast_peers, web.multicast_group) == (None, (), None)
    assert (web.checksum, web.auth, web.use_vmac) == (ChecksumPolicy.AUTO, None, False)
    assert web.announce == AnnounceSettings(count=5, interval=0.02, refresh=0.0)
    assert loaded.summary() == "1 instance: web@eth0 vrid 51"


BRIEF_SAMPLE = """\
[agent]
control_socket = "/run/vipguard/control.sock"   # two agents on one host (namespaces) use two paths
state_dir = "/var/lib/vipguard"

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
priority = 150              # 1..255
version = 3                 # 2 or 3
advert_interval = "100ms"
preempt = true
preempt_delay = "0s"
vips = ["192.0.2.100/24", "2001:db8::100/64"]
# unicast_source = "192.0.2.11"
# unicast_peers = ["192.0.2.12"]
# checksum = "auto"          # rfc9568 | pseudo-header | auto
"""


def test_a_dual_stack_instance_is_two_routers() -> None:
    (web,) = config(BRIEF_SAMPLE).instances
    assert (web.priority, web.interval_cs) == (150, 10)
    assert web.families() == (4, 6)
    assert web.vips_of(6) == (Vip(IPv6Interface("2001:db8::100/64"), None),)
    v4 = web.router_config(4, IPv4Address("192.0.2.11"))
    v6 = web.router_config(6, IPv6Address("fe80::1"))
    assert v4.vips == (IPv4Interface("192.0.2.100/24"),)
    assert v6.vips == (IPv6Interface("2001:db8::100/64"),)
    assert (v4.vrid, v4.priority, v4.interval_cs, v6.vrid) == (51, 150, 10, 51)


def test_families_are_ordered_ipv4_first() -> None:
    (web,) = config(with_instance(vips='vips = ["2001:db8::1/64", "192.0.2.1/24"]')).instances
    assert web.families() == (4, 6)


def test_per_family_unicast_settings() -> None:
    text = with_instance(
        vips='vips = ["192.0.2.100/24", "2001:db8::100/64"]',
        source='unicast_source = "2001:db8::11"',
        peers='unicast_peers = ["192.0.2.12", "2001:db8::12", "192.0.2.13"]',
    )
    (web,) = config(text).instances
    assert web.peers_of(4) == (IPv4Address("192.0.2.12"), IPv4Address("192.0.2.13"))
    assert web.peers_of(6) == (IPv6Address("2001:db8::12"),)
    assert (web.source_of(4), web.source_of(6)) == (None, IPv6Address("2001:db8::11"))
    assert web.router_config(4, IPv4Address("192.0.2.11")).peers == web.peers_of(4)


def test_the_model_is_frozen() -> None:
    (web,) = config(INSTANCE).instances
    with pytest.raises(dataclasses.FrozenInstanceError):
        web.vrid = 52  # type: ignore[misc]


def test_problem_text() -> None:
    assert str(Problem("vipguard.toml", "instance[0].vrid", 14, "300 is outside 1..255")) == (
        "vipguard.toml:14: instance[0].vrid: 300 is outside 1..255"
    )
    assert str(Problem("vipguard.toml", "instance", None, "missing")) == (
        "vipguard.toml: instance: missing"
    )
    assert str(Problem("a.toml", "", 3, "invalid TOML")) == "a.toml:3: invalid TOML"


# --------------------------------------------------------------------------- durations

LIKE = "'100ms', '1.5s' or '2m'"
DURATION = f"a duration (a number of seconds, or a string like {LIKE})"
BARE_SECONDS = "(or a bare number of seconds, without quotes)"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("100ms", Fraction(1, 10)), ("1s", 1), ("1.5s", Fraction(3, 2)), ("2m", 120), ("1h", 3600),
     (0.1, Fraction(1, 10)), (2, 2), (0, 0), ("0s", 0), ("40.95s", Fraction(4095, 100))],
)  # fmt: skip
def test_durations(value: object, seconds: Fraction) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("100 ms", "'100 ms'? write '100ms'"),
        (" 1s", "' 1s'? write '1s'"),
        ("100", f"'100' has no unit; write '100s' or '100ms' {BARE_SECONDS}"),
        ("100us", "'100us' has the unknown unit 'us'; use ms, s, m or h"),
        ("fast", f"'fast' is not a duration; write a number and a unit, like {LIKE}"),
        ("-1s", "'-1s' is negative; durations are 0 or more"),
        (-2, "-2 is negative; durations are 0 or more"),
        (float("inf"), "inf is not a finite number of seconds"),
        (True, f"expected {DURATION}, got the boolean true"),
    ],
)
def test_bad_durations(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration(value)
    assert str(raised.value) == message


def test_a_bad_duration_in_the_file() -> None:
    text = with_instance(interval='advert_interval = "100 ms"')
    assert_problem(
        only(text),
        "instance[0].advert_interval",
        line_of(text, "100 ms"),
        "'100 ms'? write '100ms'",
    )


# --------------------------------------------------------------------------- syntax, keys, types


def test_a_toml_syntax_error_is_one_problem_with_its_line() -> None:
    text = INSTANCE + "priority = \n"
    problem = only(text)
    assert (problem.key, problem.line) == ("", 6)
    assert problem.message.startswith("invalid TOML: Invalid value")
    assert str(problem).startswith("vipguard.toml:6: invalid TOML: ")


def test_unknown_key_suggests_the_close_one() -> None:
    text = with_instance(priority="priorty = 150")
    assert_problem(
        only(text),
        "instance[0].priorty",
        line_of(text, "priorty"),
        "unknown key 'priorty'; did you mean 'priority'?",
    )


def test_unknown_key_without_a_close_one_lists_the_valid_keys() -> None:
    text = "[agent]\nflavour = 1\n" + INSTANCE
    assert_problem(
        only(text),
        "agent.flavour",
        2,
        "unknown key 'flavour'; valid keys here: control_socket, state_dir, log_format,"
        " realtime_priority, metrics, log_level",
    )


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("virtual_router_id", "did you mean 'vrid'?"),
        ("advert_int", "did you mean 'advert_interval'?"),
        ("vip_labels", f"give the label with its VIP: vips = [{LABELLED}]"),
    ],
)
def test_keepalived_names_get_a_hint(key: str, hint: str) -> None:
    text = with_instance(extra=f"{key} = 1")
    assert_problem(only(text), f"instance[0].{key}", 6, f"unknown key '{key}'; {hint}")


def test_unknown_top_level_table() -> None:
    text = INSTANCE + "[instances]\n"
    assert_problem(only(text), "instances", 6, "unknown key 'instances'; did you mean 'instance'?")


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        (
            'vrid = "51"',
            "vrid",
            "expected an integer, got the string '51' (write 51 without quotes)",
        ),
        ("vrid = true", "vrid", "expected an integer, got the boolean true"),
        ("vrid = 51.0", "vrid", "expected an integer, got the float 51.0"),
        ('preempt = "yes"', "preempt", f"{EXPECTED_BOOL}, got the string 'yes'"),
        (
            'accept = "false"',
            "accept",
            f"{EXPECTED_BOOL}, got the string 'false' (write false without quotes)",
        ),
        ("name = 7", "name", "expected a string, got the integer 7"),
        ('vips = "192.0.2.1/24"', "vips", "expected an array, got the string '192.0.2.1/24'"),
        ("auth = 1", "auth", "expected a table, got the integer 1"),
    ],
)
def test_wrong_types_name_the_expected_type(line: str, key: str, message: str) -> None:
    text = with_instance(**{line.partition(" = ")[0]: line})
    assert_problem(only(text), f"instance[0].{key}", line_of(text, line), message)


def test_a_missing_required_key_points_at_its_table() -> None:
    text = "# header\n" + with_instance(vrid="")
    assert_problem(only(text), "instance[0].vrid", 2, "missing: give an integer 1..255")


def test_no_instance() -> None:
    assert_problem(
        only("[agent]\n"),
        "instance",
        None,
        "no [[instance]] tables: configure at least one virtual router",
    )


def test_a_single_instance_table() -> None:
    text = INSTANCE.replace("[[instance]]", "[instance]")
    assert_problem(
        only(text),
        "instance",
        1,
        "expected [[instance]] tables (double brackets), got a single table",
    )


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ("vrid = 300", "vrid", "300 is outside 1..255 (VRID is 1..255)"),
        ("vrid = 0", "vrid", "0 is outside 1..255 (VRID is 1..255)"),
        ("priority = 0", "priority", "0 is outside 1..255 (255 is the address owner)"),
        ("priority = 256", "priority", "256 is outside 1..255 (255 is the address owner)"),
        ("version = 4", "version", "4 is not 2 or 3 (VRRPv2 is RFC 3768, VRRPv3 RFC 5798)"),
        ("preempt_delay = 1001", "preempt_delay", "1001 is outside 0s..1000s"),
        ('preempt_delay = "17m"', "preempt_delay", "'17m' is outside 0s..1000s"),
    ],
)  # fmt: skip
def test_ranges(line: str, key: str, message: str) -> None:
    text = with_instance(**{line.partition(" = ")[0]: line})
    assert_problem(only(text), f"instance[0].{key}", line_of(text, line), message)


def test_the_brief_example_message() -> None:
    text = "\n" * 8 + with_instance(vrid="vrid = 300")
    assert str(only(text)) == (
        "vipguard.toml:12: instance[0].vrid: 300 is outside 1..255 (VRID is 1..255)"
    )


def test_range_edges_are_valid() -> None:
    text = with_instance(
        vrid="vrid = 255", priority="priority = 255", delay='preempt_delay = "1000s"'
    )
    (web,) = config(text).instances
    assert (web.vrid, web.priority, web.preempt_delay) == (255, 255, 1000.0)


V3_INTERVAL = "advert_interval"


@pytest.mark.parametrize(
    ("value", "centiseconds"),
    [('"10ms"', 1), ('"40.95s"', 4095), ('"1.5s"', 150), ("0.07", 7), ('"100ms"', 10)],
)
def test_v3_intervals(value: str, centiseconds: int) -> None:
    (web,) = config(with_instance(interval=f"advert_interval = {value}")).instances
    assert web.interval_cs == centiseconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"15ms"', "'15ms' is not a multiple of 10ms (VRRPv3 carries centiseconds)"),
        ('"41s"', "'41s' is outside 10ms..40.95s (VRRPv3 carries 1..4095 centiseconds)"),
        ('"0s"', "'0s' is outside 10ms..40.95s (VRRPv3 carries 1..4095 centiseconds)"),
        ("0.005", "0.005 is not a multiple of 10ms (VRRPv3 carries centiseconds)"),
    ],
)
def test_bad_v3_intervals(value: str, message: str) -> None:
    text = with_instance(interval=f"advert_interval = {value}")
    assert_problem(only(text), "instance[0].advert_interval", 6, message)


V2_MESSAGE = (
    "is not a whole number of seconds in 1s..255s "
    "(VRRPv2 carries whole seconds; use version = 3 for shorter intervals)"
)


@pytest.mark.parametrize("value", ['"100ms"', '"1.5s"', '"256s"', "0"])
def test_bad_v2_intervals(value: str) -> None:
    text = with_instance(version="version = 2", interval=f"advert_interval = {value}")
    shown = value.strip('"')
    shown = f"'{shown}'" if value.startswith('"') else shown
    assert_problem(only(text), "instance[0].advert_interval", 7, f"{shown} {V2_MESSAGE}")


def test_v2_intervals_are_whole_seconds() -> None:
    text = with_instance(version="version = 2", interval='advert_interval = "2m"')
    (web,) = config(text).instances
    assert (web.version, web.interval_cs) == (2, 12000)


def test_v2_is_ipv4_only() -> None:
    text = with_instance(version="version = 2", vips='vips = ["192.0.2.1/24", "2001:db8::1/64"]')
    assert_problem(
        only(text),
        "instance[0].vips[1]",
        line_of(text, "vips"),
        "2001:db8::1 is IPv6, but VRRPv2 carries IPv4 only (use version = 3)",
    )


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["", "web one", "web/1", "wéb"])
def test_bad_instance_names(name: str) -> None:
    text = with_instance(name=f'name = "{name}"')
    message = f"{name!r} must be non-empty and made of letters, digits, '_', '.', '-'"
    assert_problem(only(text), "instance[0].name", 2, message)


def test_instance_names_are_unique() -> None:
    text = INSTANCE + with_instance(vrid="vrid = 52", vips='vips = ["192.0.2.101/24"]')
    assert_problem(
        only(text), "instance[1].name", 7, "'web' is already used by instance[0] ('web')"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "'' is 0 characters; interface names are 1..15"),
        ("a" * 16, f"'{'a' * 16}' is 16 characters; interface names are 1..15"),
        ("eth 0", "'eth 0' is not an interface name (no '/', no whitespace)"),
        ("eth/0", "'eth/0' is not an interface name (no '/', no whitespace)"),
        ("eth0:1", "'eth0:1' is not an interface name (':' belongs to address labels)"),
    ],
)
def test_bad_interface_names(name: str, message: str) -> None:
    text = with_instance(interface=f'interface = "{name}"')
    assert_problem(only(text), "instance[0].interface", 3, message)


def test_a_15_character_interface_name_is_fine() -> None:
    text = with_instance(interface='interface = "abcdefghijklmno"')
    assert config(text).instances[0].interface == "abcdefghijklmno"


# --------------------------------------------------------------------------- VIPs


NOT_AN_INTERFACE = (
    "is not an address with prefix length, like '192.0.2.100/24' or '2001:db8::100/64'"
)
TABLE_FORM = "{ address = ..., label = ... }"


def test_vips_are_required() -> None:
    text = with_instance(vips="")
    assert_problem(
        only(text),
        "instance[0].vips",
        1,
        'missing: give an array of addresses with prefix, like ["192.0.2.100/24"]',
    )


def test_vips_must_not_be_empty() -> None:
    text = with_instance(vips="vips = []")
    assert_problem(
        only(text),
        "instance[0].vips",
        5,
        'is empty: list at least one VIP, like ["192.0.2.100/24"]',
    )


@pytest.mark.parametrize(
    ("vip", "message"),
    [
        ('"192.0.2.300/24"', f"'192.0.2.300/24' {NOT_AN_INTERFACE}"),
        ('"192.0.2.1/33"', f"'192.0.2.1/33' {NOT_AN_INTERFACE}"),
        ('"224.0.0.5/32"', "224.0.0.5 is a multicast address; it must be a unicast address"),
        ('"0.0.0.0/0"', "0.0.0.0 is an unspecified address; it must be a unicast address"),
        ('"::1/128"', "::1 is a loopback address; it must be a unicast address"),
        ("5", f"expected an address string or a table {TABLE_FORM}, got the integer 5"),
    ],
)
def test_bad_vips(vip: str, message: str) -> None:
    text = with_instance(vips=f'vips = ["192.0.2.1/24", {vip}]')
    assert_problem(only(text), "instance[0].vips[1]", 5, message)


def test_a_vip_without_prefix_is_a_host_address() -> None:
    text = with_instance(vips='vips = ["192.0.2.1", "2001:db8::1"]')
    vips = config(text).instances[0].vips
    assert [vip.interface for vip in vips] == [
        IPv4Interface("192.0.2.1/32"),
        IPv6Interface("2001:db8::1/128"),
    ]


def test_vips_are_unique_within_an_instance() -> None:
    text = with_instance(vips='vips = ["192.0.2.1/24", "192.0.2.2/24", "192.0.2.1/32"]')
    assert_problem(only(text), "instance[0].vips[2]", 5, "192.0.2.1 is listed twice (also vips[0])")


def test_vips_are_unique_across_instances_on_one_interface() -> None:
    second = with_instance(name='name = "api"', vrid="vrid = 52")
    text = INSTANCE + second
    assert_problem(
        only(text),
        "instance[1].vips[0]",
        10,
        "192.0.2.100 is already a VIP of instance[0] ('web') on eth0",
    )
    other_interface = second.replace('"eth0"', '"eth1"')
    assert len(config(INSTANCE + other_interface).instances) == 2


def test_vip_labels() -> None:
    text = with_instance(
        vips='vips = [{ address = "192.0.2.1/24", label = "eth0:web" }, "192.0.2.2/24"]'
    )
    vips = config(text).instances[0].vips
    assert [(str(vip.interface), vip.label) for vip in vips] == [
        ("192.0.2.1/24", "eth0:web"),
        ("192.0.2.2/24", None),
    ]


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        (
            '{ address = "2001:db8::1/64", label = "eth0:web" }',
            "label",
            "labels are IPv4-only (Linux has no labels on IPv6 addresses)",
        ),
        (
            '{ address = "192.0.2.1/24", label = "eth0:frontend012" }',
            "label",
            "'eth0:frontend012' is 16 characters; the kernel allows at most 15",
        ),
        (
            '{ address = "192.0.2.1/24", label = "eth1:web" }',
            "label",
            "'eth1:web' must start with the interface name 'eth0', like 'eth0:vip'",
        ),
        (
            '{ label = "eth0:web" }',
            "address",
            'missing: give an address with prefix, like "192.0.2.100/24"',
        ),
        (
            '{ address = "192.0.2.1/24", lable = "eth0:web" }',
            "lable",
            "unknown key 'lable'; did you mean 'label'?",
        ),
        (
            '{ address = "192.0.2.1/24", label = 1 }',
            "label",
            "expected a string, got the integer 1",
        ),
    ],
)
def test_bad_vip_tables(entry: str, key: str, message: str) -> None:
    text = with_instance(vips=f"vips = [\n  {entry},\n]")
    assert_problem(only(text), f"instance[0].vips[0].{key}", 6, message)


def test_too_many_vips_for_one_advert() -> None:
    hosts = [f"192.0.2.{n}/24" for n in range(1, 255)] + ["198.51.100.1/24", "198.51.100.2/24"]
    addresses = ", ".join(f'"{host}"' for host in hosts)
    text = with_instance(vips=f"vips = [{addresses}]")
    assert_problem(
        only(text), "instance[0].vips", 5, "has 256 IPv4 VIPs; an advert carries at most 255"
    )


# --------------------------------------------------------------------------- virtual routers


def test_one_router_per_interface_vrid_and_family() -> None:
    second = with_instance(name='name = "api"', vips='vips = ["192.0.2.200/24"]')
    text = INSTANCE + second
    assert_problem(
        only(text),
        "instance[1].vrid",
        9,
        "vrid 51 on eth0 (IPv4) is already used by instance[0] ('web'); "
        "interface, VRID and family make one router",
    )


def test_one_vrid_may_serve_both_families_in_two_instances() -> None:
    second = with_instance(name='name = "web6"', vips='vips = ["2001:db8::1/64"]')
    assert [i.families() for i in config(INSTANCE + second).instances] == [(4,), (6,)]


def test_one_vrid_may_repeat_on_another_interface() -> None:
    second = with_instance(
        name='name = "api"', interface='interface = "eth1"', vips='vips = ["192.0.2.200/24"]'
    )
    assert len(config(INSTANCE + second).instances) == 2


# --------------------------------------------------------------------------- unicast


def test_unicast_source_alone_is_fine() -> None:
    (web,) = config(with_instance(source='unicast_source = "192.0.2.11"')).instances
    assert (web.unicast_source, web.unicast_peers) == (IPv4Address("192.0.2.11"), ())


def test_unicast_peers_alone_are_fine() -> None:
    (web,) = config(with_instance(peers='unicast_peers = ["192.0.2.12"]')).instances
    assert (web.unicast_source, web.unicast_peers) == (None, (IPv4Address("192.0.2.12"),))


@pytest.mark.parametrize(
    ("lines", "key", "message"),
    [
        (
            ['unicast_source = "192.0.2.311"'],
            "unicast_source",
            "'192.0.2.311' is not an IP address",
        ),
        (
            ['unicast_source = "224.0.0.18"'],
            "unicast_source",
            "224.0.0.18 is a multicast address; it must be a unicast address",
        ),
        (['unicast_peers = ["192.0.2.12", "x"]'], "unicast_peers[1]", "'x' is not an IP address"),
        (
            ['unicast_peers = ["192.0.2.12", 7]'],
            "unicast_peers[1]",
            "expected an address string, got the integer 7",
        ),
        (
            ['unicast_source = "192.0.2.11"', 'unicast_peers = ["192.0.2.12", "192.0.2.11"]'],
            "unicast_peers[1]",
            "192.0.2.11 is the unicast_source itself; list only the other hosts",
        ),
        (
            ['unicast_peers = ["192.0.2.12", "192.0.2.12"]'],
            "unicast_peers[1]",
            "192.0.2.12 is listed twice",
        ),
        (
            ['unicast_source = "2001:db8::11"'],
            "unicast_source",
            "2001:db8::11 is IPv6, but this instance has only IPv4 VIPs",
        ),
        (
            ['unicast_peers = ["192.0.2.12", "2001:db8::12"]'],
            "unicast_peers[1]",
            "2001:db8::12 is IPv6, but this instance has only IPv4 VIPs",
        ),
    ],
)
def test_bad_unicast_settings(lines: list[str], key: str, message: str) -> None:
    text = with_instance(extra="\n".join(lines))
    line = line_starting(text, key.partition("[")[0])
    assert_problem(only(text), f"instance[0].{key}", line, message)


def test_every_vip_family_needs_its_own_peers() -> None:
    text = with_instance(
        vips='vips = ["192.0.2.100/24", "2001:db8::100/64"]', peers='unicast_peers = ["192.0.2.12"]'
    )
    assert_problem(
        only(text),
        "instance[0].unicast_peers",
        6,
        "has no IPv6 peer for the IPv6 VIPs: each family's adverts go only to peers of that "
        "family; add IPv6 peers or move these VIPs to an instance of their own",
    )


# --------------------------------------------------------------------------- multicast group


def test_multicast_group_override() -> None:
    text = with_instance(
        vips='vips = ["192.0.2.100/24", "2001:db8::100/64"]', group='multicast_group = "ff02::1:12"'
    )
    (web,) = config(text).instances
    assert (web.group_of(4), web.group_of(6)) == (None, IPv6Address("ff02::1:12"))
    assert web.router_config(6, IPv6Address("fe80::1")).group == IPv6Address("ff02::1:12")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['multicast_group = "192.0.2.18"'], "192.0.2.18 is not a multicast address"),
        (
            ['multicast_group = "ff02::12"'],
            "ff02::12 is IPv6, but this instance has only IPv4 VIPs",
        ),
        (['multicast_group = "all-routers"'], "'all-routers' is not an IP address"),
        (
            ['unicast_peers = ["192.0.2.12"]', 'multicast_group = "224.0.0.18"'],
            "is unused: IPv4 adverts go to unicast_peers; remove one of the two",
        ),
    ],
)
def test_bad_multicast_groups(lines: list[str], message: str) -> None:
    text = with_instance(extra="\n".join(lines))
    assert_problem(
        only(text), "instance[0].multicast_group", line_of(text, "multicast_group"), message
    )


# --------------------------------------------------------------------------- checksum, flags


@pytest.mark.parametrize("policy", list(ChecksumPolicy))
def test_checksum_policies(policy: ChecksumPolicy) -> None:
    text = with_instance(checksum=f'checksum = "{policy.value}"')
    assert config(text).instances[0].checksum is policy


def test_checksum_is_accepted_where_it_does_not_apply() -> None:
    text = with_instance(
        version="version = 2", interval="advert_interval = 1", checksum='checksum = "rfc9568"'
    )
    assert config(text).instances[0].checksum is ChecksumPolicy.RFC9568


def test_bad_checksum() -> None:
    text = with_instance(checksum='checksum = "rfc-9568"')
    assert_problem(
        only(text),
        "instance[0].checksum",
        6,
        "'rfc-9568' is not one of rfc9568, pseudo-header, auto; did you mean 'rfc9568'?",
    )


def test_flags() -> None:
    text = with_instance(accept="accept = true", preempt="preempt = false", vmac="use_vmac = true")
    (web,) = config(text).instances
    assert (web.accept, web.preempt, web.use_vmac) == (True, False, True)


# --------------------------------------------------------------------------- announce


def test_announce_settings() -> None:
    text = INSTANCE + '[instance.announce]\ncount = 3\ninterval = "0ms"\nrefresh = "1s"\n'
    assert config(text).instances[0].announce == AnnounceSettings(3, 0.0, 1.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("count = 0", "0 is outside 1..100 (announcements per VIP)"),
        ("count = 101", "101 is outside 1..100 (announcements per VIP)"),
        ('interval = "1.5s"', "'1.5s' is outside 0s..1s"),
        ('refresh = "500ms"', "'500ms' is too often; write 0 (off) or at least '1s'"),
        ("refresh = 0.5", "0.5 is too often; write 0 (off) or at least '1s'"),
        ("cout = 3", "unknown key 'cout'; did you mean 'count'?"),
    ],
)
def test_bad_announce_settings(line: str, message: str) -> None:
    text = INSTANCE + "[instance.announce]\n" + line + "\n"
    key = line.partition(" = ")[0]
    assert_problem(only(text), f"instance[0].announce.{key}", 7, message)


def test_announce_as_an_inline_table() -> None:
    text = with_instance(extra="announce = { count = 0 }")
    assert_problem(
        only(text), "instance[0].announce.count", 6, "0 is outside 1..100 (announcements per VIP)"
    )


# --------------------------------------------------------------------------- authentication


GOOD_KEYS = f'keys = [{{ id = 1, secret = "{KEY_HEX}" }}]'
ACTIVE = "active_key = 1"
DUPLICATE_IDS = GOOD_KEYS[:-1] + ", " + GOOD_KEYS[len("keys = [") :]
KEYS_LIKE = '[{ id = 1, secret = "hex:…" }]'
KEY_SIZES = (
    "keys are 32..64 bytes (64..128 digits after 'hex:'); make one with: openssl rand -hex 32"
)
EXACTLY_ONE = "give exactly one of secret or secret_file"
WINDOW = "is not a whole number of seconds in 1..300"


def auth_text(*lines: str, instance: str = INSTANCE) -> str:
    return instance + "[instance.auth]\n" + "\n".join(lines) + "\n"


def test_auth_with_an_inline_hex_key() -> None:
    text = auth_text(f'keys = [{{ id = 7, secret = "{KEY_HEX}" }}]', "active_key = 7")
    auth = config(text).instances[0].auth
    assert auth is not None
    assert (auth.active_key, auth.secret(7)) == (7, bytes(range(32)))
    assert (auth.mode, auth.anti_replay) == (AuthMode.ENFORCE, AntiReplay.TIME)
    assert auth.time_window == default_time_window(100) == 5


def test_auth_settings_and_a_raw_ascii_key() -> None:
    secret = "correct horse battery staple 0123456789"
    text = auth_text(
        f'keys = [{{ id = 1, secret = "{KEY_HEX}" }}, {{ id = 2, secret = "{secret}" }}]',
        "active_key = 2",
        'mode = "receive-only"',
        'anti_replay = "monotonic"',
        'time_window = "2m"',
    )
    auth = config(text).instances[0].auth
    assert auth is not None
    assert auth.secret(2) == secret.encode()
    assert (auth.mode, auth.anti_replay, auth.time_window) == (
        AuthMode.RECEIVE_ONLY,
        AntiReplay.MONOTONIC,
        120,
    )


def test_the_default_time_window_follows_the_interval() -> None:
    instance = with_instance(interval='advert_interval = "20s"')
    text = auth_text(
        f'keys = [{{ id = 1, secret = "{KEY_HEX}" }}]', "active_key = 1", instance=instance
    )
    auth = config(text).instances[0].auth
    assert auth is not None
    assert auth.time_window == default_time_window(2000) == 60


@pytest.mark.parametrize(
    ("lines", "key", "message"),
    [
        ([GOOD_KEYS], "active_key", "missing: give an integer 1..255"),
        ([GOOD_KEYS, "active_key = 2"], "active_key", "2 names no key (key ids: 1)"),
        (["active_key = 1"], "keys", f"missing: give an array of keys, like {KEYS_LIKE}"),
        (["keys = []", ACTIVE], "keys", f"is empty: give at least one key, like {KEYS_LIKE}"),
        (
            ['keys = [{ id = 1, secret = "hex:0g" }]', ACTIVE],
            "keys[0].secret",
            "'hex:' must be followed by pairs of hex digits",
        ),
        (
            ['keys = [{ id = 1, secret = "hex:0011" }]', ACTIVE],
            "keys[0].secret",
            f"the key is 2 bytes; {KEY_SIZES}",
        ),
        (
            ['keys = [{ id = 1, secret = "' + "x" * 65 + '" }]', ACTIVE],
            "keys[0].secret",
            f"the key is 65 bytes; {KEY_SIZES}",
        ),
        (
            ['keys = [{ id = 1, secret = "' + "é" * 32 + '" }]', ACTIVE],
            "keys[0].secret",
            "a raw secret must be ASCII; write other bytes as hex:<digits>",
        ),
        (["keys = [{ id = 1 }]", ACTIVE], "keys[0].secret", EXACTLY_ONE),
        (
            [f'keys = [{{ id = 1, secret = "{KEY_HEX}", secret_file = "/k" }}]', ACTIVE],
            "keys[0].secret",
            EXACTLY_ONE,
        ),
        (
            [f'keys = [{{ id = 0, secret = "{KEY_HEX}" }}]', ACTIVE],
            "keys[0].id",
            "0 is outside 1..255 (key ids are 1..255)",
        ),
        (
            [DUPLICATE_IDS, ACTIVE],
            "keys[1].id",
            "key id 1 is listed twice",
        ),
        (
            [GOOD_KEYS, ACTIVE, 'mode = "strict"'],
            "mode",
            "'strict' is not one of receive-only, permissive, enforce",
        ),
        (
            [GOOD_KEYS, ACTIVE, 'anti_replay = "clock"'],
            "anti_replay",
            "'clock' is not one of time, monotonic",
        ),
        ([GOOD_KEYS, ACTIVE, "time_window = 0"], "time_window", f"0 {WINDOW}"),
        ([GOOD_KEYS, ACTIVE, "time_window = 301"], "time_window", f"301 {WINDOW}"),
        ([GOOD_KEYS, ACTIVE, 'time_window = "1.5s"'], "time_window", f"'1.5s' {WINDOW}"),
        ([GOOD_KEYS, ACTIVE, "key = 1"], "key", "unknown key 'key'; did you mean 'keys'?"),
    ],
)
def test_bad_auth(lines: list[str], key: str, message: str) -> None:
    text = auth_text(*lines)
    # A missing key is placed at its table's header: [instance.auth] is on line 6.
    missing = message.startswith("missing")
    expected_line = (
        6 if missing else line_starting(text, key.partition("[")[0].partition(".")[0] + " =")
    )
    assert_problem(only(text), f"instance[0].auth.{key}", expected_line, message)


def test_auth_messages_never_show_the_secret() -> None:
    secret = "too-short-but-secret"
    text = auth_text(f'keys = [{{ id = 1, secret = "{secret}" }}]', "active_key = 1")
    assert secret not in str(only(text))


def write_key(path: Path, content: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(content)
    path.chmod(mode)
    return path


def key_file_text(path: str | Path) -> str:
    return auth_text(f'keys = [{{ id = 1, secret_file = "{path}" }}]', "active_key = 1")


@pytest.mark.parametrize(
    "content", [KEY_HEX.encode() + b"\n", KEY_HEX.encode() + b"\r\n", KEY_HEX.encode()]
)
def test_a_secret_file(tmp_path: Path, content: bytes) -> None:
    key = write_key(tmp_path / "web.key", content)
    auth = config(key_file_text(key)).instances[0].auth
    assert auth is not None
    assert auth.secret(1) == bytes(range(32))


def test_a_raw_secret_file_keeps_inner_whitespace(tmp_path: Path) -> None:
    secret = b"a passphrase of thirty-two bytes "
    key = write_key(tmp_path / "web.key", secret + b"\n")
    auth = config(key_file_text(key)).instances[0].auth
    assert auth is not None
    assert auth.secret(1) == secret


def test_a_relative_secret_file_is_next_to_the_config(tmp_path: Path) -> None:
    write_key(tmp_path / "web.key", KEY_HEX.encode())
    config_file = tmp_path / "vipguard.toml"
    config_file.write_text(key_file_text("web.key"))
    auth = load(config_file).instances[0].auth
    assert auth is not None
    assert auth.secret(1) == bytes(range(32))


def test_a_secret_file_open_to_others_is_refused_at_its_line(tmp_path: Path) -> None:
    key = write_key(tmp_path / "web.key", KEY_HEX.encode(), 0o644)
    problem = only(key_file_text(key))
    assert problem.key == "instance[0].auth.keys[0].secret_file"
    assert problem.line == 7
    assert problem.message.startswith(f"{key} is open to ")


def test_secret_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    assert only(key_file_text(missing)).message == (
        f"cannot read {missing}: No such file or directory"
    )
    assert only(key_file_text(tmp_path)).message == f"{tmp_path} is not a regular file"
    short = write_key(tmp_path / "short.key", b"hex:0011\n")
    assert only(key_file_text(short)).message.startswith("the key is 2 bytes")
    binary = write_key(tmp_path / "binary.key", bytes(range(128, 192)))
    assert only(key_file_text(binary)).message == (
        f"{binary} is not ASCII; write the key as hex:<digits>"
    )


# --------------------------------------------------------------------------- agent


ABSOLUTE_SOCKET = "write an absolute path (like '/run/vipguard/control.sock')"


def test_agent_settings() -> None:
    text = (
        '[agent]\ncontrol_socket = "/run/ns1/vipguard.sock"\nstate_dir = "/var/lib/ns1"\n'
        'log_format = "json"\n' + INSTANCE
    )
    assert config(text).agent == AgentSettings(
        Path("/run/ns1/vipguard.sock"), Path("/var/lib/ns1"), "json"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('control_socket = "vipguard.sock"', f"'vipguard.sock' is relative; {ABSOLUTE_SOCKET}"),
        ('control_socket = "/' + "s" * 107 + '"', "is 108 bytes; a socket path is at most 107"),
        (
            'state_dir = "state"',
            "'state' is relative; write an absolute path (like '/var/lib/vipguard')",
        ),
        ('log_format = "jsno"', "'jsno' is not one of text, json; did you mean 'json'?"),
        ("log_format = 1", "expected a string, got the integer 1"),
    ],
)
def test_bad_agent_settings(line: str, message: str) -> None:
    text = "[agent]\n" + line + "\n" + INSTANCE
    assert_problem(only(text), f"agent.{line.partition(' = ')[0]}", 2, message)


# --------------------------------------------------------------------------- many at once, lines


MANY = """\
# two instances with a problem on almost every line
[agent]
log_format = "yaml"

[[instance]]
name = "web"
interface = "eth0"
vrid = 300
priority = 0
advert_interval = "15ms"
vips = [
    "192.0.2.100/24",
    "not-an-address",
    { address = "192.0.2.101/24", label = "eth1:web" },
]
unicast_peers = ["192.0.2.12", "192.0.2.12"]

[instance.announce]
count = 0

[[instance]]
name = "web"
interface = "eth0"
vrid = 52
vips = ["192.0.2.100/24"]

[instance.auth]
keys = [
    { id = 1, secret = "hex:0011" },
]
active_key = 2
"""


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    found = problems(MANY)
    assert [(problem.line, problem.key) for problem in found] == [
        (3, "agent.log_format"),
        (8, "instance[0].vrid"),
        (9, "instance[0].priority"),
        (10, "instance[0].advert_interval"),
        (13, "instance[0].vips[1]"),
        (14, "instance[0].vips[2].label"),
        (16, "instance[0].unicast_peers[1]"),
        (19, "instance[0].announce.count"),
        (22, "instance[1].name"),
        (25, "instance[1].vips[0]"),
        (29, "instance[1].auth.keys[0].secret"),
        (31, "instance[1].auth.active_key"),
    ]
    assert all(problem.file == "vipguard.toml" for problem in found)


def test_lines_inside_multi_line_arrays_and_arrays_of_tables() -> None:
    text = (
        INSTANCE
        + INSTANCE.replace('"web"', '"api"').replace("51", "52").replace(".100", ".200")
        + "[instance.auth]\nactive_key = 1\n"
        + "# [[instance.auth.keys]] in a comment does not count\n"
        + f'[[instance.auth.keys]]\nid = 1\nsecret = "{KEY_HEX}"\n'
        + '[[instance.auth.keys]]\nid = 2\nsecret = "hex:00"\n'
    )
    assert_problem(
        only(text),
        "instance[1].auth.keys[1].secret",
        19,
        "the key is 1 byte; keys are 32..64 bytes (64..128 digits after 'hex:'); "
        "make one with: openssl rand -hex 32",
    )


def test_lines_survive_strings_that_look_like_toml() -> None:
    text = (
        '[agent]\nstate_dir = "/var/lib/a # [[instance]] = ["\n'
        "control_socket = '''\nrun/x\n[[instance]]\nvrid = 1'''\n" + with_instance(vrid="vrid = 0")
    )
    found = problems(text)
    assert [(problem.key, problem.line) for problem in found] == [
        ("agent.control_socket", 3),
        ("instance[0].vrid", 10),
    ]


def test_dotted_keys_have_lines() -> None:
    text = with_instance(extra="announce.count = 0")
    assert_problem(
        only(text), "instance[0].announce.count", 6, "0 is outside 1..100 (announcements per VIP)"
    )


# --------------------------------------------------------------------------- load


def test_load_reports_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert [str(problem) for problem in raised.value.problems] == [
        f"{path}: cannot read: No such file or directory"
    ]


def test_load_reports_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"# caf\xe9\n" + INSTANCE.encode())
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert [problem.message for problem in raised.value.problems] == [
        "not UTF-8 text (byte 5); TOML files are UTF-8"
    ]


def test_problems_name_the_file_as_given(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(with_instance(vrid="vrid = 0"))
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert str(raised.value) == f"{path}:4: instance[0].vrid: 0 is outside 1..255 (VRID is 1..255)"


# --------------------------------------------------------------------------- check-config


def test_check_config_ok(tmp_path: Path) -> None:
    path = tmp_path / "vipguard.toml"
    path.write_text(
        INSTANCE
        + with_instance(name='name = "api"', vrid="vrid = 52", vips='vips = ["192.0.2.7/24"]')
    )
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: OK (2 instances: web@eth0 vrid 51, api@eth0 vrid 52)\n"
    assert result.stderr == ""


def test_check_config_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "vipguard.toml"
    path.write_text(MANY)
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 12
    assert lines[1] == f"{path}:8: instance[0].vrid: 300 is outside 1..255 (VRID is 1..255)"


def test_check_config_on_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check-config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "cannot read: No such file or directory" in result.stderr


def test_check_config_defaults_to_the_system_file() -> None:
    result = CliRunner().invoke(main, ["check-config", "--help"])
    assert result.exit_code == 0
    assert "/etc/vipguard/vipguard.toml" in result.stdout


ODD_BUT_VALID = '''\
# unusual but valid TOML: the line scanner must keep its place
[ agent ]
"state_dir" = """
/var/lib/x\\"""\\
"""
log_format = \'\'\'text\'\'\'
[[ instance ]]
name = "web"
nested = [[1, 2], [3, [4, 5]], { a = { b = [1] } }]
interface = "eth0"
vrid = 0
vips = [ # comment ]
  "192.0.2.1/24", # another
  { address = "192.0.2.2/24", label = "eth0:x" } ,
  'nope' ]
[ instance . "announce" ]
count = 0
'''


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lines_in_unusual_toml(newline: str) -> None:
    found = problems(ODD_BUT_VALID.replace("\n", newline))
    assert [(problem.line, problem.key) for problem in found] == [
        (9, "instance[0].nested"),
        (11, "instance[0].vrid"),
        (15, "instance[0].vips[2]"),
        (17, "instance[0].announce.count"),
    ]


@given(st.text(alphabet="[]{}=\"'#., \nabc123", max_size=80))
def test_the_line_scanner_never_fails_or_hangs(text: str) -> None:
    lines = _LineIndex(text)
    assert all(line >= 1 for line in lines.lines.values())
    assert lines.find("instance[0].vrid") is None or lines.find("instance[0].vrid") >= 1


def test_an_instance_that_is_not_a_table() -> None:
    text = "instance = [1]\n"
    assert_problem(only(text), "instance[0]", 1, "expected a table, got the integer 1")


def test_realtime_priority_is_off_by_default_and_bounded() -> None:
    base = '[[instance]]\nname = "web"\ninterface = "eth0"\nvrid = 51\nvips = ["192.0.2.100/24"]\n'
    assert parse(base).agent.realtime_priority == 0
    assert parse("[agent]\nrealtime_priority = 50\n" + base).agent.realtime_priority == 50
    with pytest.raises(ConfigError) as caught:
        parse("[agent]\nrealtime_priority = 100\n" + base)
    (problem,) = caught.value.problems
    assert (problem.key, problem.line) == ("agent.realtime_priority", 2)
    assert "100 is outside 0..99" in problem.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [('"127.0.0.1:9650"', ("127.0.0.1", 9650)), ('"[::1]:9100"', ("::1", 9100)), ('""', None)],
)
def test_metrics_address(value: str, expected: object) -> None:
    base = '[[instance]]\nname = "web"\ninterface = "eth0"\nvrid = 51\nvips = ["192.0.2.100/24"]\n'
    assert parse(f"[agent]\nmetrics = {value}\n" + base).agent.metrics == expected
    assert parse(base).agent.metrics == ("127.0.0.1", 9650)


@pytest.mark.parametrize(
    "value", ['"localhost:9650"', '"127.0.0.1"', '"127.0.0.1:0"', '"::1:9650"']
)
def test_a_bad_metrics_address_is_refused(value: str) -> None:
    base = '[[instance]]\nname = "web"\ninterface = "eth0"\nvrid = 51\nvips = ["192.0.2.100/24"]\n'
    with pytest.raises(ConfigError) as caught:
        parse(f"[agent]\nmetrics = {value}\n" + base)
    (problem,) = caught.value.problems
    assert problem.key == "agent.metrics" and "address:port" in problem.message
