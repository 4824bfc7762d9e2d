"""Ethernet frames that announce a VIP: gratuitous ARP (IPv4) and unsolicited NA (IPv6)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from ..proto.addresses import IPAddress
from ..proto.checksum import internet_checksum

BROADCAST_MAC = b"\xff" * 6
ALL_NODES = IPv6Address("ff02::1")
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ICMPV6 = 58
NEIGHBOR_ADVERTISEMENT = 136
NA_ROUTER = 0x80000000
NA_OVERRIDE = 0x20000000
TARGET_LINK_LAYER_OPTION = 2


def parse_mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def virtual_mac(vrid: int, ipv6: bool) -> str:
    """RFC 5798 §7.3: 00-00-5E-00-01-{VRID} (IPv4) or 00-00-5E-00-02-{VRID} (IPv6)."""
    return f"00:00:5e:00:{2 if ipv6 else 1:02x}:{vrid:02x}"


def gratuitous_arp(mac: bytes, address: IPv4Address) -> bytes:
    """An ARP request for our own address, target hardware broadcast (as keepalived sends it)."""
    ethernet = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
    arp += mac + address.packed + BROADCAST_MAC + address.packed
    return ethernet + arp


def unsolicited_na(mac: bytes, address: IPv6Address) -> bytes:
    """A Neighbor Advertisement to all nodes with the Router and Override flags (RFC 5798
    §6.4.2, RFC 4861 §7.2.6): the VIP may be a gateway, and the new owner wins caches at once."""
    body = struct.pack("!I", NA_ROUTER | NA_OVERRIDE) + address.packed
    body += struct.pack("!BB", TARGET_LINK_LAYER_OPTION, 1) + mac
    length = 4 + len(body)
    pseudo = address.packed + ALL_NODES.packed + struct.pack("!I3xB", length, ICMPV6)
    checksum = internet_checksum(pseudo + struct.pack("!BBH", NEIGHBOR_ADVERTISEMENT, 0, 0) + body)
    icmp = struct.pack("!BBH", NEIGHBOR_ADVERTISEMENT, 0, checksum) + body
    ipv6 = struct.pack("!IHBB", 6 << 28, length, ICMPV6, 255) + address.packed + ALL_NODES.packed
    return ALL_NODES_MAC + mac + struct.pack("!H", ETH_P_IPV6) + ipv6 + icmp


def announcement(mac: bytes, address: IPAddress) -> bytes:
    if isinstance(address, IPv6Address):
        return unsolicited_na(mac, address)
    return gratuitous_arp(mac, address)
