"""`make demo` keeps working: its story runs end to end, every outage stays within its bound and
the make-before-break handovers lose no probe."""

from __future__ import annotations

import pytest
from demo import main


@pytest.mark.netns_timeout(90)
def test_demo_runs_and_every_outage_is_within_its_bound(
    netns_prerequisites: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main() == 0
    out = capsys.readouterr().out
    verdicts = [line for line in out.splitlines() if "outage" in line and "bound" in line]
    assert len(verdicts) == 2, out
    assert all("within the bound" in line for line in verdicts), "\n".join(verdicts)
    handovers = [line for line in out.splitlines() if "handover:" in line]
    assert len(handovers) == 2, out
    assert all("lossless as promised" in line for line in handovers), "\n".join(handovers)
    assert "teardown problem" not in out
