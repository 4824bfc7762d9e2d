"""The Internet checksum (RFC 1071) and the pseudo-headers VRRP may put in front of it."""

from __future__ import annotations

import struct
from enum import StrEnum
from ipaddress import IPv4Address

from .addresses import IPAddress

IPPROTO_VRRP = 112


class ChecksumMode(StrEnum):
    """How a VRRPv3-over-IPv4 checksum is computed (VRRPv2 and IPv6 each have only one way).

    ``RFC9568``: over the VRRP message alone (RFC 9568; keepalived's ``v3_checksum_as_v2``).
    ``PSEUDO_HEADER``: over an IPv4 pseudo-header plus the message (RFC 5798's reading used by
    keepalived by default, tcpdump and Wireshark).
    """

    RFC9568 = "rfc9568"
    PSEUDO_HEADER = "pseudo-header"


def internet_checksum(data: bytes) -> int:
    """One's-complement of the one's-complement sum of 16-bit big-endian words."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header(source: IPAddress, destination: IPAddress, length: int) -> bytes:
    """The upper-layer pseudo-header for protocol 112 (RFC 768 style for IPv4, RFC 8200 §8.1)."""
    if isinstance(source, IPv4Address):
        return source.packed + destination.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return source.packed + destination.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)
