"""Golden vectors: real keepalived adverts and the auth_hmac draft appendix images.

Sources (copied from shared/reference): keepalived-2.2.7-adverts.txt (hex dumps, embedded below),
keepalived24-*.pcap (tests/proto/vectors) with keepalived24-auth-hmac.txt, and auth-hmac.md §10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import pytest
from pcap import Frame, parse_ethernet, read_pcap

from vipguard.proto.addresses import IPAddress
from vipguard.proto.auth import (
    AntiReplay,
    AuthConfig,
    Authenticator,
    AuthKey,
    Trailer,
    compute_tag,
    hmac_input,
)
from vipguard.proto.checksum import ChecksumMode
from vipguard.proto.errors import CodecError, RejectReason
from vipguard.proto.packet import (
    Advertisement,
    Decoded,
    Expectations,
    ReceivedPacket,
    decode,
    encode,
    seal,
)
from vipguard.proto.wire import ChecksumPolicy, Heard, Wire, WireConfig

VECTORS = Path(__file__).parent / "vectors"
NS = 1_000_000_000
TRAILER = Expectations(trailer_length=28)
CHECKSUM = slice(6, 8)


def checksum_of(payload: bytes) -> int:
    return int.from_bytes(payload[CHECKSUM], "big")


def reencode(decoded: Decoded, packet: ReceivedPacket) -> bytes:
    return encode(
        decoded.advert,
        source=packet.source,
        destination=packet.destination,
        checksum_mode=decoded.checksum_mode or ChecksumMode.RFC9568,
    )


def wall_ns_for(sequence: int) -> int:
    """A wall-clock reading whose fresh sequence (ctr 0) is exactly ``sequence``."""
    seconds, subsec = sequence >> 32, (sequence >> 16) & 0xFFFF
    assert sequence & 0xFFFF == 0
    return seconds * NS + math.ceil(subsec * NS / 65536)


def config(
    secret: bytes, *, key_id: int = 1, anti_replay: AntiReplay = AntiReplay.TIME
) -> AuthConfig:
    return AuthConfig((AuthKey(key_id, secret),), active_key=key_id, anti_replay=anti_replay)


# --------------------------------------------------------------------------- keepalived 2.2.7


@dataclass(frozen=True)
class Golden227:
    name: str
    frame: str  # the Ethernet frame as hex
    version: int
    priority: int
    interval_cs: int
    checksum: int
    checksum_mode: ChecksumMode | None


KEEPALIVED_227 = [
    Golden227(
        "v2-advert-int-1",
        "01005e000012a622d4706ba70800 45c0002800090000ff70d03c0a4d0001e0000012"
        "2133960100013e190a4d0064 0000000000000000",
        version=2,
        priority=150,
        interval_cs=100,
        checksum=0x3E19,
        checksum_mode=None,
    ),
    Golden227(
        "v3-advert-int-1",
        "01005e000012a622d4706ba70800 45c0002000090000ff70d0440a4d0001e0000012"
        "31339601006442d90a4d0064",
        version=3,
        priority=150,
        interval_cs=100,
        checksum=0x42D9,
        checksum_mode=ChecksumMode.PSEUDO_HEADER,
    ),
    Golden227(
        "v3-advert-int-0.1",
        "01005e000012a622d4706ba70800 45c0002000160000ff70d0370a4d0001e0000012"
        "31339601000a43330a4d0064",
        version=3,
        priority=150,
        interval_cs=10,
        checksum=0x4333,
        checksum_mode=ChecksumMode.PSEUDO_HEADER,
    ),
    Golden227(
        "v3-priority-0-on-sigterm",
        "01005e000012ea6c2487cd3c0800 45c0002000040000ff70d0490a4d0001e0000012"
        "313300010064d8d90a4d0064",
        version=3,
        priority=0,
        interval_cs=100,
        checksum=0xD8D9,
        checksum_mode=ChecksumMode.PSEUDO_HEADER,
    ),
]


def frame_227(golden: Golden227) -> Frame:
    return parse_ethernet(bytes.fromhex(golden.frame.replace(" ", "")))


@pytest.mark.parametrize("golden", KEEPALIVED_227, ids=lambda g: g.name)
def test_keepalived_227_frame_decodes_to_captured_fields(golden: Golden227) -> None:
    frame = frame_227(golden)
    assert (frame.source, frame.destination, frame.ttl) == (
        IPv4Address("10.77.0.1"),
        IPv4Address("224.0.0.18"),
        255,
    )

    decoded = decode(frame.received(), Expectations(vrid=51, version=golden.version))

    assert decoded.advert == Advertisement(
        version=golden.version,
        vrid=51,
        priority=golden.priority,
        interval_cs=golden.interval_cs,
        addresses=(IPv4Address("10.77.0.100"),),
    )
    assert len(decoded.advert.addresses) == frame.payload[3] == 1
    assert decoded.checksum_mode is golden.checksum_mode
    assert checksum_of(frame.payload) == golden.checksum
    assert decoded.trailer == b""


@pytest.mark.parametrize("golden", KEEPALIVED_227, ids=lambda g: g.name)
def test_keepalived_227_frame_reencodes_byte_identically(golden: Golden227) -> None:
    frame = frame_227(golden)
    decoded = decode(frame.received())
    assert reencode(decoded, frame.received()) == frame.payload


def test_keepalived_227_v2_advert_carries_eight_zero_auth_bytes() -> None:
    payload = frame_227(KEEPALIVED_227[0]).payload
    assert len(payload) == 20
    assert payload[12:] == bytes(8)


# --------------------------------------------------------------------------- the pcap reader


def test_reader_honours_ihl_and_total_length() -> None:
    # IPv4 with a 4-byte Router Alert option (IHL 6), then Ethernet padding after Total Length
    header = bytes.fromhex("46c0002400000000ff70 0000 0a000001 e0000012 94040000")
    payload = bytes.fromhex("31339601006400000a000064")
    frame = parse_ethernet(bytes(12) + b"\x08\x00" + header + payload + bytes(6), 5)
    assert frame == Frame(
        4, IPv4Address("10.0.0.1"), IPv4Address("224.0.0.18"), 255, 112, payload, 5
    )


def test_reader_refuses_ipv6_extension_headers() -> None:
    header = bytes.fromhex("6000000000080000") + bytes(32)  # next header 0: hop-by-hop options
    with pytest.raises(ValueError, match="extension headers"):
        parse_ethernet(bytes(12) + b"\x86\xdd" + header + bytes(8))


# --------------------------------------------------------------------------- keepalived 2.4 plain

PLAIN = read_pcap(VECTORS / "keepalived24-plain.pcap")
PLAIN_EXPECTED = {
    # frame number: (vrid, source, checksum mode, wire checksum)
    **{n: (52, "10.78.0.1", ChecksumMode.PSEUDO_HEADER, 0x10D6) for n in (1, 2, 3)},
    **{n: (53, "10.78.0.1", ChecksumMode.RFC9568, 0xFBB2) for n in (4, 5, 6)},
    **{n: (54, "fe80::a051:8dff:fe63:11fa", None, 0xCB1D) for n in (7, 8, 9)},
}


def test_plain_capture_has_nine_vrrp_frames() -> None:
    assert len(PLAIN) == 9
    assert [frame.family for frame in PLAIN] == [4] * 6 + [6] * 3
    assert {(frame.protocol, frame.ttl) for frame in PLAIN} == {(112, 255)}


@pytest.mark.parametrize("number", sorted(PLAIN_EXPECTED))
def test_plain_frame_decodes_with_its_checksum_variant(number: int) -> None:
    vrid, source, mode, checksum = PLAIN_EXPECTED[number]
    frame = PLAIN[number - 1]
    vip = IPv6Address("fd78::100") if frame.family == 6 else IPv4Address("10.78.0.100")

    decoded = decode(frame.received(), Expectations(vrid=vrid, version=3))

    assert frame.source == ip_address(source)
    assert decoded.advert == Advertisement(3, vrid, 200, 100, (vip,))
    assert decoded.checksum_mode is mode
    assert checksum_of(frame.payload) == checksum
    assert decoded.trailer == b""


@pytest.mark.parametrize("number", sorted(PLAIN_EXPECTED))
def test_plain_frame_reencodes_byte_identically(number: int) -> None:
    frame = PLAIN[number - 1]
    decoded = decode(frame.received())
    assert reencode(decoded, frame.received()) == frame.payload


# --------------------------------------------------------------------------- keepalived 2.4 auth

LIVE_KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
AUTH4 = read_pcap(VECTORS / "keepalived24-auth-hmac.pcap")
AUTH6 = read_pcap(VECTORS / "keepalived24-auth-hmac-ipv6.pcap")


@dataclass(frozen=True)
class LiveAuth:
    name: str
    frames: list[Frame]
    vrid: int
    source: IPAddress
    vip: IPAddress
    sequences: tuple[int, ...]
    checksums: tuple[int, ...]


LIVE = [
    LiveAuth(
        "ipv4",
        AUTH4,
        vrid=51,
        source=IPv4Address("10.78.0.1"),
        vip=IPv4Address("10.78.0.100"),
        sequences=(
            0x6B06E8F505170000,
            0x6B06E8F6051F0000,
            0x6B06E8F705280000,
            0x6B06E8F805340000,
            0x6B06E8F9053B0000,
        ),
        # pseudo-header + message only: the trailer is outside the IPv4 checksum
        checksums=(0x10D7,) * 5,
    ),
    LiveAuth(
        "ipv6",
        AUTH6,
        vrid=55,
        source=IPv6Address("fe80::a051:8dff:fe63:11fa"),
        vip=IPv6Address("fd78::100"),
        sequences=(
            0x6B06E9327A5B0000,
            0x6B06E9337A750000,
            0x6B06E9347A890000,
            0x6B06E9357A9B0000,
            0x6B06E9367AAA0000,
        ),
        # the kernel's checksum covers the trailer, so it changes with every advert
        checksums=(0x801C, 0xD727, 0x9D84, 0x8D03, 0x784F),
    ),
]
LIVE_FRAMES = [
    pytest.param(live, index, id=f"{live.name}-frame{index + 1}")
    for live in LIVE
    for index in range(len(live.frames))
]


def live_authenticator(
    live: LiveAuth, auth: AuthConfig | None = None, *, vrid: int | None = None
) -> Authenticator:
    return Authenticator(auth or config(LIVE_KEY), version=3, vrid=vrid or live.vrid)


def test_live_captures_have_five_frames_each() -> None:
    assert [len(live.frames) for live in LIVE] == [5, 5]
    assert [len(frame.payload) for frame in AUTH4] == [12 + 28] * 5
    assert [len(frame.payload) for frame in AUTH6] == [24 + 28] * 5


@pytest.mark.parametrize(("live", "index"), LIVE_FRAMES)
def test_live_auth_frame_decodes_with_trailer(live: LiveAuth, index: int) -> None:
    frame = live.frames[index]
    decoded = decode(frame.received(), Expectations(vrid=live.vrid, version=3, trailer_length=28))

    assert decoded.advert == Advertisement(3, live.vrid, 200, 100, (live.vip,))
    assert frame.source == live.source
    assert decoded.message == frame.payload[:6] + b"\x00\x00" + frame.payload[8:-28]
    assert decoded.trailer == frame.payload[-28:]
    trailer = Trailer.unpack(decoded.trailer)
    assert (trailer.ext_type, trailer.key_id, trailer.reserved) == (1, 1, 0)
    assert trailer.sequence == live.sequences[index]
    assert trailer.seconds == frame.timestamp_ns // NS  # signed in the second it was captured
    expected_mode = ChecksumMode.PSEUDO_HEADER if live.name == "ipv4" else None
    assert decoded.checksum_mode is expected_mode


def test_live_auth_frame_without_auth_expected_is_too_long() -> None:
    with pytest.raises(CodecError) as caught:
        decode(AUTH4[0].received())
    assert caught.value.reason is RejectReason.BAD_LENGTH


@pytest.mark.parametrize("live", LIVE, ids=lambda live: live.name)
def test_live_auth_frames_verify_in_time_mode_at_capture_time(live: LiveAuth) -> None:
    authenticator = live_authenticator(live)  # time mode, window 5 s, one receiver for all
    for frame in live.frames:
        decoded = decode(frame.received(), TRAILER)
        verdict = authenticator.verify(
            decoded.message, decoded.trailer, source=frame.source, wall_ns=frame.timestamp_ns
        )
        assert verdict is None


@pytest.mark.parametrize("live", LIVE, ids=lambda live: live.name)
def test_live_auth_frames_verify_in_monotonic_mode_and_replay_is_refused(live: LiveAuth) -> None:
    authenticator = live_authenticator(live, config(LIVE_KEY, anti_replay=AntiReplay.MONOTONIC))
    decoded = [decode(frame.received(), TRAILER) for frame in live.frames]
    for item in decoded:
        assert (
            authenticator.verify(item.message, item.trailer, source=live.source, wall_ns=0) is None
        )
    first = decoded[0]
    again = authenticator.verify(first.message, first.trailer, source=live.source, wall_ns=0)
    assert again is RejectReason.AUTH_REPLAY


WRONG_KEYS = [
    pytest.param(config(b"\xff" + LIVE_KEY[1:]), RejectReason.AUTH_BAD_HMAC, id="first-byte-ff"),
    pytest.param(config(LIVE_KEY[:-1] + b"\xee"), RejectReason.AUTH_BAD_HMAC, id="last-byte"),
    # (not b"\x00": HMAC zero-pads keys to its block size, so key + NUL is the same key)
    pytest.param(config(LIVE_KEY + b"\x01"), RejectReason.AUTH_BAD_HMAC, id="one-byte-longer"),
    pytest.param(config(LIVE_KEY, key_id=2), RejectReason.AUTH_UNKNOWN_KEY, id="right-key-id-2"),
]


@pytest.mark.parametrize(("live", "index"), LIVE_FRAMES)
@pytest.mark.parametrize(("auth", "reason"), WRONG_KEYS)
def test_live_auth_frame_fails_with_any_other_key(
    live: LiveAuth, index: int, auth: AuthConfig, reason: RejectReason
) -> None:
    frame = live.frames[index]
    decoded = decode(frame.received(), TRAILER)
    verdict = live_authenticator(live, auth).verify(
        decoded.message, decoded.trailer, source=frame.source, wall_ns=frame.timestamp_ns
    )
    assert verdict is reason


@pytest.mark.parametrize(("live", "index"), LIVE_FRAMES)
def test_live_auth_frame_tag_is_recomputed(live: LiveAuth, index: int) -> None:
    decoded = decode(live.frames[index].received(), TRAILER)
    trailer = Trailer.unpack(decoded.trailer)
    tag = compute_tag(
        LIVE_KEY,
        version=3,
        vrid=live.vrid,
        source=live.source,
        message=decoded.message,
        trailer=trailer,
    )
    assert tag == decoded.trailer[12:]


@pytest.mark.parametrize(
    ("frames", "vrid", "expected"),
    [
        (
            AUTH4,
            51,
            "040333000a4e0001000000000000000000000000"
            "3133c801006400000a4e0064"
            "010100006b06e8f505170000",
        ),
        (
            AUTH6,
            55,
            "06033700fe80000000000000a0518dfffe6311fa"
            "3137c80100640000fd780000000000000000000000000100"
            "010100006b06e9327a5b0000",
        ),
    ],
    ids=["ipv4", "ipv6"],
)
def test_live_hmac_input_matches_reference(frames: Any, vrid: int, expected: str) -> None:
    """pseudo-header | message with checksum zeroed | trailer bytes 0..11 | 16 zero bytes"""
    decoded = decode(frames[0].received(), TRAILER)
    data = hmac_input(
        version=3,
        vrid=vrid,
        source=frames[0].source,
        message=decoded.message,
        trailer=Trailer.unpack(decoded.trailer),
    )
    assert data == bytes.fromhex(expected) + bytes(16)


@pytest.mark.parametrize(("live", "index"), LIVE_FRAMES)
def test_resigning_with_the_captured_sequence_reproduces_the_trailer(
    live: LiveAuth, index: int
) -> None:
    decoded = decode(live.frames[index].received(), TRAILER)
    signer = live_authenticator(live)
    trailer = signer.sign(
        decoded.message, source=live.source, wall_ns=wall_ns_for(live.sequences[index])
    )
    assert trailer == decoded.trailer
    assert signer.sequences.last_sent == live.sequences[index]


@pytest.mark.parametrize(("live", "index"), LIVE_FRAMES)
def test_resealing_reproduces_the_payload_and_its_checksum(live: LiveAuth, index: int) -> None:
    frame = live.frames[index]
    decoded = decode(frame.received(), TRAILER)
    payload = seal(
        decoded.message,
        source=frame.source,
        destination=frame.destination,
        checksum_mode=decoded.checksum_mode or ChecksumMode.RFC9568,
        trailer=decoded.trailer,
    )
    assert payload == frame.payload
    assert checksum_of(payload) == live.checksums[index]


@pytest.mark.parametrize("live", LIVE, ids=lambda live: live.name)
def test_wire_configured_like_keepalived_transmits_the_captured_payloads(live: LiveAuth) -> None:
    wire = Wire(
        WireConfig(
            version=3,
            vrid=live.vrid,
            interval_cs=100,
            source=live.source,
            checksum=ChecksumPolicy.PSEUDO_HEADER,
            auth=config(LIVE_KEY),
        )
    )
    advert = Advertisement(3, live.vrid, 200, 100, (live.vip,))
    for frame, sequence in zip(live.frames, live.sequences, strict=True):
        (transmit,) = wire.transmit(advert, wall_ns_for(sequence))
        assert (transmit.destination, transmit.payload, transmit.priority) == (
            frame.destination,
            frame.payload,
            200,
        )


@pytest.mark.parametrize("live", LIVE, ids=lambda live: live.name)
def test_wire_configured_like_keepalived_backup_hears_the_captured_adverts(live: LiveAuth) -> None:
    backup_source = (
        IPv6Address("fe80::9856:e6ff:fe2d:5e5b")
        if live.name == "ipv6"
        else IPv4Address("10.78.0.2")
    )
    wire = Wire(WireConfig(3, live.vrid, 100, backup_source, auth=config(LIVE_KEY)))
    advert = Advertisement(3, live.vrid, 200, 100, (live.vip,))
    for frame in live.frames:
        assert wire.receive(frame.received(), frame.timestamp_ns) == Heard(advert, live.source)
    expected_mode = ChecksumMode.PSEUDO_HEADER if live.name == "ipv4" else None
    assert wire.peer_checksum_mode is expected_mode


# --------------------------------------------------------------------------- draft appendix

DRAFT_KEY = bytes(range(32))
DRAFT_SEQUENCE = 0x6800000080000000
DRAFT_SECONDS = 0x68000000


@dataclass(frozen=True)
class DraftVector:
    name: str
    source: IPAddress
    destination: IPAddress
    payload: bytes
    hmac_input: bytes
    tag: bytes
    checksum: int
    checksum_mode: ChecksumMode | None

    @property
    def message_length(self) -> int:
        return len(self.payload) - 28

    def received(self, payload: bytes | None = None) -> ReceivedPacket:
        return ReceivedPacket(self.source, self.destination, 255, payload or self.payload)


DRAFT_IPV4 = DraftVector(
    "ipv4",
    source=IPv4Address("198.51.100.10"),
    destination=IPv4Address("224.0.0.18"),
    payload=bytes.fromhex(
        "3133c80100644402c00002640101000068000000800000001b84bc4e8e43892dc6d98448f8ee2265"
    ),
    hmac_input=bytes.fromhex(
        "04033300c633640a000000000000000000000000"
        "3133c80100640000c0000264"
        "010100006800000080000000"
        "00000000000000000000000000000000"
    ),
    tag=bytes.fromhex("1b84bc4e8e43892dc6d98448f8ee2265"),
    checksum=0x4402,
    checksum_mode=ChecksumMode.RFC9568,
)
DRAFT_IPV6 = DraftVector(
    "ipv6",
    source=IPv6Address("fe80::10"),
    destination=IPv6Address("fe80::20"),
    payload=bytes.fromhex(
        "3133c8010064a2e9fe800000000000000000000000000100"
        "010100006800000080000000"
        "c8c56146ebfd66ee10ec4d8186461b78"
    ),
    hmac_input=bytes.fromhex(
        "06033300fe800000000000000000000000000010"
        "3133c80100640000fe800000000000000000000000000100"
        "010100006800000080000000"
        "00000000000000000000000000000000"
    ),
    tag=bytes.fromhex("c8c56146ebfd66ee10ec4d8186461b78"),
    checksum=0xA2E9,
    checksum_mode=None,
)
DRAFTS = [pytest.param(vector, id=vector.name) for vector in (DRAFT_IPV4, DRAFT_IPV6)]


def split_image(vector: DraftVector, payload: bytes) -> tuple[bytes, bytes]:
    """(message with the checksum zeroed, trailer): what the codec hands the authenticator."""
    message = payload[: vector.message_length]
    return message[:6] + b"\x00\x00" + message[8:], payload[vector.message_length :]


def draft_verify(
    vector: DraftVector,
    payload: bytes | None = None,
    *,
    authenticator: Authenticator | None = None,
    source: IPAddress | None = None,
    wall_ns: int = 0,
) -> RejectReason | None:
    message, trailer = split_image(vector, payload or vector.payload)
    authenticator = authenticator or draft_authenticator()
    return authenticator.verify(message, trailer, source=source or vector.source, wall_ns=wall_ns)


def draft_authenticator(
    *, vrid: int = 51, anti_replay: AntiReplay = AntiReplay.MONOTONIC
) -> Authenticator:
    return Authenticator(config(DRAFT_KEY, anti_replay=anti_replay), version=3, vrid=vrid)


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_decodes(vector: DraftVector) -> None:
    decoded = decode(vector.received(), TRAILER)
    vip = ip_address("192.0.2.100") if vector.name == "ipv4" else ip_address("fe80::100")
    assert decoded.advert == Advertisement(3, 51, 200, 100, (vip,))
    assert decoded.checksum_mode is vector.checksum_mode
    assert Trailer.unpack(decoded.trailer) == Trailer(1, DRAFT_SEQUENCE, vector.tag)


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_hmac_input(vector: DraftVector) -> None:
    message, trailer = split_image(vector, vector.payload)
    data = hmac_input(
        version=3,
        vrid=51,
        source=vector.source,
        message=message,
        trailer=Trailer.unpack(trailer),
    )
    assert data == vector.hmac_input


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_tag(vector: DraftVector) -> None:
    message, trailer = split_image(vector, vector.payload)
    tag = compute_tag(
        DRAFT_KEY,
        version=3,
        vrid=51,
        source=vector.source,
        message=message,
        trailer=Trailer.unpack(trailer),
    )
    assert tag == vector.tag


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_is_signed_and_sealed_identically(vector: DraftVector) -> None:
    message, trailer = split_image(vector, vector.payload)
    signer = draft_authenticator()
    signed = signer.sign(message, source=vector.source, wall_ns=wall_ns_for(DRAFT_SEQUENCE))
    assert signed == trailer
    payload = seal(
        message,
        source=vector.source,
        destination=vector.destination,
        checksum_mode=ChecksumMode.RFC9568,
        trailer=signed,
    )
    assert payload == vector.payload
    assert checksum_of(payload) == vector.checksum


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_verifies(vector: DraftVector) -> None:
    assert draft_verify(vector) is None


NEGATIVE_CASES = [
    # field: offset from the payload's start (>= 0) or end (< 0; the trailer is the last 28)
    pytest.param(2, RejectReason.AUTH_BAD_HMAC, id="priority"),
    pytest.param(5, RejectReason.AUTH_BAD_HMAC, id="interval"),
    pytest.param(8, RejectReason.AUTH_BAD_HMAC, id="vip-byte"),
    pytest.param(6, None, id="checksum"),
    pytest.param(-28, RejectReason.AUTH_MALFORMED, id="ext_type"),
    pytest.param(-27, RejectReason.AUTH_UNKNOWN_KEY, id="key_id"),
    pytest.param(-25, RejectReason.AUTH_MALFORMED, id="reserved"),
    pytest.param(-21, RejectReason.AUTH_BAD_HMAC, id="sec"),
    pytest.param(-17, RejectReason.AUTH_BAD_HMAC, id="ctr"),
    pytest.param(-1, RejectReason.AUTH_BAD_HMAC, id="hmac"),
]


def flip(payload: bytes, offset: int, mask: int = 0x01) -> bytes:
    flipped = bytearray(payload)
    flipped[offset] ^= mask
    return bytes(flipped)


@pytest.mark.parametrize("vector", DRAFTS)
@pytest.mark.parametrize(("offset", "reason"), NEGATIVE_CASES)
def test_draft_vector_with_one_bit_flipped(
    vector: DraftVector, offset: int, reason: RejectReason | None
) -> None:
    index = offset if offset >= 0 else len(vector.payload) + offset
    assert draft_verify(vector, flip(vector.payload, index)) is reason


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_checksum_flip_is_caught_by_the_codec(vector: DraftVector) -> None:
    with pytest.raises(CodecError) as caught:
        decode(vector.received(flip(vector.payload, 6)), TRAILER)
    assert caught.value.reason is RejectReason.BAD_CHECKSUM


@pytest.mark.parametrize(
    ("vector", "other"),
    [
        pytest.param(DRAFT_IPV4, IPv4Address("198.51.100.11"), id="ipv4"),
        pytest.param(DRAFT_IPV6, IPv6Address("fe80::20"), id="ipv6"),
    ],
)
def test_draft_vector_from_another_source_is_bad_hmac(
    vector: DraftVector, other: IPAddress
) -> None:
    assert draft_verify(vector, source=other) is RejectReason.AUTH_BAD_HMAC


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_for_another_vrid_is_bad_hmac(vector: DraftVector) -> None:
    authenticator = draft_authenticator(vrid=52)
    assert draft_verify(vector, authenticator=authenticator) is RejectReason.AUTH_BAD_HMAC


@pytest.mark.parametrize("vector", DRAFTS)
def test_draft_vector_second_delivery_is_replay_but_fresh_peer_accepts(
    vector: DraftVector,
) -> None:
    receiver = draft_authenticator()
    assert draft_verify(vector, authenticator=receiver) is None
    assert draft_verify(vector, authenticator=receiver) is RejectReason.AUTH_REPLAY
    assert draft_verify(vector, authenticator=draft_authenticator()) is None


@pytest.mark.parametrize("vector", DRAFTS)
@pytest.mark.parametrize(
    ("skew", "reason"),
    [
        (-100, RejectReason.AUTH_STALE),
        (+100, RejectReason.AUTH_STALE),
        (-6, RejectReason.AUTH_STALE),
        (+6, RejectReason.AUTH_STALE),
        (-5, None),
        (+5, None),
        (0, None),
    ],
)
def test_draft_vector_in_time_mode_with_skewed_clock(
    vector: DraftVector, skew: int, reason: RejectReason | None
) -> None:
    receiver = draft_authenticator(anti_replay=AntiReplay.TIME)  # window 5 s
    now = (DRAFT_SECONDS + skew) * NS
    assert draft_verify(vector, authenticator=receiver, wall_ns=now) is reason
