"""The import-direction check really rejects I/O in the pure packages (the protocol core and the
decision rules above it)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import check_imports  # noqa: E402


def test_the_tree_respects_the_layers() -> None:
    assert check_imports.check(ROOT) == []


PURE_MODULES = ["proto/timers.py", "rules/sync_group.py", "rules/checks.py"]


def problems_after_adding(tmp_path: Path, module: str, line: str) -> list[str]:
    """The check's findings on a copy of the package where ``module`` also has ``line``."""
    shutil.copytree(ROOT / "vipguard", tmp_path / "vipguard")
    target = tmp_path / "vipguard" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return check_imports.check(tmp_path)


@pytest.mark.parametrize("module", PURE_MODULES)
@pytest.mark.parametrize(
    "line",
    [
        "import socket",
        "import time",
        "from os import path",
        "import pyroute2",
        "from vipguard.agent import runtime",
        "import logging",
        "import asyncio",
        "from vipguard.io import clock",
        "from vipguard import config",
    ],
)
def test_io_in_a_pure_package_is_reported(tmp_path: Path, module: str, line: str) -> None:
    problems = problems_after_adding(tmp_path, module, line)
    assert len(problems) == 1
    assert problems[0].startswith(f"vipguard/{module}:")


def test_the_rules_may_use_the_core_but_not_the_other_way_round(tmp_path: Path) -> None:
    assert problems_after_adding(tmp_path, "rules/checks.py", "from ..proto import timers") == []
    problems = problems_after_adding(
        tmp_path / "up", "proto/timers.py", "from ..rules import checks"
    )
    assert len(problems) == 1
    assert "of vipguard it may import only vipguard.proto" in problems[0]


def test_relative_imports_resolve_to_the_package(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "vipguard", tmp_path / "vipguard")
    target = tmp_path / "vipguard" / "sim.py"
    target.write_text(target.read_text() + "\nfrom .cli import main\n")
    assert any("vipguard.cli" in p for p in check_imports.check(tmp_path))
