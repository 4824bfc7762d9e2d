"""Announcement frames: byte-exact against keepalived's gratuitous ARP, and valid NA per scapy."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import Ether

from vipguard.io.frames import gratuitous_arp, parse_mac, unsolicited_na, virtual_mac

# keepalived 2.2.7's first gratuitous ARP on becoming master (shared/reference capture, frame 2).
KEEPALIVED_GARP = bytes.fromhex(
    "ffffffffffffea6c2487cd3c08060001080006040001ea6c2487cd3c0a4d0064ffffffffffff0a4d0064"
)


def test_gratuitous_arp_matches_keepalived_byte_for_byte() -> None:
    frame = gratuitous_arp(parse_mac("ea:6c:24:87:cd:3c"), IPv4Address("10.77.0.100"))
    assert frame == KEEPALIVED_GARP


def test_unsolicited_na_is_a_valid_override_advertisement() -> None:
    mac = "02:00:5e:10:00:01"
    frame = Ether(unsolicited_na(parse_mac(mac), IPv6Address("2001:db8::100")))
    ip, na = frame[IPv6], frame[ICMPv6ND_NA]
    assert (frame.dst, frame.src) == ("33:33:00:00:00:01", mac)
    assert (ip.src, ip.dst, ip.hlim) == ("2001:db8::100", "ff02::1", 255)
    assert (na.tgt, na.O, na.S, na.R) == ("2001:db8::100", 1, 0, 1)
    assert frame[ICMPv6NDOptDstLLAddr].lladdr == mac
    wire_checksum = na.cksum
    del na.cksum  # scapy recomputes it on build
    assert Ether(bytes(frame))[ICMPv6ND_NA].cksum == wire_checksum


def test_virtual_macs_follow_rfc_5798() -> None:
    assert virtual_mac(51, ipv6=False) == "00:00:5e:00:01:33"
    assert virtual_mac(255, ipv6=True) == "00:00:5e:00:02:ff"
