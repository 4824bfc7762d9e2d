"""Saved sequence high-water marks: a restarted agent never signs below what it sent before.

Saves ride on the signed adverts themselves (no timer wakes an idle agent for them): at most one
per SAVE_EVERY per router, and what a crash loses since the last save is within the margin that
loading adds."""

from __future__ import annotations

from pathlib import Path

import pytest

from vipguard.agent.sequences import MARGIN_SECONDS, SequenceStore
from vipguard.proto.auth import AntiReplay, SequenceGenerator

EPOCH_NS = 1_767_225_600 * 1_000_000_000


def sender(store: SequenceStore, name: str) -> SequenceGenerator:
    return SequenceGenerator(AntiReplay.MONOTONIC, 5, last_sent=store.load(name))


def test_signed_adverts_are_saved_at_most_once_per_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SequenceStore(tmp_path)
    writes: list[int] = []
    real_save = store.save
    monkeypatch.setattr(
        store, "save", lambda name, sequence: (writes.append(sequence), real_save(name, sequence))
    )
    sequences = sender(store, "web")
    for n in range(600):  # 60 s of 100 ms adverts
        now = n * 0.1
        store.save_if_due("web", sequences.next(EPOCH_NS + round(now * 1e9)), now)
    assert 6 <= len(writes) <= 7  # the first advert, then one per SAVE_EVERY
    assert writes == sorted(writes)


@pytest.mark.parametrize("crash_after", [0.05, 9.95, 10.05, 59.95])
def test_a_crash_never_restarts_the_sequence_below_what_was_sent(
    tmp_path: Path, crash_after: float
) -> None:
    store = SequenceStore(tmp_path)
    sequences = sender(store, "web")
    sent = []
    now = 0.0
    while now <= crash_after:
        sent.append(sequences.next(EPOCH_NS + round(now * 1e9)))
        store.save_if_due("web", sent[-1], now)
        now += 0.1
    restarted = sender(SequenceStore(tmp_path), "web")  # the clock has not moved on
    first = restarted.next(EPOCH_NS + round(now * 1e9))
    assert first > max(sent)
    assert (first >> 32) - (max(sent) >> 32) <= MARGIN_SECONDS


def test_a_failing_save_is_not_retried_with_every_advert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be\n")
    store = SequenceStore(blocker)
    attempts: list[int] = []
    real_save = store.save

    def save(name: str, sequence: int) -> None:
        attempts.append(sequence)
        real_save(name, sequence)

    monkeypatch.setattr(store, "save", save)
    with pytest.raises(OSError):
        store.save_if_due("web", 1, 0.0)
    for n in range(1, 100):  # the next 9.9 s of adverts: not even tried
        store.save_if_due("web", n, n * 0.1)
    assert attempts == [1]
