"""The socket filters of held repeats, run on a small classic-BPF interpreter.

The interpreter knows what the programs use (absolute loads, SKF_NET_OFF loads, the length,
equality jumps, returns) and refuses anything else, so a program the kernel would read
differently fails here. netns-tests/test_held_repeats_kernel.py runs the same programs in the
kernel.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vipguard.io.repeat_filter import (
    ACCEPT,
    DROP,
    JEQ_K,
    LD_B_ABS,
    LD_H_ABS,
    LD_W_ABS,
    LD_W_LEN,
    MAX_INSTRUCTIONS,
    RET_K,
    SKF_NET_OFF,
    Instruction,
    Side,
    compile_filter,
    fitting,
    length,
    packed,
    switch_steps,
)
from vipguard.proto.packet import ReceivedPacket

NET = SKF_NET_OFF & 0xFFFFFFFF
SOURCE4, GROUP4 = IPv4Address("192.0.2.11"), IPv4Address("224.0.0.18")
SOURCE6, GROUP6 = IPv6Address("fe80::11"), IPv6Address("ff02::12")


def run(program: list[Instruction], data: bytes, network: bytes) -> int:
    """What the kernel returns for a datagram: ``data`` from where the filter starts reading,
    ``network`` from the network header (an IPv4 raw socket: the same bytes)."""
    pc = accumulator = 0
    while True:
        insn = program[pc]
        pc += 1
        if insn.code in (LD_W_ABS, LD_H_ABS, LD_B_ABS):
            size = {LD_W_ABS: 4, LD_H_ABS: 2, LD_B_ABS: 1}[insn.code]
            buffer, offset = (network, insn.k - NET) if insn.k >= NET else (data, insn.k)
            if offset + size > len(buffer):
                return 0  # the kernel ends a program that reads past the datagram: dropped
            accumulator = int.from_bytes(buffer[offset : offset + size], "big")
        elif insn.code == LD_W_LEN:
            accumulator = len(data)
        elif insn.code == JEQ_K:
            pc += insn.jt if accumulator == insn.k else insn.jf
        elif insn.code == RET_K:
            return insn.k
        else:
            raise AssertionError(f"opcode {insn.code:#x} is not one the programs use")


def ipv4_datagram(packet: ReceivedPacket, ident: int = 1, options: bytes = b"") -> bytes:
    header_length = 20 + len(options)
    total = header_length + len(packet.payload)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | header_length // 4,
        0xC0,
        total,
        ident,
        0,
        packet.ttl,
        112,
        ident * 7 & 0xFFFF,  # any checksum: the kernel checked it already
        packet.source.packed,
        packet.destination.packed,
    )
    return header + options + packet.payload


def ipv6_header(packet: ReceivedPacket) -> bytes:
    return (
        struct.pack("!IHBB", 0x60000000, len(packet.payload), 112, packet.ttl)
        + packet.source.packed
        + packet.destination.packed
    )


def verdict(program: list[Instruction], packet: ReceivedPacket, *, ipv6: bool) -> int:
    if ipv6:
        return run(program, packet.payload, ipv6_header(packet) + packet.payload)
    datagram = ipv4_datagram(packet)
    return run(program, datagram, datagram)


def advert(vrid: int = 51, priority: int = 150, vips: int = 1, ipv6: bool = False) -> bytes:
    size = 16 if ipv6 else 4
    return bytes([0x31, vrid, priority, vips, 0, 100, 0xAB, 0xCD]) + bytes(size * vips)


def packet4(payload: bytes, ttl: int = 255) -> ReceivedPacket:
    return ReceivedPacket(SOURCE4, GROUP4, ttl, payload)


def packet6(payload: bytes, ttl: int = 255) -> ReceivedPacket:
    return ReceivedPacket(SOURCE6, GROUP6, ttl, payload)


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_the_expected_datagram_matches_and_each_change_does_not(ipv6: bool) -> None:
    make = packet6 if ipv6 else packet4
    expected = make(advert(ipv6=ipv6))
    keep = compile_filter([expected], ipv6=ipv6, keep_matches=True)
    passing = compile_filter([expected], ipv6=ipv6, keep_matches=False)
    assert verdict(keep, expected, ipv6=ipv6) == ACCEPT
    assert verdict(passing, expected, ipv6=ipv6) == DROP
    other_source = IPv6Address("fe80::12") if ipv6 else IPv4Address("192.0.2.12")
    other_group = IPv6Address("ff02::1") if ipv6 else IPv4Address("224.0.0.1")
    changes = [
        make(advert(priority=100, ipv6=ipv6)),
        make(advert(vrid=52, ipv6=ipv6)),
        make(advert(vips=2, ipv6=ipv6)),  # longer
        make(advert(ipv6=ipv6)[:-1]),  # shorter
        make(advert(ipv6=ipv6), ttl=254),
        ReceivedPacket(other_source, expected.destination, 255, expected.payload),
        ReceivedPacket(expected.source, other_group, 255, expected.payload),
    ]
    for changed in changes:
        assert verdict(keep, changed, ipv6=ipv6) == DROP, changed
        assert verdict(passing, changed, ipv6=ipv6) == ACCEPT, changed


def test_ipv4_header_fields_outside_the_packet_do_not_matter_but_options_do() -> None:
    expected = packet4(advert())
    keep = compile_filter([expected], ipv6=False, keep_matches=True)
    for ident in (1, 2, 0xFFFF):  # identification and checksum differ per datagram
        datagram = ipv4_datagram(expected, ident)
        assert run(keep, datagram, datagram) == ACCEPT
    with_options = ipv4_datagram(expected, options=b"\x94\x04\x00\x00")  # router alert
    assert run(keep, with_options, with_options) == DROP  # its message starts elsewhere


@given(payload=st.binary(min_size=2, max_size=120), flip=st.integers(min_value=0))
def test_any_single_bit_of_the_message_flipped_is_not_a_match(payload: bytes, flip: int) -> None:
    for ipv6, make in ((False, packet4), (True, packet6)):
        expected = make(payload)
        keep = compile_filter([expected], ipv6=ipv6, keep_matches=True)
        assert verdict(keep, expected, ipv6=ipv6) == ACCEPT
        bit = flip % (len(payload) * 8)
        flipped = bytearray(payload)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert verdict(keep, make(bytes(flipped)), ipv6=ipv6) == DROP


def test_several_expected_datagrams_each_match() -> None:
    expected = [packet4(advert(vrid)) for vrid in (1, 51, 200)]
    keep = compile_filter(expected, ipv6=False, keep_matches=True)
    for packet in expected:
        assert verdict(keep, packet, ipv6=False) == ACCEPT
    assert verdict(keep, packet4(advert(2)), ipv6=False) == DROP
    assert verdict(keep, packet4(advert(51, priority=1)), ipv6=False) == DROP


def test_nothing_expected_keeps_nothing_and_passes_everything() -> None:
    assert compile_filter([], ipv6=False, keep_matches=True) == [Instruction(RET_K, k=DROP)]
    assert compile_filter([], ipv6=True, keep_matches=False) == [Instruction(RET_K, k=ACCEPT)]


def test_what_no_filter_can_match_is_left_out() -> None:
    small = packet4(advert(1))
    large = packet6(advert(2, vips=40, ipv6=True), ttl=255)  # 648 bytes: beyond a jump's reach
    no_ttl = packet6(advert(3, ipv6=True), ttl=-1)  # no hop limit came with it
    assert fitting([large, no_ttl], ipv6=True) == ()
    assert fitting([small, packet6(advert(ipv6=True))], ipv6=False) == (small,)
    with pytest.raises(ValueError, match="no filter can match"):
        compile_filter([large], ipv6=True, keep_matches=True)


def test_the_kernel_limit_is_kept_and_room_is_honoured() -> None:
    many = [packet6(advert(vrid, vips=8, ipv6=True)) for vrid in range(1, 256)]
    chosen = fitting(many, ipv6=True)
    assert 0 < len(chosen) < len(many)
    assert chosen == tuple(many[: len(chosen)])  # in order
    program = compile_filter(chosen, ipv6=True, keep_matches=True)
    assert len(program) <= MAX_INSTRUCTIONS
    assert length(chosen, ipv6=True) == len(program) - 1
    one = length([many[0]], ipv6=True)
    assert fitting(many, ipv6=True, room=2 * one) == tuple(many[:2])
    assert len(packed(program)) == 8 * len(program)


def test_every_jump_lands_inside_the_program() -> None:
    expected = [packet4(advert(vrid, vips=vrid % 7 + 1)) for vrid in range(1, 30)]
    program = compile_filter(expected, ipv6=False, keep_matches=True)
    for pc, insn in enumerate(program):
        if insn.code == JEQ_K:
            assert pc + 1 + max(insn.jt, insn.jf) < len(program)
            assert insn.jf <= 255
    assert program[-1].code == RET_K


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_a_switch_never_has_a_moment_where_both_sides_drop_a_datagram(ipv6: bool) -> None:
    """After each step of switch_steps, every datagram of the old and the new set is kept by
    the holder or passed by the socket."""
    make = packet6 if ipv6 else packet4
    a, b, c = (make(advert(vrid, ipv6=ipv6)) for vrid in (1, 2, 3))
    b2 = make(advert(2, priority=90, ipv6=ipv6))
    for old, new in [((), (a,)), ((a,), ()), ((a, b), (b2, c)), ((a,), (a, b)), ((a, b), (a,))]:
        holder = compile_filter(old, ipv6=ipv6, keep_matches=True)
        socket_side = compile_filter(old, ipv6=ipv6, keep_matches=False)
        for side, held in switch_steps(old, new):
            program = compile_filter(held, ipv6=ipv6, keep_matches=side is Side.HOLDER)
            if side is Side.HOLDER:
                holder = program
            else:
                socket_side = program
            for packet in {*old, *new, make(advert(9, ipv6=ipv6))}:
                kept = verdict(holder, packet, ipv6=ipv6) == ACCEPT
                passed = verdict(socket_side, packet, ipv6=ipv6) == ACCEPT
                assert kept or passed, (old, new, side, packet)
        assert holder == compile_filter(new, ipv6=ipv6, keep_matches=True)
        assert socket_side == compile_filter(new, ipv6=ipv6, keep_matches=False)
