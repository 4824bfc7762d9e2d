"""Warnings: a configuration that is valid but probably not what was meant still loads, and says
so with the same file:line and key path as a problem. `check-config` shows them and exits 0;
`vipguard run` logs them at start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from vipguard.cli import main
from vipguard.config import Config, Problem, load, parse

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOM = "\ufeff"


def instance(vips: str) -> str:
    return textwrap.dedent(f"""\
        [[instance]]
        name = "web"
        interface = "eth0"
        vrid = 51
        vips = [{vips}]
        """)


def warnings(text: str) -> list[tuple[str, int | None, str]]:
    config = parse(text)
    assert all(warning.warning for warning in config.warnings)
    return [(warning.key, warning.line, warning.message) for warning in config.warnings]


def test_a_vip_without_prefix_is_a_host_address_with_a_warning() -> None:
    config = parse(instance('"192.0.2.1", "2001:db8::1", "192.0.2.2/32"'))
    assert [str(vip.interface) for vip in config.instances[0].vips] == [
        "192.0.2.1/32",
        "2001:db8::1/128",
        "192.0.2.2/32",
    ]
    assert [(w.key, w.line, w.message) for w in config.warnings] == [
        (
            "instance[0].vips[0]",
            5,
            "'192.0.2.1' has no prefix length, so it is bound as 192.0.2.1/32: write"
            " '192.0.2.1/32' if a host address is meant, else its subnet's prefix, like"
            " '192.0.2.1/24'",
        ),
        (
            "instance[0].vips[1]",
            5,
            "'2001:db8::1' has no prefix length, so it is bound as 2001:db8::1/128: write"
            " '2001:db8::1/128' if a host address is meant, else its subnet's prefix, like"
            " '2001:db8::1/64'",
        ),
    ]


@pytest.mark.parametrize(
    ("vip", "message"),
    [
        (
            "192.0.2.0/24",
            "192.0.2.0 is the network address of 192.0.2.0/24, which hosts do not send to"
            " as one host; pick a host address of 192.0.2.0/24, or write the VIP's real prefix",
        ),
        (
            "192.0.2.255/24",
            "192.0.2.255 is the broadcast address of 192.0.2.0/24: hosts send to it as a"
            " broadcast, not to the VIP's owner; pick a host address of 192.0.2.0/24, or write"
            " the VIP's real prefix",
        ),
        (
            "198.51.100.64/26",
            "198.51.100.64 is the network address of 198.51.100.64/26, which hosts do not send"
            " to as one host; pick a host address of 198.51.100.64/26, or write the VIP's real"
            " prefix",
        ),
        (
            "2001:db8:1::/64",
            "2001:db8:1:: is the Subnet-Router anycast address of 2001:db8:1::/64 (RFC 4291),"
            " which every router on the link answers; pick a host address of"
            " 2001:db8:1::/64, or write the VIP's real prefix",
        ),
    ],
)
def test_a_vip_that_is_its_network_or_broadcast_address_warns(vip: str, message: str) -> None:
    assert warnings(instance(f'"192.0.2.100/24", "{vip}"')) == [("instance[0].vips[1]", 5, message)]


@pytest.mark.parametrize(
    "vip", ["192.0.2.1/24", "192.0.2.254/24", "192.0.2.0/31", "192.0.2.1/31", "2001:db8::1/64"]
)
def test_host_addresses_and_point_to_point_prefixes_do_not_warn(vip: str) -> None:
    assert warnings(instance(f'"{vip}"')) == []


@pytest.mark.parametrize(("address", "shown"), [("0.0.0.0:9650", "0.0.0.0"), ("[::]:9100", "::")])
def test_a_metrics_listener_on_every_address_warns(address: str, shown: str) -> None:
    text = f'[agent]\nmetrics = "{address}"\n' + instance('"192.0.2.100/24"')
    config = parse(text)
    assert config.agent.metrics is not None and config.agent.metrics[0] == shown
    (warning,) = config.warnings
    assert (warning.key, warning.line) == ("agent.metrics", 2)
    assert warning.message == (
        f"{address!r} listens on every address of this host: whoever reaches it reads the"
        " instances, states and priorities; bind the address Prometheus scrapes, like"
        " '192.0.2.11:9650', or '127.0.0.1:9650' for this host only"
    )


@pytest.mark.parametrize("address", ["127.0.0.1:9650", "[::1]:9650", "192.0.2.11:9650"])
def test_a_metrics_listener_on_one_address_does_not_warn(address: str) -> None:
    assert warnings(f'[agent]\nmetrics = "{address}"\n' + instance('"192.0.2.100/24"')) == []


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.toml")), ids=lambda p: p.name)
def test_the_examples_give_no_warning(path: Path) -> None:
    assert load(path).warnings == ()


def test_a_warning_reads_like_a_problem_with_its_severity() -> None:
    warning = Problem("/etc/vipguard/vipguard.toml", "agent.metrics", 2, "listens", warning=True)
    assert str(warning) == "/etc/vipguard/vipguard.toml:2: warning: agent.metrics: listens"


def test_warnings_do_not_make_two_configs_differ() -> None:
    """Reload compares models; a warning is about the text, not the running configuration."""
    with_warning = parse(instance('"192.0.2.0/24"'))
    assert with_warning == Config(with_warning.path, with_warning.agent, with_warning.instances)


# --------------------------------------------------------------------------- byte order mark


def test_a_utf8_byte_order_mark_is_ignored_with_a_warning_saying_how_to_remove_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "vipguard.toml"
    path.write_bytes(b"\xef\xbb\xbf" + instance('"192.0.2.100/24"').encode())
    config = load(path)
    assert config.instances[0].name == "web"
    assert [str(warning) for warning in config.warnings] == [
        f"{path}:1: warning: the file starts with a UTF-8 byte order mark (the bytes EF BB BF"
        " that some Windows editors add), which TOML does not allow; it was ignored. Remove it:"
        f" sed -i '1s/^\\xEF\\xBB\\xBF//' {path}"
    ]
    command = config.warnings[0].message.partition("Remove it: ")[2]
    subprocess.run(command, shell=True, check=True, timeout=30)
    assert path.read_bytes() == instance('"192.0.2.100/24"').encode()
    assert load(path).warnings == ()


def test_lines_after_a_byte_order_mark_are_still_right() -> None:
    from vipguard.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        parse(BOM + instance('"192.0.2.100/24"').replace("vrid = 51", "vrid = 0"))
    (problem,) = raised.value.problems
    assert (problem.key, problem.line) == ("instance[0].vrid", 4)


# --------------------------------------------------------------------------- where they show


def test_check_config_shows_warnings_on_stderr_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "vipguard.toml"
    path.write_text('[agent]\nmetrics = "0.0.0.0:9650"\n' + instance('"192.0.2.1"'))
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: OK (1 instance: web@eth0 vrid 51)\n"
    lines = result.stderr.splitlines()
    assert [line.split(": ")[:3] for line in lines] == [
        [f"{path}:2", "warning", "agent.metrics"],
        [f"{path}:7", "warning", "instance[0].vips[0]"],
    ]


def test_run_logs_the_warnings_at_start(tmp_path: Path) -> None:
    """The agent logs them before anything else (here it then stops: no such interface)."""
    path = tmp_path / "vipguard.toml"
    agent = f'[agent]\ncontrol_socket = "{tmp_path}/c.sock"\nstate_dir = "{tmp_path}/state"\n'
    text = agent + 'metrics = ""\n' + instance('"192.0.2.1"').replace("eth0", "vgnosuch0")
    path.write_text(text)
    run = subprocess.run(
        [sys.executable, "-m", "vipguard", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = run.stderr.splitlines()
    assert run.returncode == 1, run.stderr
    assert lines[0].startswith("level=warning event=config_warning warning=")
    assert f"{path}:9: warning: instance[0].vips[0]: '192.0.2.1' has no prefix" in lines[0]
    assert "startup_failed" in run.stderr
