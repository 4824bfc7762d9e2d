"""The README says what the Makefile does: the Debian packages it installs and the targets that
`make help` lists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"


def make_variable(name: str) -> str:
    """The value make itself gives ``name`` (whatever `=`, `:=` or `+=` lines build it)."""
    result = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            "--no-print-directory",
            "--eval",
            f"print-variable: ; @echo $({name})",
            "print-variable",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_readme_lists_exactly_the_debian_packages_the_makefile_installs() -> None:
    listed = re.findall(r"Debian packages\s+`([^`]+)`", README.read_text())
    assert len(listed) == 1, listed
    assert listed[0].split() == make_variable("DEB_PACKAGES").split()


def make_targets() -> tuple[set[str], set[str]]:
    """(the .PHONY targets, every target with a plain name) of the Makefile."""
    text = MAKEFILE.read_text().replace("\\\n", " ")
    phony = {t for line in re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE) for t in line.split()}
    named = set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", text, re.MULTILINE))
    return phony, named


def make_help() -> str:
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--no-print-directory", "help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_every_named_target_is_phony() -> None:
    phony, named = make_targets()
    assert named - phony == set()


def test_make_help_lists_every_phony_target() -> None:
    phony, _ = make_targets()
    listed = re.findall(r"^make (\S+)", make_help(), re.MULTILINE)
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == sorted(phony)


def test_make_help_says_lint_type_checks_the_whole_package() -> None:
    (lint,) = [line for line in make_help().splitlines() if line.startswith("make lint ")]
    assert "mypy --strict vipguard" in lint
    assert "mypy --strict vipguard" in MAKEFILE.read_text()  # what the target really runs


def test_the_readme_never_pip_installs_into_debians_system_python() -> None:
    """Debian 12 refuses it (externally managed environment): a venv's pip, or make install."""
    bare = re.findall(r"^\s*(?:sudo\s+)?pip3?\s+install.*$", README.read_text(), re.MULTILINE)
    assert bare == []
    assert "python3 -m venv /opt/vipguard && /opt/vipguard/bin/pip install ." in README.read_text()
