"""Node fitness: trackers that check interfaces, files, scripts and services, and the pure policy
that turns their results into up/down states and priority contributions."""

from .policy import Hysteresis, contribution
from .tracker import Tracker, TrackerStatus

__all__ = ["Hysteresis", "Tracker", "TrackerStatus", "contribution"]
