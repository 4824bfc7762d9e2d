"""Parsing rtnetlink link and address messages: exact fields, and never a crash on junk."""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv6Address

from hypothesis import given
from hypothesis import strategies as st

from vipguard.io.netlink import (
    IFF_LOWER_UP,
    IFF_UP,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    AddressChange,
    LinkChange,
    parse_events,
)


def message(kind: int, body: bytes) -> bytes:
    length = 16 + len(body)
    padded = body + bytes(-length % 4)
    return struct.pack("=IHHII", length, kind, 0, 0, 0) + padded


def attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(value), kind) + value + bytes(-len(value) % 4)


def link(index: int, flags: int, *attributes: bytes, kind: int = RTM_NEWLINK) -> bytes:
    header = struct.pack("=BxHiII", socket.AF_UNSPEC, 1, index, flags, 0)
    return message(kind, header + b"".join(attributes))


def address(kind: int, family: int, index: int, *attributes: bytes) -> bytes:
    return message(kind, struct.pack("=BBBBI", family, 24, 0, 0, index) + b"".join(attributes))


def test_link_and_address_events_in_one_datagram() -> None:
    data = b"".join(
        [
            link(2, IFF_UP | IFF_LOWER_UP),
            link(3, IFF_UP),  # administratively up, no carrier: down for us
            # IPv4: IFA_ADDRESS (the peer on point-to-point links) then IFA_LOCAL (ours)
            address(
                RTM_NEWADDR,
                socket.AF_INET,
                2,
                attribute(1, bytes([198, 51, 100, 1])),
                attribute(2, bytes([192, 0, 2, 100])),
            ),
            address(
                RTM_DELADDR, socket.AF_INET6, 2, attribute(1, IPv6Address("2001:db8::100").packed)
            ),
        ]
    )
    assert parse_events(data) == [
        LinkChange(2, up=True),
        LinkChange(3, up=False),
        AddressChange(2, IPv4Address("192.0.2.100"), added=True),
        AddressChange(2, IPv6Address("2001:db8::100"), added=False),
    ]


def test_link_events_carry_the_name_and_a_deleted_link_is_down() -> None:
    up = IFF_UP | IFF_LOWER_UP
    data = link(7, up, attribute(3, b"up0\0")) + link(
        7, up, attribute(3, b"up0\0"), kind=RTM_DELLINK
    )
    assert parse_events(data) == [LinkChange(7, True, "up0"), LinkChange(7, False, "up0")]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    parse_events(data)


@given(
    st.binary(max_size=64), st.sampled_from([RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR])
)
def test_truncated_bodies_of_known_messages_are_skipped(body: bytes, kind: int) -> None:
    for event in parse_events(message(kind, body)):
        assert isinstance(event, LinkChange | AddressChange)
