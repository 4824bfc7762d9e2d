"""What the agent checks before it touches any interface, so that a missing privilege or an
unwritable directory is one clear message (the cause, then the fix) instead of a traceback
halfway through the start-up, after stale VIPs were already removed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..io.privileges import can_administer_network, can_open_raw_sockets


class StartupError(RuntimeError):
    """The agent cannot start (or a reload cannot be applied); the message names the cause and
    the fix."""


GRANT = (
    "run as root or grant it (the shipped unit does: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW)"
)


def problems(
    config: Config,
    raw_sockets: Callable[[], bool] = can_open_raw_sockets,
    network_admin: Callable[[], bool] = can_administer_network,
) -> list[str]:
    """Everything that would make the start-up fail midway; empty when it can go ahead (the
    privileges as the ``raw_sockets`` and ``network_admin`` probes find them)."""
    interfaces = ", ".join(sorted({instance.interface for instance in config.instances}))
    found = []
    if not raw_sockets():
        found.append(f"opening the VRRP socket on {interfaces} needs CAP_NET_RAW: {GRANT}")
    if not network_admin():
        found.append(f"adding and removing the VIPs on {interfaces} needs CAP_NET_ADMIN: {GRANT}")
    state = _unwritable(config.agent.state_dir)
    if state is not None:
        found.append(
            f"cannot write the state directory {config.agent.state_dir}: {state}: uid"
            f" {os.geteuid()} keeps maintenance marks and advert sequences there; give the agent"
            " that directory (the shipped unit does: StateDirectory=vipguard) or set [agent]"
            f" state_dir in {config.path}"
        )
    return found


def control_socket_problem(config: Config, error: OSError) -> str:
    """The message for a control socket whose directory cannot be written."""
    path = config.agent.control_socket
    return (
        f"cannot create the control socket {path}: {error.strerror}: uid {os.geteuid()} cannot"
        f" write {path.parent}; give the agent that directory (the shipped unit does:"
        f" RuntimeDirectory=vipguard) or set [agent] control_socket in {config.path}"
    )


def _unwritable(directory: Path) -> str | None:
    """Why files cannot be created in ``directory`` (made if missing), or None if they can."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None
