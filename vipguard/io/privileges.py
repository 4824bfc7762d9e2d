"""Whether this process holds the network privileges the agent needs, found out by harmless
probes that touch no interface: the kernel's answer, not a guess from /proc."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

IPPROTO_VRRP = 112
SO_RCVBUFFORCE = 33


def can_open_raw_sockets() -> bool:
    """CAP_NET_RAW: the VRRP socket (and the ARP/NA announcer) are raw sockets."""
    return _permitted(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP).close())


def can_administer_network() -> bool:
    """CAP_NET_ADMIN (VIPs, macvlans, sysctls): a forced receive buffer on a throw-away socket
    needs it too."""

    def probe() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4096)

    return _permitted(probe)


def _permitted(probe: Callable[[], None]) -> bool:
    try:
        probe()
    except OSError as error:
        if error.errno in (errno.EPERM, errno.EACCES):
            return False
        raise
    return True
