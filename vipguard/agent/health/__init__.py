"""Node fitness: trackers that check interfaces, files, scripts and services, and the pure policy
that turns their results into up/down states and priority contributions."""

from .policy import Hysteresis, contribution

__all__ = ["Hysteresis", "contribution"]
