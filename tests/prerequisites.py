"""What a unit test needs from the machine: outside CI a missing part skips the test, under CI
(CI=true) it fails it, since `make test` installs every part and a skip would hide a gap."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("true", "1")


def missing(message: str) -> None:
    """Fail under CI, else skip, saying what is missing and how to get it."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def need(tool: str, package: str) -> str:
    """The path of ``tool``, from the Debian ``package``."""
    path = shutil.which(tool)
    if path is None:
        missing(f"`{tool}` is missing: apt-get install -y {package}")
    assert path is not None
    return path


def need_root() -> None:
    if os.geteuid() != 0:
        missing("this test needs root (it gives files to other users and runs as them)")
