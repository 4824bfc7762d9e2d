"""An authenticated pair started the documented way: the key in the config directory as
`make install` lays it out (root:vipguard 0750), the key root:vipguard 0640, and the unit's own
ExecStartPre (check-config) and ExecStart (run) executed as the unit's user under its sandbox
(emulated as in test_sandbox.py; nobody/nogroup stand for vipguard/vipguard)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
from agents import Cluster, web
from test_sandbox import unit_sandbox

pytestmark = pytest.mark.netns_timeout(60)

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "vipguard.service"
INSTALLED_COMMAND, INSTALLED_CONFIG = "/usr/local/bin/vipguard", "/etc/vipguard/vipguard.toml"
SERVICE_GROUP = 65534  # nogroup, the group of the sandbox's user
KEY = "hex:" + bytes(range(100, 132)).hex()


def unit_command(directive: str, config: Path) -> list[str]:
    """The unit's ``directive`` line, with this checkout's agent and ``config`` in place of the
    installed paths."""
    line = next(x for x in UNIT.read_text().splitlines() if x.startswith(f"{directive}="))
    argv = shlex.split(line.split("=", 1)[1])
    assert argv[0] == INSTALLED_COMMAND and INSTALLED_CONFIG in argv, line
    rest = [str(config) if word == INSTALLED_CONFIG else word for word in argv[1:]]
    return [sys.executable, "-m", "vipguard", *rest]


def config_directory(cluster: Cluster, key_group: int, key_mode: int) -> Path:
    directory = cluster.workdir / "etc-vipguard"
    directory.mkdir(mode=0o750)
    os.chown(directory, 0, SERVICE_GROUP)
    key = directory / "web.key"
    key.write_text(KEY + "\n")
    os.chown(key, 0, key_group)
    key.chmod(key_mode)
    return directory


def authenticated(priority: int, key: Path) -> dict[str, object]:
    return web(priority, auth={"keys": [{"id": 1, "secret_file": str(key)}], "active_key": 1})


def test_the_units_user_checks_and_runs_an_authenticated_agent_with_a_root_group_0640_key(
    cluster: Cluster,
) -> None:
    os.chmod(cluster.workdir, 0o777)  # the unit's user writes its socket and state there
    key = config_directory(cluster, SERVICE_GROUP, 0o640) / "web.key"
    lb1 = cluster.agent("lb1", [authenticated(150, key)], unit_sandbox(cluster.workdir))
    check_config = [sys.executable, "-m", "vipguard", "check-config", str(lb1.config)]
    check = cluster.topology.popen("lb1", unit_sandbox(cluster.workdir) + check_config)
    assert check.wait(30) == 0, check.stderr()
    assert "OK (1 instance: web@eth0 vrid 51)" in check.stdout()
    assert unit_command("ExecStart", lb1.config) == lb1.argv()[-6:]
    lb1.start().wait_state("master", timeout=5)
    lb2 = cluster.agent("lb2", [authenticated(100, key)]).start()  # root, beside it
    lb2.wait_state("backup", timeout=5)
    lb2.wait_following("192.0.2.11")  # enforce mode: lb1's adverts carry a tag lb2 verified
    assert lb1.stop() == 0
    lb2.wait_state("master", timeout=2)


def test_a_key_only_root_can_read_stops_the_unit_with_status_2_and_the_fix(
    cluster: Cluster,
) -> None:
    """Status 2 is the unit's RestartPreventExitStatus: systemd does not retry a bad file."""
    os.chmod(cluster.workdir, 0o777)
    key = config_directory(cluster, 0, 0o600) / "web.key"
    lb1 = cluster.agent("lb1", [authenticated(150, key)], unit_sandbox(cluster.workdir))
    check = cluster.topology.popen(
        "lb1", unit_sandbox(cluster.workdir) + unit_command("ExecStart", lb1.config)
    )
    assert check.wait(30) == 2
    assert (
        f"cannot read {key}: permission denied to user 'nobody'; let its group read it:"
        f" chown root:nogroup {key} && chmod 0640 {key}"
    ) in check.stderr()
