"""Reading effective capabilities, and the start-up check for script trackers run as a user."""

from __future__ import annotations

import os
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
