"""Import only the parts of a library the agent uses, where its package imports everything.

pyroute2's ``__init__`` imports its whole library on the way to any submodule (NDB with sqlite3,
IPVS, WireGuard, nl80211, Plan 9, ...: about 160 modules, 12 MiB of a resident agent). The agent
needs rtnetlink alone (``pyroute2.iproute.linux``, 6 MiB). :func:`package_without_init` puts the
package in ``sys.modules`` without running its ``__init__``, so submodules import on their own;
the first read of a name the ``__init__`` would have defined (``from pyroute2 import IPRoute``
elsewhere in the process) runs it then, so nobody else sees a difference.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def package_without_init(name: str) -> None:
    """Make ``name`` importable as a package whose ``__init__`` runs on first attribute use.
    Nothing happens if it is imported already (or cannot be found: the import will say so)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(attribute: str) -> Any:
        """A submodule (``from pyroute2 import config``) is imported on its own; a name only
        the package's ``__init__`` defines makes it run now, once."""
        if not attribute.startswith("__") and importlib.util.find_spec(f"{name}.{attribute}"):
            return importlib.import_module(f"{name}.{attribute}")
        del module.__dict__["__getattr__"]
        loader.exec_module(module)
        return getattr(module, attribute)

    module.__dict__["__getattr__"] = complete
    sys.modules[name] = module
