"""Classic BPF socket filters that tell an advert repeated unchanged from everything else.

A backup that follows a steady master hears the same datagram every advert interval; hearing it
again only restarts Master_Down. :func:`compile_filter` builds the program that sorts such
repeats (the expected datagrams, one per router) from every other datagram, so a raw socket can
queue the repeats where nothing wakes up for them (see :mod:`vipguard.io.vrrp_socket`) and pass
the rest at once. A datagram matches when everything :class:`ReceivedPacket` holds is equal: the
length, source and destination, the TTL / hop limit and every byte of the VRRP message.

Where the program starts reading differs by family: an IPv4 raw socket filters from the IP
header, an IPv6 one from the VRRP message, with the IPv6 header reachable at ``SKF_NET_OFF``.
This module only computes instructions; it opens nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv6Address

from ..proto.packet import ReceivedPacket

# Opcodes of classic BPF (linux/filter.h).
LD_W_ABS, LD_H_ABS, LD_B_ABS, LD_W_LEN = 0x20, 0x28, 0x30, 0x80
JEQ_K, RET_K = 0x15, 0x06
SKF_NET_OFF = -0x100000
MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS
MAX_JUMP = 255  # a conditional jump's reach: one datagram's checks must fit in it
ACCEPT, DROP = 0xFFFFFFFF, 0

_IPV4_HEADER = 20
_IPV4_FIRST_BYTE = 0x45  # version 4, no options: the message starts at byte 20
_IPV4_TTL, _IPV4_SOURCE, _IPV4_DESTINATION = 8, 12, 16
_IPV6_HOP_LIMIT, _IPV6_SOURCE, _IPV6_DESTINATION = 7, 8, 24


@dataclass(frozen=True, slots=True)
class Instruction:
    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0


def compile_filter(
    expected: Sequence[ReceivedPacket], *, ipv6: bool, keep_matches: bool
) -> list[Instruction]:
    """The program of a socket that keeps the datagrams equal to one of ``expected`` and drops
    the others (``keep_matches``), or the other way round. Raises ValueError for a datagram
    :func:`fitting` would have left out."""
    on_match, otherwise = (ACCEPT, DROP) if keep_matches else (DROP, ACCEPT)
    program: list[Instruction] = []
    for packet in expected:
        block = _match_block(packet, ipv6, on_match)
        if block is None:
            raise ValueError(f"no filter can match the datagram from {packet.source}")
        program += block
    program.append(Instruction(RET_K, k=otherwise))
    if len(program) > MAX_INSTRUCTIONS:
        raise ValueError(f"{len(program)} instructions: the kernel takes {MAX_INSTRUCTIONS}")
    return program


def fitting(
    expected: Iterable[ReceivedPacket], *, ipv6: bool, room: int = MAX_INSTRUCTIONS - 1
) -> tuple[ReceivedPacket, ...]:
    """Those of ``expected``, in order, that a filter can match within ``room`` instructions
    (besides its final ``ret``); the others are to be treated like any datagram."""
    chosen = []
    for packet in expected:
        block = _match_block(packet, ipv6, ACCEPT)
        if block is not None and len(block) <= room:
            chosen.append(packet)
            room -= len(block)
    return tuple(chosen)


def length(expected: Iterable[ReceivedPacket], *, ipv6: bool) -> int:
    """How many instructions matching ``expected`` takes (those that fit, without the ret)."""
    blocks = (_match_block(packet, ipv6, ACCEPT) for packet in expected)
    return sum(len(block) for block in blocks if block is not None)


def packed(program: Sequence[Instruction]) -> bytes:
    """``program`` as an array of ``struct sock_filter``, ready for SO_ATTACH_FILTER."""
    return b"".join(struct.pack("=HBBI", i.code, i.jt, i.jf, i.k) for i in program)


class Side(Enum):
    SOCKET = "socket"  # the one the event loop reads: it drops the held datagrams
    HOLDER = "holder"  # the one nobody reads until a take: it keeps only them


def switch_steps(
    old: Sequence[ReceivedPacket], new: Sequence[ReceivedPacket]
) -> list[tuple[Side, tuple[ReceivedPacket, ...]]]:
    """The filters to attach, in order, to go from holding ``old`` to holding ``new`` without a
    moment where a datagram is dropped by both sides: the holder first takes both sets, then
    the socket lets go of ``old`` and drops ``new``, then the holder keeps ``new`` alone; one
    arriving meanwhile may be read from both sides. The kernel hands a datagram to the two
    sockets one after the other, so one that reaches them on either side of two steps in a
    row can still be missed by both: a repeat of an advert already heard (only those are in
    either set), which the three intervals of Master_Down absorb like one lost on the wire."""
    both = tuple(dict.fromkeys((*old, *new)))
    return [(Side.HOLDER, both), (Side.SOCKET, tuple(new)), (Side.HOLDER, tuple(new))]


def _match_block(packet: ReceivedPacket, ipv6: bool, on_match: int) -> list[Instruction] | None:
    """Checks that fall through to ``ret on_match`` when the datagram equals ``packet``; each
    failed check jumps past the block's end. None when they cannot: beyond a jump's reach, or a
    datagram the kernel never delivers that way (no TTL read, an address of the other family)."""
    if not 0 <= packet.ttl <= 255 or len(packet.payload) < 2:
        return None
    if isinstance(packet.source, IPv6Address) != ipv6:
        return None
    checks = list(_ipv6_checks(packet) if ipv6 else _ipv4_checks(packet))
    if 2 * len(checks) - 1 > MAX_JUMP:  # the first check jumps over all the others
        return None
    block: list[Instruction] = []
    for index, (load, value) in enumerate(checks):
        to_end = 2 * (len(checks) - index) - 1  # the remaining checks' instructions and the ret
        block += [load, Instruction(JEQ_K, 0, to_end, value)]
    block.append(Instruction(RET_K, k=on_match))
    return block


_Check = tuple[Instruction, int]


def _ipv4_checks(packet: ReceivedPacket) -> Iterable[_Check]:
    yield Instruction(LD_W_LEN), _IPV4_HEADER + len(packet.payload)
    yield Instruction(LD_B_ABS, k=_IPV4_HEADER + 1), packet.payload[1]  # first: another VRID
    yield Instruction(LD_B_ABS, k=0), _IPV4_FIRST_BYTE
    yield Instruction(LD_B_ABS, k=_IPV4_TTL), packet.ttl
    yield from _bytes_equal(_IPV4_SOURCE, packet.source.packed)
    yield from _bytes_equal(_IPV4_DESTINATION, packet.destination.packed)
    yield from _bytes_equal(_IPV4_HEADER, packet.payload)


def _ipv6_checks(packet: ReceivedPacket) -> Iterable[_Check]:
    yield Instruction(LD_W_LEN), len(packet.payload)
    yield Instruction(LD_B_ABS, k=1), packet.payload[1]
    yield Instruction(LD_B_ABS, k=_net(_IPV6_HOP_LIMIT)), packet.ttl
    yield from _bytes_equal(_net(_IPV6_SOURCE), packet.source.packed)
    yield from _bytes_equal(_net(_IPV6_DESTINATION), packet.destination.packed)
    yield from _bytes_equal(0, packet.payload)


def _net(offset: int) -> int:
    """``offset`` into the network header, as an absolute load's k (a u32)."""
    return (SKF_NET_OFF + offset) & 0xFFFFFFFF


def _bytes_equal(offset: int, data: bytes) -> Iterable[_Check]:
    """Word, half-word and byte loads comparing ``data`` with the datagram at ``offset``."""
    position = 0
    for size, code, fmt in ((4, LD_W_ABS, "!I"), (2, LD_H_ABS, "!H"), (1, LD_B_ABS, "!B")):
        while len(data) - position >= size:
            (value,) = struct.unpack_from(fmt, data, position)
            yield Instruction(code, k=(offset + position) & 0xFFFFFFFF), value
            position += size
