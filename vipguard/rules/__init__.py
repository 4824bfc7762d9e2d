"""Pure decision rules above the protocol core: what the agent decides from plain values, with
no I/O, clocks or asyncio, so that unit tests and the simulator run exactly what the agent runs.

* :mod:`.checks`: rise/fall hysteresis of check results and a tracker's priority contribution;
* :mod:`.sync_group`: how the members of a sync group fault, hold and step down together.

The import check holds this package to the protocol core's rule (the standard-library allowlist),
and it may use :mod:`vipguard.proto` but nothing above it.
"""
