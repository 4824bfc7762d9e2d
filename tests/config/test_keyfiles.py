"""Key files: root:vipguard 0640 is read by root's check-config and by the unit's user alike;
anything more open, or owned by someone else, is refused with the command that fixes it."""

from __future__ import annotations

import grp
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from prerequisites import need, need_root

from vipguard import keyfiles
from vipguard.config import parse
from vipguard.keyfiles import check_key_file, read_key_file, service_user_problem

ROOT = Path(__file__).resolve().parents[2]
KEY = "hex:" + bytes(range(32)).hex()
NOBODY, NOGROUP = 65534, 65534


def stat_of(uid: int, mode: int, kind: int = stat.S_IFREG) -> os.stat_result:
    return os.stat_result((kind | mode, 0, 0, 1, uid, 0, 64, 0, 0, 0))


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o440, 0o400])
def test_a_root_owned_key_may_be_read_by_its_group(mode: int) -> None:
    check_key_file(Path("/etc/vipguard/web.key"), stat_of(0, mode))


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        (0o660, "writable by its group"),
        (0o644, "open to others"),
        (0o650, "executable by its group"),
    ],
)
def test_a_root_owned_key_open_to_more_is_refused(mode: int, why: str) -> None:
    path = Path("/etc/vipguard/web.key")
    with pytest.raises(ValueError) as raised:
        check_key_file(path, stat_of(0, mode))
    assert str(raised.value) == (
        f"{path} is {why} (mode {mode:04o}); a root-owned key may be read by its group only:"
        f" run chmod 0640 {path}"
    )


def test_a_key_of_the_reading_user_must_be_0600(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    path = Path("/home/op/web.key")
    check_key_file(path, stat_of(1000, 0o600))
    with pytest.raises(ValueError, match=re.escape(f"(mode 0640); run: chmod 600 {path}")):
        check_key_file(path, stat_of(1000, 0o640))


def test_a_key_of_another_user_or_not_a_file_is_refused() -> None:
    path = Path("/etc/vipguard/web.key")
    with pytest.raises(ValueError) as raised:
        check_key_file(path, stat_of(NOBODY, 0o600))
    assert str(raised.value) == (
        f"{path} is owned by uid {NOBODY}; it must be owned by root:"
        f" chown root:vipguard {path} && chmod 0640 {path}"
    )
    with pytest.raises(ValueError, match="is not a regular file"):
        check_key_file(path, stat_of(0, 0o600, stat.S_IFIFO))


def test_the_service_user_is_the_units() -> None:
    unit = (ROOT / "systemd" / "vipguard.service").read_text()
    assert f"\nUser={keyfiles.SERVICE_USER}\n" in unit
    assert f"\nGroup={keyfiles.SERVICE_USER}\n" in unit


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory every user can enter (pytest's own tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="vipguard-keys-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def key_dir(parent: Path, group: int) -> Path:
    """/etc/vipguard as `make install` makes it: root, the service group, 0750."""
    directory = parent / "etc-vipguard"
    directory.mkdir(mode=0o750)
    os.chown(directory, 0, group)
    return directory


def write_key(directory: Path, group: int, mode: int) -> Path:
    key = directory / "web.key"
    key.write_text(KEY + "\n")
    os.chown(key, 0, group)
    key.chmod(mode)
    return key


def test_root_is_told_when_the_service_user_could_not_read_the_key(
    open_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_root()
    monkeypatch.setattr(keyfiles, "SERVICE_USER", "nobody")
    directory = key_dir(open_tmp, NOGROUP)
    key = write_key(directory, 0, 0o600)
    fix = f"chown root:nogroup {key} && chmod 0640 {key}"
    assert service_user_problem(key) == (
        f"user 'nobody' (the systemd unit's User=) cannot read {key}, so the unit's check-config"
        f" and agent will refuse it: {fix}"
    )
    os.chown(directory, 0, 0)
    problem = service_user_problem(write_key(directory, NOGROUP, 0o640))
    assert problem is not None and f"cannot enter {directory}," in problem
    os.chown(directory, 0, NOGROUP)
    assert service_user_problem(key) is None
    monkeypatch.setattr(keyfiles, "SERVICE_USER", "no-such-user-here")
    key.chmod(0o600)
    assert service_user_problem(key) is None  # the agent is run as root on such a host


def test_the_warning_reaches_check_config_output(
    open_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_root()
    monkeypatch.setattr(keyfiles, "SERVICE_USER", "nobody")
    key = write_key(key_dir(open_tmp, NOGROUP), 0, 0o600)
    config = parse(config_text(key))
    assert [(w.key, w.line) for w in config.warnings] == [
        ("instance[0].auth.keys[0].secret_file", 7)
    ]
    assert read_key_file(key) == KEY


def config_text(key: Path) -> str:
    return (
        '[[instance]]\nname = "web"\ninterface = "eth0"\nvrid = 51\nvips = ["192.0.2.100/24"]\n'
        f'[instance.auth]\nkeys = [{{ id = 1, secret_file = "{key}" }}]\nactive_key = 1\n'
    )


def check_config_as_nobody(config: Path) -> subprocess.CompletedProcess[str]:
    setpriv = need("setpriv", "util-linux")
    command = [setpriv, f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups"]
    return subprocess.run(
        [*command, sys.executable, "-m", "vipguard", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_service_user_reads_a_root_group_0640_key_and_is_told_the_fix_for_0600(
    open_tmp: Path,
) -> None:
    need_root()
    directory = key_dir(open_tmp, NOGROUP)
    key = write_key(directory, NOGROUP, 0o640)
    config = directory / "vipguard.toml"
    config.write_text(config_text(key))
    config.chmod(0o640)
    os.chown(config, 0, NOGROUP)
    readable = check_config_as_nobody(config)
    assert readable.returncode == 0, readable.stderr
    assert "OK (1 instance" in readable.stdout
    key.chmod(0o600)
    os.chown(key, 0, 0)
    refused = check_config_as_nobody(config)
    assert refused.returncode == 2
    assert (
        f"cannot read {key}: permission denied to user 'nobody'; let its group read it:"
        f" chown root:nogroup {key} && chmod 0640 {key}"
    ) in refused.stderr
    assert grp.getgrgid(NOGROUP).gr_name == "nogroup"
