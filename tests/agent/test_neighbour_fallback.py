"""Neighbour suppression when nftables is not there: the agent says so and what it costs, and
serves on (the namespace tests cover the working path on the real kernel)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vipguard.agent import logs
from vipguard.agent import neighbours as neighbours_module
from vipguard.agent.neighbours import open_suppression
from vipguard.io.nftables import Nftables, NftablesError


def test_a_missing_library_names_the_package_to_install(tmp_path: Path) -> None:
    not_a_library = tmp_path / "libnftables.so.1"
    not_a_library.write_text("not a shared object\n")
    with pytest.raises(NftablesError, match=r"install nftables \(apt-get install nftables\)"):
        Nftables(str(not_a_library))


def test_without_nftables_the_agent_logs_what_it_loses_and_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "libnftables.so.1")
    monkeypatch.setattr(neighbours_module, "Nftables", lambda: Nftables(missing))
    logs.LOGGER.propagate = True
    with caplog.at_level(logging.INFO, logger="vipguard"):
        assert open_suppression() is None
    found = [r for r in caplog.records if r.getMessage() == "neighbour_suppression_unavailable"]
    record = found[0]  # (a logger left propagating by another test may deliver it twice)
    fields = record.fields  # type: ignore[attr-defined]
    assert record.levelno == logging.WARNING
    assert "apt-get install nftables" in fields["error"]
    assert fields["effect"].startswith("handovers go on")
