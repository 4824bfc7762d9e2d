"""What `vipguard check-config` says about every example and about a corpus of broken files,
byte for byte: exit status, stdout and stderr (every problem, its line and key path).

The corpus (tests/config/config_corpus/*.toml) collects the bad inputs of the config tests,
several per file. The expected answers in tests/config/config_corpus/expected/ were recorded
before the configuration moved from one module into the package vipguard/config/, so this test
holds the refactor to the same messages and the same line numbers. When a message changes on
purpose, rewrite them with
``.venv/bin/python tests/config/test_config_golden.py --write`` and review the diff.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from vipguard.cli import main

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "config_corpus"
EXPECTED = CORPUS / "expected"
# (directory to run in, the file as given on the command line): paths stay relative, so the
# recorded messages do not depend on where the repository is checked out.
CASES = [(ROOT, path.relative_to(ROOT)) for path in sorted((ROOT / "examples").rglob("*.toml"))]
CASES += [(CORPUS, path.relative_to(CORPUS)) for path in sorted(CORPUS.glob("*.toml"))]
CASES += [(CORPUS, Path("absent.toml"))]  # no such file


def expected_path(file: Path) -> Path:
    return EXPECTED / file.with_suffix(".txt")


@contextmanager
def working_directory(directory: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def check_config(directory: Path, file: Path) -> str:
    with working_directory(directory):
        result = CliRunner().invoke(main, ["check-config", str(file)])
    return f"exit {result.exit_code}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


def test_the_corpus_is_all_there() -> None:
    broken = [file for directory, file in CASES if directory == CORPUS]
    assert len(broken) >= 30
    recorded = {path.relative_to(EXPECTED) for path in EXPECTED.rglob("*.txt")}
    assert recorded == {expected_path(file).relative_to(EXPECTED) for _, file in CASES}


@pytest.mark.parametrize(("directory", "file"), CASES, ids=[str(file) for _, file in CASES])
def test_check_config_says_exactly_what_it_said(directory: Path, file: Path) -> None:
    assert check_config(directory, file) == expected_path(file).read_text()


def write() -> None:
    for directory, file in CASES:
        target = expected_path(file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(check_config(directory, file))


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(
            "usage: tests/config/test_config_golden.py --write (records what check-config says now)"
        )
    write()
