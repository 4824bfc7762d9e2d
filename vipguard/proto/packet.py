"""VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798 / RFC 9568) advertisements: values, encoding, decoding.

Decoding is an ordered validation pipeline: each check returns ``None`` or the
:class:`RejectReason` of the first thing wrong, so every refusal is named and countable.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv6Address

from .addresses import IPAddress
from .checksum import ChecksumMode, internet_checksum, pseudo_header
from .errors import CodecError, ProtocolUsageError, RejectReason

ADVERTISEMENT = 1
REQUIRED_TTL = 255
HEADER_LENGTH = 8
V2_AUTH_DATA_LENGTH = 8
V3_MAX_INTERVAL_CS = 4095
V2_MAX_INTERVAL_S = 255
MAX_ADDRESSES = 255

_HEADER = struct.Struct("!BBBBHH")
_CHECKSUM_OFFSET = 6

ALL_CHECKSUM_MODES = frozenset(ChecksumMode)


@dataclass(frozen=True, slots=True)
class Advertisement:
    """One advertisement as the protocol sees it.

    ``interval_cs`` is the advertisement interval in centiseconds for both versions: VRRPv3
    carries it as is (12 bits); VRRPv2 carries whole seconds, so its interval is a multiple of 100.
    """

    version: int
    vrid: int
    priority: int
    interval_cs: int
    addresses: tuple[IPAddress, ...]

    def __post_init__(self) -> None:
        problem = _advert_problem(self)
        if problem:
            raise ProtocolUsageError(f"invalid Advertisement: {problem}")

    @property
    def is_ipv6(self) -> bool:
        return isinstance(self.addresses[0], IPv6Address)


def _advert_problem(advert: Advertisement) -> str:
    """Why ``advert`` cannot be sent, or "". Every advert sent is checked: the text of a problem
    is only made once one is found."""
    if advert.version not in (2, 3):
        return f"version {advert.version} is not 2 or 3"
    if not 1 <= advert.vrid <= 255:
        return f"vrid {advert.vrid} is outside 1..255"
    if not 0 <= advert.priority <= 255:
        return f"priority {advert.priority} is outside 0..255"
    if not 1 <= len(advert.addresses) <= MAX_ADDRESSES:
        return "needs 1..255 addresses"
    if len({type(a) for a in advert.addresses}) > 1:
        return "mixes IPv4 and IPv6 addresses"
    return _interval_problem(advert)


def _interval_problem(advert: Advertisement) -> str:
    if advert.version == 3:
        if not 1 <= advert.interval_cs <= V3_MAX_INTERVAL_CS:
            return f"VRRPv3 interval {advert.interval_cs} cs is outside 1..4095"
        return ""
    if advert.is_ipv6:
        return "VRRPv2 carries IPv4 addresses only"
    if advert.interval_cs % 100 or not 1 <= advert.interval_cs // 100 <= V2_MAX_INTERVAL_S:
        return f"VRRPv2 interval {advert.interval_cs} cs is not a whole 1..255 seconds"
    return ""


@dataclass(frozen=True, slots=True)
class ReceivedPacket:
    """What the socket layer hands the core: the IP payload and the header fields that matter."""

    source: IPAddress
    destination: IPAddress
    ttl: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the receiving instance is configured for; ``None`` means "any"."""

    vrid: int | None = None
    version: int | None = None
    check_ttl: bool = True
    checksum_modes: frozenset[ChecksumMode] = ALL_CHECKSUM_MODES
    v2_interval_cs: int | None = None
    trailer_length: int = 0


@dataclass(frozen=True, slots=True)
class Decoded:
    """A packet that passed every codec check."""

    advert: Advertisement
    message: bytes
    trailer: bytes
    checksum_mode: ChecksumMode | None = field(default=None)


def address_length(is_ipv6: bool) -> int:
    return 16 if is_ipv6 else 4


def message_length(version: int, count: int, is_ipv6: bool) -> int:
    auth_data = V2_AUTH_DATA_LENGTH if version == 2 else 0
    return HEADER_LENGTH + count * address_length(is_ipv6) + auth_data


# --------------------------------------------------------------------------- encoding


def encode_message(advert: Advertisement) -> bytes:
    """The VRRP message with its checksum field zeroed (the form the HMAC is computed over)."""
    # VRRPv2 puts auth type 0 in the high byte and whole seconds in the low one.
    word = advert.interval_cs if advert.version == 3 else advert.interval_cs // 100
    header = _HEADER.pack(
        (advert.version << 4) | ADVERTISEMENT,
        advert.vrid,
        advert.priority,
        len(advert.addresses),
        word,
        0,
    )
    body = b"".join(a.packed for a in advert.addresses)
    auth_data = bytes(V2_AUTH_DATA_LENGTH) if advert.version == 2 else b""
    return header + body + auth_data


def seal(
    message: bytes,
    *,
    source: IPAddress,
    destination: IPAddress,
    checksum_mode: ChecksumMode = ChecksumMode.RFC9568,
    trailer: bytes = b"",
) -> bytes:
    """Fill in the checksum of a zero-checksum ``message`` and append ``trailer``.

    Coverage follows what peers check: VRRPv2 and VRRPv3/IPv4 sum the message only (with an IPv4
    pseudo-header in ``PSEUDO_HEADER`` mode), never the trailer; IPv6 sums pseudo-header, message
    and trailer, as the kernel's IPV6_CHECKSUM does.
    """
    version = message[0] >> 4
    if isinstance(source, IPv6Address):
        covered = pseudo_header(source, destination, len(message) + len(trailer))
        covered += message + trailer
    elif version == 3 and checksum_mode is ChecksumMode.PSEUDO_HEADER:
        covered = pseudo_header(source, destination, len(message)) + message
    else:
        covered = message
    checksum = internet_checksum(covered).to_bytes(2, "big")
    return message[:_CHECKSUM_OFFSET] + checksum + message[_CHECKSUM_OFFSET + 2 :] + trailer


def encode(
    advert: Advertisement,
    *,
    source: IPAddress,
    destination: IPAddress,
    checksum_mode: ChecksumMode = ChecksumMode.RFC9568,
) -> bytes:
    """An unauthenticated advertisement ready for the wire."""
    return seal(
        encode_message(advert),
        source=source,
        destination=destination,
        checksum_mode=checksum_mode,
    )


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class _View:
    """The packet under inspection; header fields are read only once the size check passed."""

    packet: ReceivedPacket
    expect: Expectations

    @cached_property
    def _header(self) -> tuple[int, ...]:
        return _HEADER.unpack_from(self.packet.payload)

    @property
    def version(self) -> int:
        return self._header[0] >> 4

    @property
    def kind(self) -> int:
        return self._header[0] & 0x0F

    @property
    def vrid(self) -> int:
        return self._header[1]

    @property
    def priority(self) -> int:
        return self._header[2]

    @property
    def count(self) -> int:
        return self._header[3]

    @property
    def word(self) -> int:
        return self._header[4]

    @property
    def is_ipv6(self) -> bool:
        return isinstance(self.packet.source, IPv6Address)

    @property
    def message_length(self) -> int:
        return message_length(self.version, self.count, self.is_ipv6)

    @property
    def message(self) -> bytes:
        return self.packet.payload[: self.message_length]

    @property
    def interval_cs(self) -> int:
        return self.word & 0x0FFF if self.version == 3 else (self.word & 0xFF) * 100

    @cached_property
    def checksum_mode(self) -> ChecksumMode | bool | None:
        return _verified_checksum_mode(self)


_Check = Callable[[_View], RejectReason | None]


def _check_ttl(view: _View) -> RejectReason | None:
    if view.expect.check_ttl and view.packet.ttl != REQUIRED_TTL:
        return RejectReason.BAD_TTL
    return None


def _check_size(view: _View) -> RejectReason | None:
    return RejectReason.TOO_SHORT if len(view.packet.payload) < HEADER_LENGTH else None


def _check_version(view: _View) -> RejectReason | None:
    if view.version not in (2, 3) or (view.version == 2 and view.is_ipv6):
        return RejectReason.BAD_VERSION
    if view.expect.version is not None and view.version != view.expect.version:
        return RejectReason.VERSION_MISMATCH
    return None


def _check_type(view: _View) -> RejectReason | None:
    return RejectReason.BAD_TYPE if view.kind != ADVERTISEMENT else None


def _check_vrid(view: _View) -> RejectReason | None:
    if view.vrid == 0:
        return RejectReason.BAD_VRID
    if view.expect.vrid is not None and view.vrid != view.expect.vrid:
        return RejectReason.VRID_MISMATCH
    return None


def _check_count(view: _View) -> RejectReason | None:
    return RejectReason.NO_ADDRESSES if view.count == 0 else None


def _check_length(view: _View) -> RejectReason | None:
    allowed = {view.message_length}
    if view.expect.trailer_length:
        allowed.add(view.message_length + view.expect.trailer_length)
    return None if len(view.packet.payload) in allowed else RejectReason.BAD_LENGTH


def _check_checksum(view: _View) -> RejectReason | None:
    return None if view.checksum_mode is not False else RejectReason.BAD_CHECKSUM


def _verified_checksum_mode(view: _View) -> ChecksumMode | bool | None:
    """The v3/IPv4 mode that verifies, ``None`` if the only possible way verifies, else False."""
    packet = view.packet
    if view.is_ipv6:
        covered = pseudo_header(packet.source, packet.destination, len(packet.payload))
        return None if internet_checksum(covered + packet.payload) == 0 else False
    if view.version == 2:
        return None if internet_checksum(view.message) == 0 else False
    for mode in (ChecksumMode.RFC9568, ChecksumMode.PSEUDO_HEADER):
        if mode not in view.expect.checksum_modes:
            continue
        prefix = b""
        if mode is ChecksumMode.PSEUDO_HEADER:
            prefix = pseudo_header(packet.source, packet.destination, view.message_length)
        if internet_checksum(prefix + view.message) == 0:
            return mode
    return False


def _check_interval(view: _View) -> RejectReason | None:
    if view.interval_cs == 0:
        return RejectReason.BAD_INTERVAL
    expected = view.expect.v2_interval_cs
    if view.version == 2 and expected is not None and view.interval_cs != expected:
        return RejectReason.INTERVAL_MISMATCH
    return None


def _check_auth_type(view: _View) -> RejectReason | None:
    if view.version == 2 and view.word >> 8 != 0:
        return RejectReason.BAD_AUTH_TYPE
    return None


PIPELINE: tuple[_Check, ...] = (
    _check_ttl,
    _check_size,
    _check_version,
    _check_type,
    _check_vrid,
    _check_count,
    _check_length,
    _check_checksum,
    _check_interval,
    _check_auth_type,
)
"""The checks in the order they run; the first that fails names the rejection."""


def decode(packet: ReceivedPacket, expect: Expectations = Expectations()) -> Decoded:
    """Validate and decode; raises :class:`CodecError` (and nothing else) on any bad input."""
    if isinstance(packet.source, IPv6Address) != isinstance(packet.destination, IPv6Address):
        raise ProtocolUsageError("source and destination families differ")
    view = _View(packet, expect)
    for check in PIPELINE:
        reason = check(view)
        if reason is not None:
            raise CodecError(reason, f"from {packet.source}")
    return _decoded(view)


def validate(packet: ReceivedPacket, expect: Expectations = Expectations()) -> RejectReason | None:
    """The first reason ``packet`` is unacceptable, or ``None``."""
    try:
        decode(packet, expect)
    except CodecError as error:
        return error.reason
    return None


def _decoded(view: _View) -> Decoded:
    width = address_length(view.is_ipv6)
    make: Callable[[bytes], IPAddress] = IPv6Address if view.is_ipv6 else IPv4Address
    raw = view.packet.payload
    addresses = tuple(
        make(raw[offset : offset + width])
        for offset in range(HEADER_LENGTH, HEADER_LENGTH + view.count * width, width)
    )
    advert = Advertisement(view.version, view.vrid, view.priority, view.interval_cs, addresses)
    mode = view.checksum_mode
    assert not isinstance(mode, bool)  # the pipeline already refused a failing checksum
    zeroed = view.message[:_CHECKSUM_OFFSET] + b"\x00\x00" + view.message[_CHECKSUM_OFFSET + 2 :]
    return Decoded(advert, zeroed, raw[view.message_length :], mode)
