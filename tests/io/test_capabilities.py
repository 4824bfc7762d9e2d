"""Reading effective capabilities, and the start-up check for script trackers run as a user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vipguard.agent import runtime, sandbox
from vipguard.config import parse
from vipguard.io.capabilities import CAP_SETGID, CAP_SETUID, can_switch_user, effective


def test_effective_reads_capeff(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t00000000000000c0\n")
    assert effective(status) == 0xC0
    assert effective(tmp_path / "missing") == 0


def test_switching_user_needs_both_setuid_and_setgid() -> None:
    assert can_switch_user(1 << CAP_SETUID | 1 << CAP_SETGID)
    assert not can_switch_user(1 << CAP_SETUID)
    assert not can_switch_user(0x3000)  # CAP_NET_ADMIN + CAP_NET_RAW: the unit's default


CONFIG = """
[[tracker]]
name = "check"
script = ["/bin/true"]
user = "nobody"

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
vips = ["192.0.2.100/24"]
track = ["check"]
"""


def test_a_script_user_without_the_capabilities_is_a_startup_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = parse(CONFIG)
    monkeypatch.setattr(sandbox, "can_switch_user", lambda: False)
    with pytest.raises(runtime.StartupError, match=r"CAP_SETUID and CAP_SETGID.*remove `user`"):
        runtime._check_sandbox(config)
    monkeypatch.setattr(sandbox, "can_switch_user", lambda: True)
    runtime._check_sandbox(config)


HOOK_AS_ROOT = """
[[instance]]
name = "web"
interface = "eth0"
vrid = 51
vips = ["192.0.2.100/24"]
[instance.notify]
master = { command = ["/bin/true"], user = "root" }
any = ["/bin/true"]
"""


def test_a_hook_user_without_the_capabilities_is_a_startup_error_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = parse(HOOK_AS_ROOT)
    monkeypatch.setattr(os, "geteuid", lambda: 65534)  # the unit's user, not root
    monkeypatch.setattr(sandbox, "can_switch_user", lambda: False)
    with pytest.raises(runtime.StartupError) as refused:
        runtime._check_sandbox(config)
    message = str(refused.value)
    assert "notify hook 'master' of instance 'web' (user root)" in message
    assert "CAP_SETUID CAP_SETGID" in message and "SystemCallFilter=@setuid" in message
    monkeypatch.setattr(sandbox, "can_switch_user", lambda: True)
    runtime._check_sandbox(config)


def test_programs_started_after_withholding_do_not_inherit_setuid_and_setgid() -> None:
    """As under the unit with the drop-in for `user`: CAP_SETUID/CAP_SETGID are ambient, so
    every hook would inherit them (and could make itself root) unless the agent lowers them."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run this test as root (it sets capabilities with setpriv)")
        pytest.skip("needs root to hand capabilities to an unprivileged process")
    caps = "-all,+net_admin,+net_raw,+setuid,+setgid"
    program = (
        "import subprocess\n"
        "from vipguard.io.capabilities import CAP_SETGID, CAP_SETUID, withhold_from_programs\n"
        "def child():\n"
        "    return subprocess.run(['grep', 'CapEff', '/proc/self/status'],"
        " capture_output=True, text=True, check=True).stdout.split()[1]\n"
        "before = child()\n"
        "withhold_from_programs(CAP_SETUID, CAP_SETGID)\n"
        "from vipguard.io.capabilities import effective\n"
        "print(before, child(), effective())\n"
    )
    argv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        f"--inh-caps={caps}",
        f"--ambient-caps={caps}",
        f"--bounding-set={caps}",
        sys.executable,
        "-c",
        program,
    ]
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=30, env={"PYTHONPATH": root}
    )
    before, after, own = done.stdout.split()
    net_caps = 1 << 12 | 1 << 13
    assert int(before, 16) == net_caps | 1 << CAP_SETUID | 1 << CAP_SETGID
    assert int(after, 16) == net_caps  # the child has only the network capabilities
    assert int(own) == net_caps | 1 << CAP_SETUID | 1 << CAP_SETGID  # the agent keeps them
