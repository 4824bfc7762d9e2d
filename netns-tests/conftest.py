"""Namespace-test fixtures: a fresh :class:`Topology` per test, a :class:`Prober`, prerequisites.

Without root, ``ip`` or ``nft`` these tests skip, except under CI (``CI=true``) where they fail and
say what to install: a CI run must not pass by skipping its network layer.

Usage::

    def test_failover(topology: Topology, probe: Prober) -> None:
        probe.serve("lb1", "lb2")                       # UDP responders answering with their name
        topology.ip("lb1", "addr", "add", "192.0.2.100/24", "dev", "eth0")
        run = probe.start("192.0.2.100")                # from "client", 250 Hz, bounded
        run.wait_for("lb1", answers=50, timeout=3)
        topology.nft("lb1", vrrp_drop_ruleset())        # or link_down, partition, SIGSTOP ...
        run.wait_for("lb2", answers=50, timeout=5)
        report = run.stop()
        assert report.hosts == ("lb1", "lb2") and report.gap < 1.5
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType

import pytest
from agents import Cluster
from netns import Topology, wait_until
from probe import Prober

__all__ = ["missing_prerequisites", "wait_until"]

TOOLS = {"ip": "iproute2", "nft": "nftables", "sysctl": "procps"}
DEFAULT_TIMEOUT = 30.0
"""Hard limit (seconds) for one test's call phase; override with @pytest.mark.netns_timeout(s)."""


def missing_prerequisites() -> list[str]:
    missing = [] if os.geteuid() == 0 else ["root (run the namespace tests as root)"]
    for tool, pkg in TOOLS.items():
        if shutil.which(tool):
            continue
        elsewhere = shutil.which(tool, path="/usr/sbin:/sbin")
        fix = f"add {Path(elsewhere).parent} to PATH" if elsewhere else f"apt-get install -y {pkg}"
        missing.append(f"`{tool}` ({fix})")
    return missing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "netns_timeout(seconds): hard time limit for a netns test")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Bound every test in time with SIGALRM (teardown still runs: it is outside the call phase)."""
    marker = item.get_closest_marker("netns_timeout")
    limit = float(marker.args[0]) if marker else DEFAULT_TIMEOUT

    def on_alarm(_sig: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"test exceeded its {limit:.0f}s limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def netns_prerequisites() -> None:
    """Skip (or, under CI=true, fail) when root, ``ip`` or ``nft`` is missing."""
    missing = missing_prerequisites()
    if missing:
        message = "namespace tests need: " + "; ".join(missing)
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def topology(netns_prerequisites: None, tmp_path: Path) -> Iterator[Topology]:
    """A fresh bridge + lb1/lb2/client topology; everything it created is gone after the test.
    Refuses to build (TopologyError) if a namespace with its tag already exists."""
    topo = Topology(workdir=tmp_path)
    try:
        topo.build()
        yield topo
    finally:
        problems = topo.teardown()  # also when build() or the test failed
    if problems:
        pytest.fail("topology teardown: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def probe(topology: Topology) -> Prober:
    """Responders and probe clients in ``topology`` (stopped with it)."""
    return Prober(topology)


@pytest.fixture
def cluster(topology: Topology) -> Iterator[Cluster]:
    """Writes agent configs into a short directory (unix socket paths are limited to 107 bytes)."""
    workdir = Path(tempfile.mkdtemp(prefix="vga-"))
    try:
        yield Cluster(topology, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
