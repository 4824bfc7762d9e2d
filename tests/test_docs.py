"""The README says what the Makefile does: the Debian packages it installs and the targets that
`make help` lists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


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
