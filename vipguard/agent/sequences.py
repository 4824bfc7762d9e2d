"""Persisted high-water marks of authenticated-advert sequences, so a restart never goes back.

Saved with the first signed advert sent SAVE_EVERY after the last save (on the advert's own
wake-up: no timer wakes an idle agent for it) and at shutdown; on load a margin larger than the
save period is added, so a sequence sent after the last save is still passed. (In time mode the
core then restarts from the clock, because a sequence ahead of it by more than the window is stale
at every receiver.)
"""

from __future__ import annotations

import os
from pathlib import Path

MARGIN_SECONDS = 60


class SequenceStore:
    SAVE_EVERY = 10.0

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._tried_at: dict[str, float] = {}  # monotonic, by router name

    def save_if_due(self, name: str, sequence: int, now: float) -> None:
        """After each signed advert: save ``sequence`` if the last save of ``name`` was
        SAVE_EVERY ago or never happened. What is sent in between is at most SAVE_EVERY newer
        than what is on disk, well within MARGIN_SECONDS. A failed save (raised) is not tried
        again before the period is over, so a broken disk costs no I/O per advert."""
        tried = self._tried_at.get(name)
        if tried is not None and now - tried < self.SAVE_EVERY:
            return
        self._tried_at[name] = now
        self.save(name, sequence)

    def _path(self, name: str) -> Path:
        return self.directory / f"{name.replace('/', '-')}.sequence"

    def load(self, name: str) -> int | None:
        try:
            stored = int(self._path(name).read_text().strip(), 16)
        except (OSError, ValueError):
            return None
        return (stored + (MARGIN_SECONDS << 32)) % (1 << 64)

    def save(self, name: str, sequence: int) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(name)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(f"{sequence:016x}\n")
        os.replace(temporary, path)
