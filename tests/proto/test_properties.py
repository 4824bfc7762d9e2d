"""Properties of the codec and the authenticated receive path (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pcap import Frame, read_pcap

from vipguard.proto.addresses import IPAddress, vrrp_group
from vipguard.proto.auth import (
    AntiReplay,
    AuthConfig,
    AuthKey,
    ReplayGuard,
    SequenceGenerator,
    clock_sequence,
    serial_after,
)
from vipguard.proto.checksum import ChecksumMode
from vipguard.proto.errors import CodecError, RejectReason
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

NS = 1_000_000_000
NOW_NS = 1_795_614_965 * NS
HOUR_NS = 3600 * NS
VECTORS = Path(__file__).parent / "vectors"
LIVE_KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")

ipv4s = st.integers(0, 2**32 - 1).map(IPv4Address)
ipv6s = st.integers(0, 2**128 - 1).map(IPv6Address)
checksum_modes = st.sampled_from(ChecksumMode)


def addresses_of(ipv6: bool) -> st.SearchStrategy[IPAddress]:
    return ipv6s if ipv6 else ipv4s


@st.composite
def adverts(draw: st.DrawFn, *, max_addresses: int = 255) -> Advertisement:
    version = draw(st.sampled_from((2, 3)))
    ipv6 = version == 3 and draw(st.booleans())
    seconds, centiseconds = st.integers(1, 255), st.integers(1, 4095)
    interval_cs = draw(seconds) * 100 if version == 2 else draw(centiseconds)
    addresses = draw(st.lists(addresses_of(ipv6), min_size=1, max_size=max_addresses))
    return Advertisement(
        version,
        draw(st.integers(1, 255)),
        draw(st.integers(0, 255)),
        interval_cs,
        tuple(addresses),
    )


@dataclass(frozen=True)
class Encoded:
    advert: Advertisement
    source: IPAddress
    destination: IPAddress
    mode: ChecksumMode

    def payload(self) -> bytes:
        return encode(
            self.advert, source=self.source, destination=self.destination, checksum_mode=self.mode
        )


@st.composite
def encoded(draw: st.DrawFn) -> Encoded:
    advert = draw(adverts())
    family = addresses_of(advert.is_ipv6)
    return Encoded(advert, draw(family), draw(family), draw(checksum_modes))


LARGEST = Encoded(
    Advertisement(3, 255, 255, 4095, tuple(IPv6Address(2**128 - 1 - n) for n in range(255))),
    IPv6Address("fe80::1"),
    IPv6Address("ff02::12"),
    ChecksumMode.RFC9568,
)
LARGEST_V2 = Encoded(
    Advertisement(2, 1, 0, 25500, tuple(IPv4Address(n) for n in range(255))),
    IPv4Address("0.0.0.0"),
    IPv4Address("255.255.255.255"),
    ChecksumMode.PSEUDO_HEADER,
)


# --------------------------------------------------------------------------- round trip


@settings(max_examples=400, deadline=None)
@given(case=encoded())
@example(case=LARGEST)
@example(case=LARGEST_V2)
def test_decode_inverts_encode(case: Encoded) -> None:
    payload = case.payload()
    packet = ReceivedPacket(case.source, case.destination, 255, payload)
    advert = case.advert

    decoded = decode(packet, Expectations(vrid=advert.vrid, version=advert.version))

    assert decoded.advert == advert
    assert decoded.message == encode_message(advert)
    assert decoded.trailer == b""
    if advert.version == 3 and not advert.is_ipv6:
        assert decoded.checksum_mode is not None
    else:
        assert decoded.checksum_mode is None
    again = encode(
        decoded.advert,
        source=case.source,
        destination=case.destination,
        checksum_mode=decoded.checksum_mode or ChecksumMode.RFC9568,
    )
    assert again == payload


@settings(max_examples=200, deadline=None)
@given(case=encoded(), trailer=st.binary(min_size=28, max_size=28))
def test_decode_splits_off_any_trailer_it_expects(case: Encoded, trailer: bytes) -> None:
    message = encode_message(case.advert)
    payload = seal(
        message,
        source=case.source,
        destination=case.destination,
        checksum_mode=case.mode,
        trailer=trailer,
    )
    packet = ReceivedPacket(case.source, case.destination, 255, payload)
    decoded = decode(packet, Expectations(trailer_length=28))
    assert (decoded.advert, decoded.message, decoded.trailer) == (case.advert, message, trailer)


# --------------------------------------------------------------------------- robustness


@st.composite
def endpoints(draw: st.DrawFn, *, ipv6: bool | None = None) -> tuple[IPAddress, IPAddress]:
    family = addresses_of(draw(st.booleans()) if ipv6 is None else ipv6)
    return draw(family), draw(family)


expectations = st.builds(
    Expectations,
    vrid=st.none() | st.integers(0, 255),
    version=st.none() | st.integers(0, 15),
    check_ttl=st.booleans(),
    checksum_modes=st.frozensets(checksum_modes),
    v2_interval_cs=st.none() | st.integers(0, 25600),
    trailer_length=st.sampled_from((0, 28)),
)
lenient_expectations = st.sampled_from(
    (Expectations(), Expectations(trailer_length=28), Expectations(check_ttl=False))
)


def sometimes(draw: Callable[[st.SearchStrategy[int]], int], rate: int = 4) -> bool:
    """True once in ``rate`` draws (hypothesis' own ``one_of`` splits evenly)."""
    return draw(st.integers(0, rate - 1)) == 0


@st.composite
def mostly_lenient_expectations(draw: st.DrawFn) -> Expectations:
    return draw(expectations if sometimes(draw) else lenient_expectations)


def decode_only_raises_codec_error(packet: ReceivedPacket, expect: Expectations) -> None:
    try:
        decoded = decode(packet, expect)
    except CodecError as error:
        assert isinstance(error.reason, RejectReason)
        assert validate(packet, expect) is error.reason
    else:
        assert decoded.advert.vrid == packet.payload[1]
        assert validate(packet, expect) is None


@settings(max_examples=400, deadline=None)
@given(
    ends=endpoints(), ttl=st.integers(0, 255), payload=st.binary(max_size=200), expect=expectations
)
def test_decoding_arbitrary_bytes_only_raises_codec_error(
    ends: tuple[IPAddress, IPAddress], ttl: int, payload: bytes, expect: Expectations
) -> None:
    decode_only_raises_codec_error(ReceivedPacket(*ends, ttl, payload), expect)


@st.composite
def plausible_payloads(draw: st.DrawFn, *, ipv6: bool) -> bytes:
    """Header fields drawn near their valid values, a body often of the right size."""
    version = draw(st.just(3) | st.just(2) | st.integers(0, 15))
    kind = draw(st.just(1) | st.integers(0, 15))
    count = draw(st.integers(0, 4) | st.integers(0, 255))
    word = draw(st.integers(0, 255) | st.integers(0, 4095) | st.integers(0, 0xFFFF))
    header = bytes((version << 4 | kind, draw(st.integers(0, 255)), draw(st.integers(0, 255))))
    header += bytes((count,)) + word.to_bytes(2, "big") + b"\x00\x00"
    exact = count * (16 if ipv6 else 4) + (8 if version == 2 else 0)
    body = draw(st.binary(min_size=exact, max_size=exact) | st.binary(max_size=80))
    return header + body


@st.composite
def mutated_messages(draw: st.DrawFn, *, ipv6: bool) -> bytes:
    """A valid advert's message with a few header bytes overwritten or its body cut short."""
    advert = draw(adverts(max_addresses=3).filter(lambda a: a.is_ipv6 == ipv6))
    message = bytearray(encode_message(advert))
    overwrites = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 255)), max_size=2)
    for offset, value in draw(overwrites):
        message[offset] = value
    cut = draw(st.integers(0, len(message) - 8)) if sometimes(draw) else 0
    return bytes(message[: len(message) - cut])


def check_decoding_only_raises_codec_error(
    data: st.DataObject,
    ipv6: bool,
    message: st.SearchStrategy[bytes],
    ttl: int,
    expect: Expectations,
) -> None:
    """Draw a message, maybe a trailer or junk after it, usually fix the checksum, decode."""
    source, destination = data.draw(endpoints(ipv6=ipv6))
    raw = data.draw(message)
    junk = st.binary(max_size=40)
    extra = data.draw(junk if sometimes(data.draw) else st.sampled_from((b"", bytes(28))))
    if not sometimes(data.draw):  # usually seal, so that the checks after the checksum run
        mode = data.draw(checksum_modes)
        payload = seal(
            raw, source=source, destination=destination, checksum_mode=mode, trailer=extra
        )
    else:
        payload = raw + extra
    decode_only_raises_codec_error(ReceivedPacket(source, destination, ttl, payload), expect)


@st.composite
def ttls(draw: st.DrawFn) -> int:
    return draw(st.integers(0, 254)) if sometimes(draw) else 255


@settings(max_examples=500, deadline=None)
@given(data=st.data(), ipv6=st.booleans(), ttl=ttls(), expect=mostly_lenient_expectations())
def test_decoding_plausible_packets_only_raises_codec_error(
    data: st.DataObject, ipv6: bool, ttl: int, expect: Expectations
) -> None:
    check_decoding_only_raises_codec_error(data, ipv6, plausible_payloads(ipv6=ipv6), ttl, expect)


@settings(max_examples=500, deadline=None)
@given(data=st.data(), ipv6=st.booleans(), ttl=ttls(), expect=mostly_lenient_expectations())
def test_decoding_mutated_adverts_only_raises_codec_error(
    data: st.DataObject, ipv6: bool, ttl: int, expect: Expectations
) -> None:
    check_decoding_only_raises_codec_error(data, ipv6, mutated_messages(ipv6=ipv6), ttl, expect)


# --------------------------------------------------------------------------- authenticated path


@dataclass(frozen=True)
class SignedCase:
    advert: Advertisement
    sender: IPAddress
    receiver: IPAddress
    policy: ChecksumPolicy
    auth: AuthConfig
    unicast: bool

    def wire(self, source: IPAddress, peer: IPAddress, policy: ChecksumPolicy) -> Wire:
        return Wire(
            WireConfig(
                version=self.advert.version,
                vrid=self.advert.vrid,
                interval_cs=self.advert.interval_cs,
                source=source,
                peers=(peer,) if self.unicast else (),
                checksum=policy,
                auth=self.auth,
            )
        )

    def transmitted(self) -> tuple[IPAddress, bytes]:
        (transmit,) = self.wire(self.sender, self.receiver, self.policy).transmit(
            self.advert, NOW_NS
        )
        return transmit.destination, transmit.payload

    def receive(self, destination: IPAddress, payload: bytes) -> Heard | RejectReason:
        """What a fresh receiver (no replay marks yet) makes of ``payload``."""
        receiver = self.wire(self.receiver, self.sender, ChecksumPolicy.AUTO)
        return receiver.receive(ReceivedPacket(self.sender, destination, 255, payload), NOW_NS)


@st.composite
def signed_cases(draw: st.DrawFn) -> SignedCase:
    advert = draw(adverts(max_addresses=4))
    sender: IPAddress
    receiver: IPAddress
    if advert.is_ipv6:
        sender, receiver = IPv6Address("fe80::1"), IPv6Address("fe80::2")
    else:
        sender, receiver = IPv4Address("10.78.0.1"), IPv4Address("10.78.0.2")
    auth = AuthConfig(
        (AuthKey(1, LIVE_KEY),),
        active_key=1,
        anti_replay=draw(st.sampled_from(AntiReplay)),
    )
    policy = draw(st.sampled_from((ChecksumPolicy.RFC9568, ChecksumPolicy.PSEUDO_HEADER)))
    return SignedCase(advert, sender, receiver, policy, auth, draw(st.booleans()))


def flip_bit(payload: bytes, bit: int) -> bytes:
    flipped = bytearray(payload)
    flipped[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(flipped)


@settings(max_examples=400, deadline=None)
@given(case=signed_cases(), data=st.data())
def test_any_single_bit_flip_of_a_signed_advert_is_rejected(
    case: SignedCase, data: st.DataObject
) -> None:
    destination, payload = case.transmitted()
    assert case.receive(destination, payload) == Heard(case.advert, case.sender)

    bit = data.draw(st.integers(0, len(payload) * 8 - 1), label="bit")
    assert isinstance(case.receive(destination, flip_bit(payload, bit)), RejectReason)


LIVE_RECEIVERS = [
    pytest.param(VECTORS / "keepalived24-auth-hmac.pcap", IPv4Address("10.78.0.2"), id="ipv4"),
    pytest.param(
        VECTORS / "keepalived24-auth-hmac-ipv6.pcap",
        IPv6Address("fe80::9856:e6ff:fe2d:5e5b"),
        id="ipv6",
    ),
]


def live_wire(frame: Frame, receiver: IPAddress) -> Wire:
    vrid = frame.payload[1]
    auth = AuthConfig((AuthKey(1, LIVE_KEY),), active_key=1)
    return Wire(WireConfig(3, vrid, 100, receiver, group=vrrp_group(receiver), auth=auth))


@pytest.mark.parametrize(("path", "receiver"), LIVE_RECEIVERS)
def test_every_single_bit_flip_of_a_live_keepalived_advert_is_rejected(
    path: Path, receiver: IPAddress
) -> None:
    frame = read_pcap(path)[0]
    assert isinstance(
        live_wire(frame, receiver).receive(frame.received(), frame.timestamp_ns), Heard
    )
    verdicts: dict[int, Heard | RejectReason] = {}
    for bit in range(len(frame.payload) * 8):
        packet = ReceivedPacket(
            frame.source, frame.destination, frame.ttl, flip_bit(frame.payload, bit)
        )
        verdicts[bit] = live_wire(frame, receiver).receive(packet, frame.timestamp_ns)
    accepted = [bit for bit, verdict in verdicts.items() if not isinstance(verdict, RejectReason)]
    assert accepted == []


# --------------------------------------------------------------------------- sequences


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.integers(-3 * HOUR_NS, 3 * HOUR_NS) | st.just(0), max_size=40))
def test_monotonic_sequences_always_increase_and_pass_the_replay_guard(steps: list[int]) -> None:
    generator = SequenceGenerator(AntiReplay.MONOTONIC, 5)
    guard = ReplayGuard(AntiReplay.MONOTONIC, 5, slots=4)
    source = IPv4Address("10.78.0.1")
    wall_ns, previous = NOW_NS, None
    for step in [0, *steps]:
        wall_ns += step
        sequence = generator.next(wall_ns)
        if previous is not None:
            assert serial_after(sequence, previous)
        assert guard.admit(source, sequence, wall_ns // NS)
        assert not guard.admit(source, sequence, wall_ns // NS)
        previous = sequence


@settings(max_examples=200, deadline=None)
@given(offsets=st.lists(st.integers(0, 6 * NS - 1), max_size=40))
def test_time_mode_sequences_increase_while_the_clock_jitters_within_the_window(
    offsets: list[int],
) -> None:
    # Every reading lies in [NOW, NOW + 6 s): whole seconds at most 5 apart, so never beyond the
    # 5 s window and the sender never restarts from the clock.
    generator = SequenceGenerator(AntiReplay.TIME, 5)
    previous = generator.next(NOW_NS)
    for offset in offsets:
        sequence = generator.next(NOW_NS + offset)
        assert serial_after(sequence, previous)
        previous = sequence


@settings(max_examples=100, deadline=None)
@given(ahead=st.integers(0, 5 * NS), back=st.integers(6 * NS, 48 * HOUR_NS))
def test_time_mode_sequence_follows_the_clock_after_a_step_back_beyond_the_window(
    ahead: int, back: int
) -> None:
    generator = SequenceGenerator(AntiReplay.TIME, 5)
    generator.next(NOW_NS + ahead)
    stepped = NOW_NS + ahead - back  # whole seconds at least 6 behind the last reading
    assert generator.next(stepped) == clock_sequence(stepped)
