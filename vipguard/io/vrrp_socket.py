"""Raw IP protocol 112 sockets: one per interface and address family, shared by its instances.

Adverts are sent with TTL / hop limit 255 and DSCP CS6 from an explicit source address (IPv4: the
interface's primary address or the configured unicast source; IPv6: the link-local address),
chosen per packet with IP_PKTINFO / IPV6_PKTINFO. Our own multicast is not looped back.
The VRRP checksum is computed by the codec, never by the kernel.
"""

from __future__ import annotations

import socket
import struct
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address

from ..proto.addresses import IPAddress
from ..proto.packet import ReceivedPacket

IPPROTO_VRRP = 112
TTL = 255
DSCP_CS6 = 0xC0
RECEIVE_BUFFER = 1 << 20
MAX_DATAGRAM = 65535  # 255 IPv6 VIPs and a trailer exceed 4 KiB
_CMSG_SPACE = socket.CMSG_SPACE(64) * 2
# Linux values the socket module does not export on every build.
IP_PKTINFO = 8
IP_MULTICAST_ALL = 49
IP_FREEBIND = 15
SO_RCVBUFFORCE = 33
IPV6_FREEBIND = 78


class VrrpSocket:
    """A non-blocking raw socket bound to one interface."""

    def __init__(self, ifname: str, ifindex: int, ipv6: bool, *, freebind: bool = False) -> None:
        self.ifname, self.ifindex, self.ipv6 = ifname, ifindex, ipv6
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            self._enlarge_receive_buffer()
            self.sock.setblocking(False)
            (self._configure_ipv6 if ipv6 else self._configure_ipv4)()
            if freebind:
                # A virtual-MAC macvlan carries no address of its own: its adverts' source (the
                # parent's primary or link-local address) is not local to it.
                level = socket.IPPROTO_IPV6 if ipv6 else socket.IPPROTO_IP
                self.sock.setsockopt(level, IPV6_FREEBIND if ipv6 else IP_FREEBIND, 1)
        except OSError:
            self.sock.close()
            raise

    def _enlarge_receive_buffer(self) -> None:
        """Room for bursts of junk: real adverts share this queue with whatever floods it. Past
        net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE), which the agent has."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def _configure_ipv4(self) -> None:
        s = self.sock
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, TTL)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, TTL)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, DSCP_CS6)
        s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        mreqn = struct.pack("@4s4si", b"\0" * 4, b"\0" * 4, self.ifindex)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)

    def _configure_ipv6(self) -> None:
        s = self.sock
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, TTL)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, TTL)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, DSCP_CS6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)

    def join(self, group: IPAddress) -> None:
        if isinstance(group, IPv6Address):
            mreq = group.packed + struct.pack("@I", self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        else:
            mreqn = struct.pack("@4s4si", group.packed, b"\0" * 4, self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, payload: bytes, source: IPAddress, destination: IPAddress) -> None:
        cmsg, address = _send_arguments(self.ifindex, source, destination)
        self.sock.sendmsg([payload], [cmsg], 0, address)

    def receive(self) -> ReceivedPacket | None:
        """One datagram, or None when the queue is empty or the datagram is not even IP."""
        try:
            data, ancillary, _flags, sender = self.sock.recvmsg(MAX_DATAGRAM, _CMSG_SPACE)
        except BlockingIOError:
            return None
        if self.ipv6:
            return _ipv6_packet(data, ancillary, sender)
        return _ipv4_packet(data)


_Address = tuple[str, int] | tuple[str, int, int, int]


@lru_cache(maxsize=64)  # a router sends to its group or its few peers: built once each
def _send_arguments(
    ifindex: int, source: IPAddress, destination: IPAddress
) -> tuple[tuple[int, int, bytes], _Address]:
    """The source address as a packet-info control message, and the destination's address."""
    if isinstance(source, IPv6Address):
        info = source.packed + struct.pack("@I", ifindex)
        return (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, info), (str(destination), 0, 0, ifindex)
    info = struct.pack("@i4s4s", ifindex, source.packed, b"\0" * 4)
    return (socket.IPPROTO_IP, IP_PKTINFO, info), (str(destination), 0)


@lru_cache(maxsize=256)  # the few peers of a segment; spoofed floods only churn it
def _ipv4_address(packed: bytes) -> IPv4Address:
    """One object per address seen lately: built once, and the core compares a repeated advert
    with the last one by identity."""
    return IPv4Address(packed)


@lru_cache(maxsize=256)
def _ipv6_address(packed: bytes) -> IPv6Address:
    return IPv6Address(packed)


@lru_cache(maxsize=256)
def _sender_address(text: str) -> IPAddress:
    """The sender of an IPv6 datagram, without the scope the kernel appends (``fe80::1%eth0``)."""
    return ip_address(text.split("%", 1)[0])


def _ipv4_packet(data: bytes) -> ReceivedPacket | None:
    """IPv4 raw sockets deliver the IP header too: take TTL and addresses from it."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    header_length = (data[0] & 0x0F) * 4
    if header_length < 20 or len(data) < header_length:
        return None
    source, destination = _ipv4_address(data[12:16]), _ipv4_address(data[16:20])
    return ReceivedPacket(source, destination, data[8], data[header_length:])


def _ipv6_packet(
    data: bytes, ancillary: list[tuple[int, int, bytes]], sender: tuple[str, ...]
) -> ReceivedPacket | None:
    """IPv6 raw sockets deliver the payload only: hop limit and destination come as cmsgs."""
    hop_limit, destination = -1, None
    for level, kind, value in ancillary:
        if level != socket.IPPROTO_IPV6:
            continue
        if kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
            hop_limit = struct.unpack("@i", value[:4])[0]
        elif kind == socket.IPV6_PKTINFO and len(value) >= 16:
            destination = _ipv6_address(value[:16])
    if destination is None:
        return None
    source = _sender_address(str(sender[0]))
    return ReceivedPacket(source, destination, hop_limit, data)
