"""The rise/fall policy now lives in the pure layer, :mod:`vipguard.rules.checks`; these names
stay importable from here for the trackers that use them."""

from ...rules.checks import Hysteresis, contribution

__all__ = ["Hysteresis", "contribution"]
