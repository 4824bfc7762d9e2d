"""Configuration warnings on the real agent: a reload that brings one logs it and shows it in
`vipguard reload`, and applies the file all the same."""

from __future__ import annotations

import pytest
from agents import Cluster, web
from netns import Topology, wait_until

pytestmark = pytest.mark.netns_timeout(30)


def test_a_reload_with_a_warning_logs_it_shows_it_and_applies(
    cluster: Cluster, topology: Topology
) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master")
    assert "config_warning" not in lb1.log()
    lb1.rewrite([web(150), web(150, name="api", vrid=52, vips=["192.0.2.101"])])
    status, output = lb1.reload()
    assert status == 0, output
    lines = lb1.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "192.0.2.101" in text)
    warning = (
        f"{lb1.config}:{line}: warning: instance[1].vips[0]: '192.0.2.101' has no prefix length,"
        " so it is bound as 192.0.2.101/32"
    )
    assert warning in output and "added    api" in output
    wait_until(lambda: warning in lb1.log(), 2, what="config_warning in the log")
    assert "level=warning event=config_warning" in lb1.log()
    lb1.wait_state("master", "api", timeout=2)
    held = [a for a in topology.addresses("lb1") if a.address == "192.0.2.101"]
    assert [a.prefixlen for a in held] == [32]
