"""Raw IP protocol 112 sockets: one per interface and address family, shared by its instances.

Adverts are sent with TTL / hop limit 255 and DSCP CS6 from an explicit source address (IPv4: the
interface's primary address or the configured unicast source; IPv6: the link-local address),
chosen per packet with IP_PKTINFO / IPV6_PKTINFO. Our own multicast is not looped back.
The VRRP checksum is computed by the codec, never by the kernel.

Held repeats: a backup following a steady master hears the same datagram every interval.
:meth:`VrrpSocket.hold_repeats` names such datagrams; from then on a socket filter passes only the
others to the socket the event loop reads, and a second socket of the interface (the holder,
read by nobody) queues the repeats with their kernel receive times. :meth:`take_repeats` reads
them when the agent wants them (at the Master_Down deadline, before any other input), so an idle
backup wakes once per Master_Down_Interval instead of once per advert.
"""

from __future__ import annotations

import array
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address

from ..proto.addresses import IPAddress
from ..proto.packet import ReceivedPacket
from .repeat_filter import (
    MAX_INSTRUCTIONS,
    Side,
    compile_filter,
    fitting,
    length,
    packed,
    switch_steps,
)

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
MAX_KEPT_SENDS = 64
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD: a struct timespec of CLOCK_REALTIME per datagram
_TIMESPEC = struct.Struct("@qq")
CLOCK_STEP_TOLERANCE = 0.02  # s, plus SLEW_TOLERANCE per second between two takes
SLEW_TOLERANCE = 0.001  # the kernel slews the system clock by at most 500 ppm


@dataclass(frozen=True, slots=True)
class HeldRepeat:
    """A datagram the holder kept, and how long ago it arrived when it was taken (0 when that is
    not known: the system clock stepped since the last take)."""

    packet: ReceivedPacket
    age: float


class VrrpSocket:
    """A non-blocking raw socket bound to one interface."""

    def __init__(
        self, ifname: str, ifindex: int, ipv6: bool, *, freebind: bool = False, holder: bool = False
    ) -> None:
        self.ifname, self.ifindex, self.ipv6 = ifname, ifindex, ipv6
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_RAW, IPPROTO_VRRP)
        self._groups: list[IPAddress] = []
        self._sends: dict[int, tuple[IPAddress, IPAddress, _Cmsg, _Address]] = {}
        self._holder: VrrpSocket | None = None
        self._held: tuple[ReceivedPacket, ...] = ()
        self._ages = Ages()  # a holder's
        self._known: dict[bytes, ReceivedPacket] = {}  # a holder's IPv4 datagrams, see _key
        try:
            if holder:  # nothing until told what to hold (it would hear every interface so far)
                self._attach((), keep_matches=True)
                self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
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
        """Join ``group`` here, then on the holder (now or when it opens); a group joined
        already fails here first (EADDRINUSE), before it is written down twice."""
        if isinstance(group, IPv6Address):
            mreq = group.packed + struct.pack("@I", self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        else:
            mreqn = struct.pack("@4s4si", group.packed, b"\0" * 4, self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        self._groups.append(group)
        if self._holder is not None:
            self._holder.join(group)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        if self._holder is not None:
            self._holder.close()
        self.sock.close()

    def send(self, payload: bytes, source: IPAddress, destination: IPAddress) -> None:
        # A router sends to its group or its few peers, from one source, with the same address
        # objects each time: their arguments are kept by identity (no address hashing per advert).
        kept = self._sends.get(id(destination))
        if kept is None or kept[0] is not destination or kept[1] is not source:
            if len(self._sends) >= MAX_KEPT_SENDS:
                self._sends.clear()
            arguments = _send_arguments(self.ifindex, source, destination)
            kept = self._sends[id(destination)] = (destination, source, *arguments)
        self.sock.sendmsg([payload], [kept[2]], 0, kept[3])

    def receive(self) -> ReceivedPacket | None:
        """One datagram, or None when the queue is empty or the datagram is not even IP."""
        try:
            data, ancillary, _flags, sender = self.sock.recvmsg(MAX_DATAGRAM, _CMSG_SPACE)
        except BlockingIOError:
            return None
        return self._packet(data, ancillary, sender)

    # ------------------------------------------------------------------ held repeats

    def hold_repeats(self, expected: Sequence[ReceivedPacket]) -> None:
        """From now on, queue the datagrams equal to one of ``expected`` on the holder instead
        of this socket (those a filter can match; the others stay here). While it switches, a
        datagram may arrive on both sides (see repeat_filter.switch_steps)."""
        old = self._held
        room = MAX_INSTRUCTIONS - 1 - length(old, ipv6=self.ipv6)
        new = fitting(expected, ipv6=self.ipv6, room=room)
        if new == old:
            return
        if self._holder is None:
            self._holder = self._open_holder()
        for side, held in switch_steps(old, new):
            if side is Side.HOLDER:
                self._holder._attach(held, keep_matches=True)
            else:
                self._attach(held, keep_matches=False)
        self._held = new

    def _open_holder(self) -> VrrpSocket:
        holder = VrrpSocket(self.ifname, self.ifindex, self.ipv6, holder=True)
        try:
            for group in self._groups:
                holder.join(group)
            holder._take_queued()  # what reached it before its filter
        except OSError:
            holder.close()
            raise
        return holder

    def _attach(self, expected: Sequence[ReceivedPacket], *, keep_matches: bool) -> None:
        program = packed(compile_filter(expected, ipv6=self.ipv6, keep_matches=keep_matches))
        if keep_matches and not self.ipv6:
            self._known = {_key(packet): packet for packet in expected}
        buffer = array.array("B", program)  # the kernel copies it from this address
        address, _ = buffer.buffer_info()
        fprog = struct.pack("@HP", len(program) // 8, address)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)

    def take_repeats(self) -> list[HeldRepeat]:
        """The repeats the holder queued since the last take, oldest first."""
        return [] if self._holder is None else self._holder._take_queued()

    def _take_queued(self) -> list[HeldRepeat]:
        """Every datagram queued on this (holder) socket, with its age."""
        received: list[tuple[ReceivedPacket, int | None]] = []
        while True:
            try:
                data, ancillary, _flags, sender = self.sock.recvmsg(MAX_DATAGRAM, _CMSG_SPACE)
            except BlockingIOError:
                break
            # What the filter kept is one of the expected datagrams: found by its bytes, with no
            # parsing (IPv4; the header's identification and checksum differ each time).
            packet = None if self.ipv6 else self._known.get(data[8:9] + data[12:])
            if packet is None:
                packet = self._packet(data, ancillary, sender)
            if packet is not None:
                received.append((packet, _receive_time(ancillary)))
        ages = self._ages.of([stamp for _, stamp in received], time.time_ns(), time.monotonic_ns())
        return [HeldRepeat(packet, age) for (packet, _), age in zip(received, ages, strict=True)]

    def _packet(
        self, data: bytes, ancillary: list[tuple[int, int, bytes]], sender: tuple[str, ...]
    ) -> ReceivedPacket | None:
        if self.ipv6:
            return _ipv6_packet(data, ancillary, sender)
        return _ipv4_packet(data)


def _key(packet: ReceivedPacket) -> bytes:
    """An IPv4 datagram's TTL and bytes from its source address on, as the kernel delivers it."""
    return bytes([packet.ttl]) + packet.source.packed + packet.destination.packed + packet.payload


class Ages:
    """How old the datagrams of one take are, from the kernel's receive times (system clock),
    unless that clock stepped since the last take: then, and for a datagram without a time, 0
    (as if it had just arrived: late, never early). On a full queue the kernel drops the
    newest: those read are older, but still arrived after the last take, which the agent counts
    on; it only wakes again sooner."""

    def __init__(self) -> None:
        self._offset_ns: int | None = None  # system clock - monotonic clock at the last take
        self._taken_ns = 0  # monotonic, the last take

    def of(self, stamps: Sequence[int | None], wall_ns: int, monotonic_ns: int) -> list[float]:
        offset, last_offset = wall_ns - monotonic_ns, self._offset_ns
        tolerance = CLOCK_STEP_TOLERANCE + SLEW_TOLERANCE * (monotonic_ns - self._taken_ns) / 1e9
        trusted = last_offset is not None and abs(offset - last_offset) <= tolerance * 1e9
        self._offset_ns, self._taken_ns = offset, monotonic_ns
        return [
            max(0.0, (wall_ns - stamp) / 1e9) if trusted and stamp is not None else 0.0
            for stamp in stamps
        ]


def _receive_time(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's receive time of a datagram (ns, system clock), from its cmsgs."""
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack(value[:16])
            return int(seconds) * 1_000_000_000 + int(nanoseconds)
    return None


_Address = tuple[str, int] | tuple[str, int, int, int]
_Cmsg = tuple[int, int, bytes]


def _send_arguments(
    ifindex: int, source: IPAddress, destination: IPAddress
) -> tuple[_Cmsg, _Address]:
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
