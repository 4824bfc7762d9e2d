"""A new effect type must be handled wherever effects are dispatched, or the type check fails:
a copy of the package gets one more member of the ``Effect`` union, and ``mypy --strict`` must
point at the ``assert_never`` of every dispatcher (the driver that executes effects on the host,
and the simulator's link). The same holds for the sync-group rules' actions (the agent's
sync groups and the simulator's)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISPATCHERS = {"vipguard/agent/driver.py", "vipguard/sim.py"}


def flagged_dispatchers(tmp_path: Path, module: str, union: str, added: str) -> set[str]:
    """The files whose ``assert_never`` mypy flags once ``added`` joins ``union`` in
    ``module``, in a copy of the package."""
    shutil.copytree(ROOT / "vipguard", tmp_path / "vipguard")
    target = tmp_path / "vipguard" / module
    text = target.read_text()
    assert f"\n{union}" in text
    name = re.search(r"class (\w+)", added)
    assert name
    target.write_text(text.replace(f"\n{union}", f"\n{added}\n\n{union}{name[1]} | ", 1))
    argv = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
    run = subprocess.run(
        [*argv, "vipguard"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 1, run.stdout
    return set(re.findall(r'^(\S+?):\d+: error: Argument 1 to "assert_never"', run.stdout, re.M))


def test_an_effect_nobody_handles_fails_the_type_check_at_every_dispatcher(tmp_path: Path) -> None:
    added = "@dataclass(frozen=True, slots=True)\nclass Unhandled:\n    pass\n"
    assert flagged_dispatchers(tmp_path, "proto/effects.py", "Effect = (\n    ", added) == (
        DISPATCHERS
    )


def test_a_sync_action_nobody_handles_fails_the_type_check_where_actions_apply(
    tmp_path: Path,
) -> None:
    added = "@dataclass(frozen=True, slots=True)\nclass Unhandled:\n    member: int\n"
    flagged = flagged_dispatchers(tmp_path, "rules/sync_group.py", "SyncAction = ", added)
    assert flagged == {"vipguard/agent/sync.py", "vipguard/sim.py"}
