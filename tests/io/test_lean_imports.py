"""The agent imports pyroute2's rtnetlink only; the rest of the library stays unread until used."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import vipguard.io.netlink
lean = sorted(m for m in sys.modules if m.startswith("pyroute2"))
from pyroute2 import IPRoute, NDB  # a name only its __init__ defines: it runs then
import pyroute2
print(json.dumps({"lean": lean, "full": len([m for m in sys.modules if m.startswith("pyroute2")]),
                  "IPRoute": IPRoute.__module__, "version": pyroute2.__version__}))
"""


def test_netlink_imports_rtnetlink_alone_and_the_package_completes_on_demand() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(done.stdout)
    lean = found["lean"]
    assert "pyroute2.iproute.linux" in lean
    for heavy in ("pyroute2.ndb", "pyroute2.ipdb", "pyroute2.ipvs", "pyroute2.nslink"):
        assert not any(m == heavy or m.startswith(heavy + ".") for m in lean), heavy
    assert found["full"] > len(lean)  # the whole library, once asked for
    assert found["IPRoute"] == "pyroute2.iproute.linux"
    assert found["version"] not in ("", "unknown")
