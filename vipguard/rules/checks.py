"""What check results mean, without I/O or clocks: when a tracker flips, and what it does to an
instance's priority (the weight semantics of :class:`vipguard.config.TrackRef`). Node fitness uses
it; backend health (rules/backends.py) reuses the same rise/fall."""

from __future__ import annotations


class Hysteresis:
    """A tracker's up/down state from its results. Before the first result it is unknown (which
    counts as down); the first result decides; after that ``rise`` successes in a row bring it
    up and ``fall`` failures in a row take it down."""

    def __init__(self, rise: int, fall: int) -> None:
        if rise < 1 or fall < 1:
            raise ValueError(f"rise and fall must be at least 1, not {rise} and {fall}")
        self.rise = rise
        self.fall = fall
        self.up: bool | None = None
        self._streak = 0  # results in a row that disagree with the current state

    def observe(self, ok: bool) -> bool:
        """Feeds one result; True when the state changed (always on the first result)."""
        if self.up is None or ok == self.up:
            return self.force(ok)
        self._streak += 1
        if self._streak < (self.rise if ok else self.fall):
            return False
        return self.force(ok)

    @property
    def changing(self) -> bool:
        """Whether results against the current state have begun to come in a row."""
        return self._streak > 0

    def force(self, up: bool) -> bool:
        """Sets the state at once (a kernel link event needs no rise or fall); True if changed."""
        changed = up != self.up
        self.up = up
        self._streak = 0
        return changed


def contribution(
    weight: int, up: bool | None, value: int | None = None, *, file: bool = False
) -> tuple[int, bool]:
    """(priority contribution, fault) of one tracker for one instance.

    Weight 0: fault while down. Weight > 0: added while up. Weight < 0: added while down. A file
    tracker (``file``) that is up adds ``value`` × weight, and with weight 0 any value but 0 is
    a fault; one that is down (unreadable) adds nothing, and with weight 0 is a fault. Unknown
    (``up`` None, no result yet) counts as down.
    """
    if not up:
        return (weight if weight < 0 and not file else 0), weight == 0
    if file:
        if value is None:
            raise ValueError("an up file tracker has a value")
        return value * weight, weight == 0 and value != 0
    return max(weight, 0), False
