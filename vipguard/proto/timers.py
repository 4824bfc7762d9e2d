"""Timer and priority arithmetic of RFC 5798 §6.1 (and RFC 3768 for VRRPv2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .addresses import IPAddress

OWNER_PRIORITY = 255
STOP_PRIORITY = 0
MIN_BACKUP_PRIORITY = 1
MAX_BACKUP_PRIORITY = 254


@dataclass(frozen=True, slots=True, order=True)
class Instant:
    """A moment as the core sees it.

    ``monotonic`` (seconds) drives every protocol timer; ``wall_ns`` only feeds the sequence numbers
    of authenticated adverts, whose peers compare it with their own clocks.
    """

    monotonic: float
    wall_ns: int

    def after(self, seconds: float) -> Instant:
        return Instant(self.monotonic + seconds, self.wall_ns + round(seconds * 1e9))


def skew_time(priority: int, interval_cs: int, version: int) -> float:
    """Seconds a backup of ``priority`` waits beyond three intervals.

    VRRPv3 scales it with Master_Adver_Interval; VRRPv2 defines it in seconds alone.
    """
    if version == 2:
        return (256 - priority) / 256
    return (256 - priority) * interval_cs / 256 / 100


def master_down_interval(priority: int, interval_cs: int, version: int) -> float:
    return 3 * interval_cs / 100 + skew_time(priority, interval_cs, version)


def effective_priority(base: int, contributions: Iterable[int]) -> int:
    """The owner's 255 is fixed; any other priority moves with its trackers within 1..254."""
    if base == OWNER_PRIORITY:
        return OWNER_PRIORITY
    return max(MIN_BACKUP_PRIORITY, min(MAX_BACKUP_PRIORITY, base + sum(contributions)))


def outranks(
    priority: int, address: IPAddress, other_priority: int, other_address: IPAddress
) -> bool:
    """Does (priority, address) win an election against the other? Ties go to the higher address."""
    if priority != other_priority:
        return priority > other_priority
    return int(address) > int(other_address)
