"""Send gratuitous ARP / unsolicited NA frames over AF_PACKET on one interface."""

from __future__ import annotations

import socket

from ..proto.addresses import IPAddress
from .frames import announcement, parse_mac


class Announcer:
    def __init__(self, ifname: str, mac: str) -> None:
        self.ifname = ifname
        self.mac = parse_mac(mac)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            self.sock.bind((ifname, 0))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise

    def announce(self, address: IPAddress) -> None:
        self.sock.send(announcement(self.mac, address))

    def close(self) -> None:
        self.sock.close()
