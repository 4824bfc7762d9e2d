"""The codec: encoding, the ordered validation pipeline, Advertisement's own checks, checksums."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

from vipguard.proto.addresses import IPAddress
from vipguard.proto.checksum import ChecksumMode, internet_checksum, pseudo_header
from vipguard.proto.errors import CodecError, ProtocolUsageError, RejectReason
from vipguard.proto.packet import (
    Advertisement,
    Expectations,
    ReceivedPacket,
    decode,
    encode,
    encode_message,
    seal,
    validate,
)
from vipguard.proto.wire import ChecksumPolicy, Heard, Wire, WireConfig

SOURCE4 = IPv4Address("192.0.2.1")
GROUP4 = IPv4Address("224.0.0.18")
VIP4 = IPv4Address("192.0.2.100")
VIP4_B = IPv4Address("192.0.2.101")
SOURCE6 = IPv6Address("fe80::1")
GROUP6 = IPv6Address("ff02::12")
VIP6 = IPv6Address("2001:db8::100")

ONLY_RFC9568 = frozenset({ChecksumMode.RFC9568})
ONLY_PSEUDO = frozenset({ChecksumMode.PSEUDO_HEADER})


@dataclass(frozen=True)
class Spec:
    """A hand-built packet, field by field, so that each fault is one ``replace``.

    ``interval`` is whole seconds for VRRPv2 and centiseconds for VRRPv3; ``auth_type`` is the
    VRRPv2 high byte and ``reserved`` the VRRPv3 high nibble of the same 16-bit word. The checksum
    is correct for the (possibly faulty) message unless ``checksum_xor`` spoils it.
    """

    version: int = 3
    kind: int = 1
    vrid: int = 51
    priority: int = 100
    addresses: tuple[IPAddress, ...] = (VIP4,)
    count: int | None = None  # None: len(addresses)
    interval: int = 100
    auth_type: int = 0
    reserved: int = 0
    auth_data: bytes | None = None  # None: 8 zero bytes for VRRPv2, nothing for VRRPv3
    extra: bytes = b""  # appended after the message (a trailer, or junk)
    ttl: int = 255
    ipv6: bool = False
    mode: ChecksumMode = ChecksumMode.RFC9568
    checksum_xor: int = 0

    @property
    def word(self) -> int:
        if self.version == 2:
            return (self.auth_type << 8) | self.interval
        return (self.reserved << 12) | self.interval

    def message(self) -> bytes:
        count = len(self.addresses) if self.count is None else self.count
        header = bytes((self.version << 4 | self.kind, self.vrid, self.priority, count))
        header += self.word.to_bytes(2, "big") + b"\x00\x00"
        auth_data = self.auth_data
        if auth_data is None:
            auth_data = bytes(8) if self.version == 2 else b""
        return header + b"".join(a.packed for a in self.addresses) + auth_data

    def packet(self) -> ReceivedPacket:
        source, destination = (SOURCE6, GROUP6) if self.ipv6 else (SOURCE4, GROUP4)
        payload = bytearray(
            seal(
                self.message(),
                source=source,
                destination=destination,
                checksum_mode=self.mode,
                trailer=self.extra,
            )
        )
        payload[6] ^= self.checksum_xor >> 8
        payload[7] ^= self.checksum_xor & 0xFF
        return ReceivedPacket(source, destination, self.ttl, bytes(payload))


V3 = Spec()
V2 = Spec(version=2, interval=1)
V3_IPV6 = Spec(addresses=(VIP6,), ipv6=True)


ANY = Expectations()  # accept any VRID, version, checksum mode; check the TTL; no trailer


def reason_of(spec: Spec, expect: Expectations = ANY) -> RejectReason | None:
    return validate(spec.packet(), expect)


def rejected(packet: ReceivedPacket, expect: Expectations = ANY) -> RejectReason:
    with pytest.raises(CodecError) as caught:
        decode(packet, expect)
    return caught.value.reason


# --------------------------------------------------------------------------- accepted packets


@pytest.mark.parametrize(
    ("spec", "expect", "advert"),
    [
        pytest.param(V3, Expectations(), Advertisement(3, 51, 100, 100, (VIP4,)), id="v3-ipv4"),
        pytest.param(V2, Expectations(), Advertisement(2, 51, 100, 100, (VIP4,)), id="v2"),
        pytest.param(
            V3_IPV6, Expectations(), Advertisement(3, 51, 100, 100, (VIP6,)), id="v3-ipv6"
        ),
        pytest.param(
            replace(V3, mode=ChecksumMode.PSEUDO_HEADER, addresses=(VIP4, VIP4_B)),
            Expectations(vrid=51, version=3, checksum_modes=ONLY_PSEUDO),
            Advertisement(3, 51, 100, 100, (VIP4, VIP4_B)),
            id="v3-pseudo-header-two-vips",
        ),
        pytest.param(
            replace(V2, interval=3, priority=0),
            Expectations(vrid=51, version=2, v2_interval_cs=300),
            Advertisement(2, 51, 0, 300, (VIP4,)),
            id="v2-priority-0-matching-interval",
        ),
        pytest.param(
            replace(V3, interval=4095, priority=255, reserved=0xF),
            Expectations(),
            Advertisement(3, 51, 255, 4095, (VIP4,)),
            id="v3-reserved-bits-ignored",
        ),
        pytest.param(
            replace(V3, ttl=1),
            Expectations(check_ttl=False),
            Advertisement(3, 51, 100, 100, (VIP4,)),
            id="ttl-unchecked-for-unicast",
        ),
        pytest.param(
            replace(V3, interval=250),
            Expectations(v2_interval_cs=100),
            Advertisement(3, 51, 100, 250, (VIP4,)),
            id="v2-interval-ignored-for-v3",
        ),
    ],
)
def test_valid_packet_decodes(spec: Spec, expect: Expectations, advert: Advertisement) -> None:
    decoded = decode(spec.packet(), expect)
    assert decoded.advert == advert
    assert decoded.message == spec.message()
    assert decoded.trailer == b""
    assert validate(spec.packet(), expect) is None


@pytest.mark.parametrize(
    ("spec", "mode"),
    [
        (V3, ChecksumMode.RFC9568),
        (replace(V3, mode=ChecksumMode.PSEUDO_HEADER), ChecksumMode.PSEUDO_HEADER),
        (V2, None),
        (V3_IPV6, None),
    ],
    ids=["v3-rfc9568", "v3-pseudo-header", "v2", "ipv6"],
)
def test_decoded_checksum_mode_names_the_variant_that_verified(
    spec: Spec, mode: ChecksumMode | None
) -> None:
    assert decode(spec.packet()).checksum_mode is mode


@pytest.mark.parametrize("spec", [V3, V2, V3_IPV6], ids=["v3", "v2", "ipv6"])
def test_trailer_is_split_off_when_expected(spec: Spec) -> None:
    trailer = bytes(range(28))
    decoded = decode(replace(spec, extra=trailer).packet(), Expectations(trailer_length=28))
    assert decoded.trailer == trailer
    assert decoded.message == spec.message()


def test_trailer_expected_but_absent_is_accepted_by_the_codec() -> None:
    decoded = decode(V3.packet(), Expectations(trailer_length=28))
    assert decoded.trailer == b""


def test_ipv6_checksum_covers_the_trailer() -> None:
    trailer = bytes(range(28))
    spec = replace(V3_IPV6, extra=trailer)
    message_only = seal(spec.message(), source=SOURCE6, destination=GROUP6) + trailer
    packet = ReceivedPacket(SOURCE6, GROUP6, 255, message_only)
    assert rejected(packet, Expectations(trailer_length=28)) is RejectReason.BAD_CHECKSUM


def test_ipv4_checksum_excludes_the_trailer() -> None:
    trailer = b"\xff" * 28
    payload = replace(V3, extra=trailer).packet().payload
    assert payload == seal(V3.message(), source=SOURCE4, destination=GROUP4) + trailer


def test_v2_checksum_ignores_the_pseudo_header_mode() -> None:
    plain = seal(V2.message(), source=SOURCE4, destination=GROUP4)
    pseudo = seal(
        V2.message(), source=SOURCE4, destination=GROUP4, checksum_mode=ChecksumMode.PSEUDO_HEADER
    )
    assert pseudo == plain
    covered = pseudo_header(SOURCE4, GROUP4, 20) + V2.message()
    with_pseudo = (
        V2.message()[:6] + internet_checksum(covered).to_bytes(2, "big") + V2.message()[8:]
    )
    assert rejected(ReceivedPacket(SOURCE4, GROUP4, 255, with_pseudo)) is RejectReason.BAD_CHECKSUM


# --------------------------------------------------------------------------- one test per reason


def test_too_short_payload() -> None:
    for length in range(8):
        packet = ReceivedPacket(SOURCE4, GROUP4, 255, V3.packet().payload[:length])
        assert rejected(packet) is RejectReason.TOO_SHORT


REJECTIONS = [
    # BAD_TTL
    pytest.param(replace(V3, ttl=254), Expectations(), RejectReason.BAD_TTL, id="ttl-254"),
    pytest.param(replace(V3_IPV6, ttl=1), Expectations(), RejectReason.BAD_TTL, id="hop-limit-1"),
    # BAD_VERSION
    pytest.param(replace(V3, version=1), Expectations(), RejectReason.BAD_VERSION, id="version-1"),
    pytest.param(replace(V3, version=4), Expectations(), RejectReason.BAD_VERSION, id="version-4"),
    pytest.param(
        replace(V3_IPV6, version=2), Expectations(), RejectReason.BAD_VERSION, id="v2-over-ipv6"
    ),
    # BAD_TYPE
    pytest.param(replace(V3, kind=2), Expectations(), RejectReason.BAD_TYPE, id="type-2"),
    pytest.param(replace(V2, kind=0), Expectations(), RejectReason.BAD_TYPE, id="v2-type-0"),
    # BAD_VRID
    pytest.param(replace(V3, vrid=0), Expectations(), RejectReason.BAD_VRID, id="vrid-0"),
    pytest.param(
        replace(V2, vrid=0), Expectations(vrid=51), RejectReason.BAD_VRID, id="v2-vrid-0-for-51"
    ),
    # VRID_MISMATCH
    pytest.param(V3, Expectations(vrid=52), RejectReason.VRID_MISMATCH, id="vrid-51-for-52"),
    # VERSION_MISMATCH
    pytest.param(V3, Expectations(version=2), RejectReason.VERSION_MISMATCH, id="v3-for-v2"),
    pytest.param(V2, Expectations(version=3), RejectReason.VERSION_MISMATCH, id="v2-for-v3"),
    # NO_ADDRESSES
    pytest.param(replace(V3, addresses=()), Expectations(), RejectReason.NO_ADDRESSES, id="v3"),
    pytest.param(replace(V2, addresses=()), Expectations(), RejectReason.NO_ADDRESSES, id="v2"),
    # BAD_LENGTH
    pytest.param(
        replace(V3, extra=b"\x00"), Expectations(), RejectReason.BAD_LENGTH, id="one-byte-too-long"
    ),
    pytest.param(
        replace(V3, count=2), Expectations(), RejectReason.BAD_LENGTH, id="too-short-for-count"
    ),
    pytest.param(
        replace(V3, count=1, addresses=(VIP4, VIP4_B)),
        Expectations(),
        RejectReason.BAD_LENGTH,
        id="too-long-for-count",
    ),
    pytest.param(
        replace(V2, auth_data=b""),
        Expectations(),
        RejectReason.BAD_LENGTH,
        id="v2-without-auth-data",
    ),
    pytest.param(
        replace(V3, extra=bytes(28)),
        Expectations(),
        RejectReason.BAD_LENGTH,
        id="trailer-not-expected",
    ),
    pytest.param(
        replace(V3_IPV6, extra=bytes(28)),
        Expectations(),
        RejectReason.BAD_LENGTH,
        id="ipv6-trailer-not-expected",
    ),
    pytest.param(
        replace(V3, extra=bytes(27)),
        Expectations(trailer_length=28),
        RejectReason.BAD_LENGTH,
        id="trailer-one-byte-short",
    ),
    pytest.param(
        replace(V3, extra=bytes(29)),
        Expectations(trailer_length=28),
        RejectReason.BAD_LENGTH,
        id="trailer-one-byte-long",
    ),
    # BAD_CHECKSUM
    pytest.param(
        replace(V3, checksum_xor=1), Expectations(), RejectReason.BAD_CHECKSUM, id="v3-flipped"
    ),
    pytest.param(
        replace(V2, checksum_xor=0x8000), Expectations(), RejectReason.BAD_CHECKSUM, id="v2-flipped"
    ),
    pytest.param(
        replace(V3_IPV6, checksum_xor=0x0100),
        Expectations(),
        RejectReason.BAD_CHECKSUM,
        id="ipv6-flipped",
    ),
    pytest.param(
        replace(V3, mode=ChecksumMode.PSEUDO_HEADER),
        Expectations(checksum_modes=ONLY_RFC9568),
        RejectReason.BAD_CHECKSUM,
        id="pseudo-header-when-only-rfc9568",
    ),
    pytest.param(
        V3,
        Expectations(checksum_modes=ONLY_PSEUDO),
        RejectReason.BAD_CHECKSUM,
        id="rfc9568-when-only-pseudo-header",
    ),
    pytest.param(
        V3,
        Expectations(checksum_modes=frozenset()),
        RejectReason.BAD_CHECKSUM,
        id="no-mode-accepted",
    ),
    # BAD_INTERVAL
    pytest.param(replace(V3, interval=0), Expectations(), RejectReason.BAD_INTERVAL, id="v3-0"),
    pytest.param(
        replace(V3, interval=0, reserved=0xF),
        Expectations(),
        RejectReason.BAD_INTERVAL,
        id="v3-0-with-reserved-bits",
    ),
    pytest.param(replace(V2, interval=0), Expectations(), RejectReason.BAD_INTERVAL, id="v2-0"),
    # INTERVAL_MISMATCH
    pytest.param(
        replace(V2, interval=2),
        Expectations(v2_interval_cs=100),
        RejectReason.INTERVAL_MISMATCH,
        id="v2-2s-for-1s",
    ),
    # BAD_AUTH_TYPE
    pytest.param(
        replace(V2, auth_type=1), Expectations(), RejectReason.BAD_AUTH_TYPE, id="v2-simple-text"
    ),
    pytest.param(replace(V2, auth_type=2), Expectations(), RejectReason.BAD_AUTH_TYPE, id="v2-ah"),
]


@pytest.mark.parametrize(("spec", "expect", "reason"), REJECTIONS)
def test_packet_is_rejected_with_reason(
    spec: Spec, expect: Expectations, reason: RejectReason
) -> None:
    assert rejected(spec.packet(), expect) is reason
    assert validate(spec.packet(), expect) is reason


def test_every_codec_reason_is_exercised() -> None:
    exercised = {param.values[2] for param in REJECTIONS} | {RejectReason.TOO_SHORT}
    sender_and_auth = {
        RejectReason.FAMILY_MISMATCH,
        RejectReason.OWN_PACKET,
        RejectReason.UNKNOWN_PEER,
        *(reason for reason in RejectReason if reason.name.startswith("AUTH_")),
    }
    assert exercised == set(RejectReason) - sender_and_auth


def test_vrid_zero_is_refused_with_a_codec_error_not_a_usage_error() -> None:
    # decode() promises CodecError "and nothing else" on any bad input: VRID 0 must not reach
    # Advertisement(), whose own check raises ProtocolUsageError.
    with pytest.raises(CodecError):
        decode(replace(V3, vrid=0).packet())
    assert validate(replace(V3, vrid=0).packet()) is not None


def test_mixed_family_packet_is_a_usage_error() -> None:
    with pytest.raises(ProtocolUsageError):
        decode(ReceivedPacket(SOURCE4, GROUP6, 255, V3.packet().payload))


# --------------------------------------------------------------------------- pipeline order


@dataclass(frozen=True)
class Fault:
    reason: RejectReason
    fields: frozenset[str]
    changes: dict[str, Any]

    def apply(self, spec: Spec) -> Spec:
        return replace(spec, **self.changes)


def fault(reason: RejectReason, **changes: Any) -> Fault:
    return Fault(reason, frozenset(changes), changes)


# A VRRPv2 base can show every fault; listed in PIPELINE order.
ORDER_BASE = V2
ORDER_EXPECT = Expectations(vrid=51, version=2, v2_interval_cs=100)
FAULTS_IN_PIPELINE_ORDER = [
    fault(RejectReason.BAD_TTL, ttl=254),
    fault(RejectReason.BAD_VERSION, version=4),
    fault(RejectReason.VERSION_MISMATCH, version=3),
    fault(RejectReason.BAD_TYPE, kind=2),
    fault(RejectReason.BAD_VRID, vrid=0),
    fault(RejectReason.VRID_MISMATCH, vrid=52),
    fault(RejectReason.NO_ADDRESSES, addresses=()),
    fault(RejectReason.BAD_LENGTH, extra=b"\x00"),
    fault(RejectReason.BAD_CHECKSUM, checksum_xor=0x0001),
    fault(RejectReason.BAD_INTERVAL, interval=0),
    fault(RejectReason.INTERVAL_MISMATCH, interval=2),
    fault(RejectReason.BAD_AUTH_TYPE, auth_type=1),
]
FAULT_PAIRS = [
    pytest.param(first, second, id=f"{first.reason.value}+{second.reason.value}")
    for first, second in itertools.combinations(FAULTS_IN_PIPELINE_ORDER, 2)
    if not first.fields & second.fields
]


def test_order_base_is_accepted() -> None:
    assert reason_of(ORDER_BASE, ORDER_EXPECT) is None


@pytest.mark.parametrize("single", FAULTS_IN_PIPELINE_ORDER, ids=lambda f: f.reason.value)
def test_each_fault_alone_gives_its_reason(single: Fault) -> None:
    assert reason_of(single.apply(ORDER_BASE), ORDER_EXPECT) is single.reason


@pytest.mark.parametrize(("first", "second"), FAULT_PAIRS)
def test_two_faults_report_the_earlier_one(first: Fault, second: Fault) -> None:
    spec = second.apply(first.apply(ORDER_BASE))
    assert reason_of(spec, ORDER_EXPECT) is first.reason


def test_fault_pairs_cover_the_pipeline() -> None:
    assert len(FAULT_PAIRS) == 63  # 66 pairs less the 3 that change the same field


# --------------------------------------------------------------------------- Advertisement values

VALID = {"version": 3, "vrid": 51, "priority": 100, "interval_cs": 100, "addresses": (VIP4,)}


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 1},
        {"version": 4},
        {"vrid": 0},
        {"vrid": 256},
        {"priority": -1},
        {"priority": 256},
        {"addresses": ()},
        {"addresses": tuple(IPv4Address(0x0A000000 + n) for n in range(256))},
        {"addresses": (VIP4, VIP6)},
        {"interval_cs": 0},
        {"interval_cs": 4096},
        {"interval_cs": -1},
        {"version": 2, "addresses": (VIP6,)},
        {"version": 2, "interval_cs": 150},
        {"version": 2, "interval_cs": 50},
        {"version": 2, "interval_cs": 0},
        {"version": 2, "interval_cs": 25600},
    ],
    ids=str,
)
def test_advertisement_refuses_invalid_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ProtocolUsageError, match="invalid Advertisement"):
        Advertisement(**{**VALID, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"vrid": 1},
        {"vrid": 255},
        {"priority": 0},
        {"priority": 255},
        {"interval_cs": 1},
        {"interval_cs": 4095},
        {"addresses": tuple(IPv4Address(0x0A000000 + n) for n in range(255))},
        {"addresses": (VIP6,)},
        {"version": 2, "interval_cs": 100},
        {"version": 2, "interval_cs": 25500},
    ],
    ids=str,
)
def test_advertisement_accepts_boundary_values(changes: dict[str, Any]) -> None:
    advert = Advertisement(**{**VALID, **changes})
    assert {name: getattr(advert, name) for name in changes} == changes
    assert advert.is_ipv6 is isinstance(advert.addresses[0], IPv6Address)


# --------------------------------------------------------------------------- encoding


def test_v3_message_layout() -> None:
    advert = Advertisement(3, 51, 150, 4095, (VIP4, VIP4_B))
    assert encode_message(advert).hex() == "313396020fff0000c0000264c0000265"


def test_v2_message_layout_puts_seconds_and_auth_data() -> None:
    advert = Advertisement(2, 7, 254, 25500, (VIP4,))
    assert encode_message(advert).hex() == "2107fe0100ff0000c0000264" + "00" * 8


def test_v3_ipv6_message_layout() -> None:
    advert = Advertisement(3, 1, 0, 10, (VIP6,))
    assert encode_message(advert) == bytes.fromhex("31010001000a0000") + VIP6.packed


@pytest.mark.parametrize(
    ("mode", "checksum"), [(ChecksumMode.PSEUDO_HEADER, 0x42D9), (ChecksumMode.RFC9568, 0x2DB6)]
)
def test_encode_checksum_modes(mode: ChecksumMode, checksum: int) -> None:
    # keepalived 2.2.7's VRRPv3 advert from 10.77.0.1 (pseudo-header form captured on the wire)
    advert = Advertisement(3, 51, 150, 100, (IPv4Address("10.77.0.100"),))
    payload = encode(
        advert,
        source=IPv4Address("10.77.0.1"),
        destination=GROUP4,
        checksum_mode=mode,
    )
    assert payload == bytes.fromhex("313396010064") + checksum.to_bytes(2, "big") + bytes(
        (10, 77, 0, 100)
    )


# --------------------------------------------------------------------------- checksums


@pytest.mark.parametrize(
    ("data", "checksum"),
    [
        pytest.param(b"", 0xFFFF, id="empty"),
        pytest.param(bytes.fromhex("0001f203f4f5f6f7"), 0x220D, id="rfc1071-example"),
        pytest.param(b"\x01", 0xFEFF, id="odd-length-padded-right"),
        pytest.param(b"\x00\x01", 0xFFFE, id="one"),
        pytest.param(b"\xff\xff", 0x0000, id="negative-zero"),
        pytest.param(b"\xff\xff\x00\x01", 0xFFFE, id="end-around-carry"),
        pytest.param(b"\xff\xff" * 40000, 0x0000, id="many-carries"),
        pytest.param(bytes.fromhex("3133c801006400000a4e0064"), 0xFBB4, id="keepalived-message"),
    ],
)
def test_internet_checksum_known_values(data: bytes, checksum: int) -> None:
    assert internet_checksum(data) == checksum


@pytest.mark.parametrize("data", [b"\x12\x34\x56", bytes(range(51)), b"\x80" * 9])
def test_internet_checksum_of_data_with_its_checksum_is_zero(data: bytes) -> None:
    padded = data + b"\x00" * (len(data) % 2)
    assert internet_checksum(padded + internet_checksum(data).to_bytes(2, "big")) == 0


def test_pseudo_header_ipv4() -> None:
    header = pseudo_header(IPv4Address("10.78.0.1"), GROUP4, 12)
    assert header.hex() == "0a4e0001e00000120070000c"
    message = bytes.fromhex("3133c801006400000a4e0064")
    assert internet_checksum(header + message) == 0x10D7  # the live keepalived value


def test_pseudo_header_ipv6() -> None:
    header = pseudo_header(SOURCE6, GROUP6, 52)
    assert header == SOURCE6.packed + GROUP6.packed + bytes.fromhex("0000003400000070")


# --------------------------------------------------------------------------- Wire receive checks


def wire(**changes: Any) -> Wire:
    settings: dict[str, Any] = {"version": 3, "vrid": 51, "interval_cs": 100, "source": SOURCE4}
    return Wire(WireConfig(**{**settings, **changes}))


def test_wire_hears_a_valid_advert() -> None:
    heard = wire(source=IPv4Address("192.0.2.2")).receive(V3.packet(), 0)
    assert heard == Heard(Advertisement(3, 51, 100, 100, (VIP4,)), SOURCE4)


def test_wire_rejects_its_own_packet() -> None:
    assert wire().receive(V3.packet(), 0) is RejectReason.OWN_PACKET


def test_wire_rejects_other_family() -> None:
    assert wire(source=SOURCE6).receive(V3.packet(), 0) is RejectReason.FAMILY_MISMATCH


def test_unicast_wire_rejects_unknown_peer_and_skips_ttl_check() -> None:
    unicast = wire(source=IPv4Address("192.0.2.2"), peers=(IPv4Address("192.0.2.3"),))
    assert unicast.receive(V3.packet(), 0) is RejectReason.UNKNOWN_PEER
    peer = wire(source=IPv4Address("192.0.2.2"), peers=(SOURCE4,))
    assert isinstance(peer.receive(replace(V3, ttl=64).packet(), 0), Heard)


def test_multicast_wire_checks_ttl_and_maps_codec_reasons() -> None:
    receiver = wire(source=IPv4Address("192.0.2.2"))
    assert receiver.receive(replace(V3, ttl=64).packet(), 0) is RejectReason.BAD_TTL
    assert receiver.receive(replace(V3, vrid=52).packet(), 0) is RejectReason.VRID_MISMATCH
    assert receiver.receive(V2.packet(), 0) is RejectReason.VERSION_MISMATCH


def test_wire_checksum_policy_restricts_accepted_modes() -> None:
    strict = wire(source=IPv4Address("192.0.2.2"), checksum=ChecksumPolicy.RFC9568)
    pseudo = replace(V3, mode=ChecksumMode.PSEUDO_HEADER).packet()
    assert strict.receive(pseudo, 0) is RejectReason.BAD_CHECKSUM
    auto = wire(source=IPv4Address("192.0.2.2"))
    before = auto.send_checksum_mode  # the pseudo-header form until a peer is heard
    assert isinstance(auto.receive(V3.packet(), 0), Heard)  # an RFC 9568 peer
    assert (before, auto.send_checksum_mode) == (ChecksumMode.PSEUDO_HEADER, ChecksumMode.RFC9568)


def test_ttl_is_checked_before_size() -> None:
    packet = ReceivedPacket(IPv4Address("192.0.2.1"), IPv4Address("224.0.0.18"), 64, b"\x31")
    assert validate(packet) is RejectReason.BAD_TTL
