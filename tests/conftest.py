"""Shared by every unit test under tests/: the fixtures many tests ask for, and the helpers'
import path.

The test files live in directories that mirror the package's layers (proto/, rules/, config/,
io/, agent/, sim/, cli/, project/), while the helpers they share (routerkit.py, kernel_fake.py,
driver_fake.py, pcap.py, prerequisites.py) stay here. pytest's default "prepend" import mode
puts the directory of this rootdir-level conftest on sys.path before any test module is
imported, so ``from routerkit import ...`` works from every subdirectory, whether the whole tree
runs or a single file does.
"""

from __future__ import annotations

import pytest
from kernel_fake import FakeKernel
from routerkit import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """The protocol core's clock at fake time 0, stepped by hand (``clock.advance(1.0)``)."""
    return FakeClock()


@pytest.fixture
def kernel() -> FakeKernel:
    """An empty in-memory kernel; add links with ``kernel.netlink.add_link(...)``."""
    return FakeKernel()
