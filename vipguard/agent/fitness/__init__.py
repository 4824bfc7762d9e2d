"""Node fitness: whether this host can carry its VIPs. Trackers (``tracker.py``) check
interfaces, files, scripts, services and processes on their own rhythm; ``wiring.py`` gives
their results to the routers that track them as priority contributions and faults. What a
result means (rise/fall, weights) is decided in the pure layer, :mod:`vipguard.rules.checks`.
Backend health (the servers behind the VIPs) is another subsystem, with its own home."""

from .tracker import Tracker, TrackerStatus
from .wiring import PREFIX, Fitness, group_refs

__all__ = ["PREFIX", "Fitness", "Tracker", "TrackerStatus", "group_refs"]
