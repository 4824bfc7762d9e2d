"""Which instances are in maintenance, kept in the state directory so that a node put into
maintenance stays out of the election across agent restarts and reboots.

The file (``maintenance``) holds one instance name per line. It is written atomically and
fsynced before the agent reports the change: an operator who was told "in maintenance" can
reboot at once. An unreadable file is a start-up error rather than a guess: guessing "not in
maintenance" could make a node under repair grab the VIP.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_NAME = "maintenance"


class MaintenanceStoreError(RuntimeError):
    """The file exists but cannot be read; the message names it and the fix."""


class MaintenanceStore:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def load(self) -> set[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError) as error:
            raise MaintenanceStoreError(
                f"cannot read {self.path} ({error}): fix or remove it (removing it takes every"
                " instance out of maintenance)"
            ) from None
        return {line.strip() for line in text.splitlines() if line.strip()}

    def save(self, names: set[str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            file.write("".join(f"{name}\n" for name in sorted(names)))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
