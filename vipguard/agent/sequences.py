"""Persisted high-water marks of authenticated-advert sequences, so a restart never goes back.

Saved every few seconds and at shutdown; on load a margin larger than the save period is added,
so a sequence sent after the last save is still passed. (In time mode the core then restarts from
the clock, because a sequence ahead of it by more than the window is stale at every receiver.)
"""

from __future__ import annotations

import os
from pathlib import Path

MARGIN_SECONDS = 60


class SequenceStore:
    SAVE_EVERY = 10.0

    def __init__(self, directory: Path) -> None:
        self.directory = directory

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
