"""A new effect type must be handled wherever effects are dispatched, or the type check fails:
a copy of the package gets one more member of the ``Effect`` union, and ``mypy --strict`` must
point at the ``assert_never`` of every dispatcher (the driver that executes effects on the host,
and the simulator's link)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DISPATCHERS = {"vipguard/agent/driver.py", "vipguard/sim.py"}


def test_an_effect_nobody_handles_fails_the_type_check_at_every_dispatcher(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "vipguard", tmp_path / "vipguard")
    effects = tmp_path / "vipguard/proto/effects.py"
    text = effects.read_text()
    assert "\nEffect = (\n" in text
    added = "@dataclass(frozen=True, slots=True)\nclass Unhandled:\n    pass\n\n\n"
    effects.write_text(
        text.replace("\nEffect = (\n", f"\n{added}Effect = (\n    Unhandled\n    | ")
    )
    argv = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
    run = subprocess.run(
        [*argv, "vipguard"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    flagged = set(re.findall(r'^(\S+?):\d+: error: Argument 1 to "assert_never"', run.stdout, re.M))
    assert flagged == DISPATCHERS, run.stdout
    assert run.returncode == 1
