"""The two test trees are collected in one pytest run (`make test`), which imports test modules
by basename (no __init__.py anywhere): a file name used twice, in either tree or any of their
subdirectories, stops the whole run at collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREES = ("tests", "netns-tests")


def test_no_module_name_is_used_twice_in_the_test_trees() -> None:
    names = Counter(path.name for tree in TREES for path in (ROOT / tree).rglob("*.py"))
    shared = sorted(name for name, count in names.items() if count > 1 and name != "conftest.py")
    assert shared == [], f"rename one of each: {shared}"
