"""A tiny reader for classic pcap files with Ethernet frames carrying IPv4 or IPv6 (stdlib only)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from vipguard.proto.addresses import IPAddress
from vipguard.proto.packet import ReceivedPacket

LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
IPPROTO_VRRP = 112
_ETHERNET_HEADER = 14
_IPV6_HEADER = 40
# magic -> (byte order, sub-second units per second)
_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured IP packet: the fields the VRRP core looks at, and the capture time."""

    family: int  # 4 or 6
    source: IPAddress
    destination: IPAddress
    ttl: int  # IPv4 TTL or IPv6 hop limit
    protocol: int  # IPv4 protocol or IPv6 next header
    payload: bytes  # the IP payload, link-layer padding removed
    timestamp_ns: int

    def received(self) -> ReceivedPacket:
        return ReceivedPacket(self.source, self.destination, self.ttl, self.payload)


def read_pcap(path: Path) -> list[Frame]:
    data = path.read_bytes()
    order, units = _MAGICS[data[:4]]
    *_, linktype = struct.unpack_from(f"{order}HHiIII", data, 4)
    if linktype != LINKTYPE_ETHERNET:
        raise ValueError(f"{path}: link type {linktype} is not Ethernet")
    frames: list[Frame] = []
    offset = 24
    while offset < len(data):
        seconds, fraction, captured, _ = struct.unpack_from(f"{order}IIII", data, offset)
        offset += 16
        timestamp_ns = seconds * 1_000_000_000 + fraction * (1_000_000_000 // units)
        frames.append(parse_ethernet(data[offset : offset + captured], timestamp_ns))
        offset += captured
    return frames


def parse_ethernet(frame: bytes, timestamp_ns: int = 0) -> Frame:
    """The IP packet inside one Ethernet frame."""
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    ip = frame[_ETHERNET_HEADER:]
    if ethertype == ETHERTYPE_IPV4:
        header_length = (ip[0] & 0x0F) * 4
        (total_length,) = struct.unpack_from("!H", ip, 2)
        return Frame(
            4,
            IPv4Address(ip[12:16]),
            IPv4Address(ip[16:20]),
            ip[8],
            ip[9],
            ip[header_length:total_length],
            timestamp_ns,
        )
    if ethertype == ETHERTYPE_IPV6:
        if ip[6] != IPPROTO_VRRP:
            raise ValueError(f"IPv6 next header {ip[6]}: extension headers are not supported")
        (payload_length,) = struct.unpack_from("!H", ip, 4)
        return Frame(
            6,
            IPv6Address(ip[8:24]),
            IPv6Address(ip[24:40]),
            ip[7],
            ip[6],
            ip[_IPV6_HEADER : _IPV6_HEADER + payload_length],
            timestamp_ns,
        )
    raise ValueError(f"ethertype {ethertype:#06x} is neither IPv4 nor IPv6")
