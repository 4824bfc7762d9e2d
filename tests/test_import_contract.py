"""The import-direction check really rejects I/O in the protocol core."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_imports  # noqa: E402


def test_the_tree_respects_the_layers() -> None:
    assert check_imports.check(ROOT) == []


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
    ],
)
def test_io_in_the_core_is_reported(tmp_path: Path, line: str) -> None:
    shutil.copytree(ROOT / "vipguard", tmp_path / "vipguard")
    target = tmp_path / "vipguard" / "proto" / "timers.py"
    target.write_text(target.read_text() + f"\n{line}\n")
    problems = check_imports.check(tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("vipguard/proto/timers.py:")


def test_relative_imports_resolve_to_the_package(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "vipguard", tmp_path / "vipguard")
    target = tmp_path / "vipguard" / "sim.py"
    target.write_text(target.read_text() + "\nfrom .cli import main\n")
    assert any("vipguard.cli" in p for p in check_imports.check(tmp_path))
