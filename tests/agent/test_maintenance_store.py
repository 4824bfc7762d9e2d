"""The maintenance mark in the state directory: saved whole, read back, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from vipguard.agent.maintenance import MaintenanceStore, MaintenanceStoreError


def test_round_trip_and_an_absent_file_means_none(tmp_path: Path) -> None:
    store = MaintenanceStore(tmp_path / "state")
    assert store.load() == set()
    store.save({"web", "api"})
    assert store.load() == {"web", "api"}
    assert store.path.read_text() == "api\nweb\n"
    store.save(set())
    assert store.load() == set()


def test_an_unreadable_file_is_an_error_not_a_guess(tmp_path: Path) -> None:
    store = MaintenanceStore(tmp_path)
    store.path.mkdir()  # a directory where the file should be: cannot be read
    with pytest.raises(MaintenanceStoreError, match="fix or remove it"):
        store.load()
    store.path.rmdir()
    store.path.write_bytes(b"\xff\xfe")
    with pytest.raises(MaintenanceStoreError):
        store.load()
