"""One virtual router's view of the wire: which packets it accepts, and the bytes it sends."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv6Address

from .addresses import IPAddress, vrrp_group
from .auth import TRAILER_LENGTH, AuthConfig, Authenticator
from .checksum import ChecksumMode
from .effects import Transmit
from .errors import CodecError, RejectReason
from .packet import Advertisement, Expectations, ReceivedPacket, decode, encode_message, seal


class ChecksumPolicy(StrEnum):
    """VRRPv3-over-IPv4 checksum: a fixed mode, or ``auto``: accept both, send what peers send,
    and until a peer is heard the pseudo-header form, which keepalived, FRR and Wireshark use, so
    a peer that knows only that form never refuses our adverts and takes over meanwhile."""

    RFC9568 = "rfc9568"
    PSEUDO_HEADER = "pseudo-header"
    AUTO = "auto"

    @property
    def accepted(self) -> frozenset[ChecksumMode]:
        if self is ChecksumPolicy.AUTO:
            return frozenset(ChecksumMode)
        return frozenset({ChecksumMode(self.value)})


@dataclass(frozen=True, slots=True)
class WireConfig:
    version: int
    vrid: int
    interval_cs: int
    source: IPAddress
    peers: tuple[IPAddress, ...] = ()
    group: IPAddress | None = None
    checksum: ChecksumPolicy = ChecksumPolicy.AUTO
    auth: AuthConfig | None = None

    @property
    def unicast(self) -> bool:
        return bool(self.peers)

    @property
    def destinations(self) -> tuple[IPAddress, ...]:
        return self.peers or (self.group or vrrp_group(self.source),)


@dataclass(frozen=True, slots=True)
class Heard:
    """An advert that passed the codec, the sender check and authentication."""

    advert: Advertisement
    source: IPAddress


class Wire:
    def __init__(self, config: WireConfig, *, last_sent_sequence: int | None = None) -> None:
        self.config = config
        self.authenticator = (
            Authenticator(
                config.auth,
                version=config.version,
                vrid=config.vrid,
                peer_count=len(config.peers),
                last_sent=last_sent_sequence,
            )
            if config.auth
            else None
        )
        self._expect = Expectations(
            vrid=config.vrid,
            version=config.version,
            check_ttl=not config.unicast,
            checksum_modes=config.checksum.accepted,
            v2_interval_cs=config.interval_cs if config.version == 2 else None,
            trailer_length=TRAILER_LENGTH if config.auth else 0,
        )
        self.peer_checksum_mode: ChecksumMode | None = None
        auto = config.checksum is ChecksumPolicy.AUTO
        self._fixed_mode = None if auto else ChecksumMode(config.checksum.value)
        # Without authentication a steady master sends the same bytes every interval: the last
        # advert accepted and the last one sealed are kept, so an idle pair decodes and seals
        # each once rather than once per interval (both are pure functions of what they keep).
        self._last_heard: tuple[ReceivedPacket, Heard, ChecksumMode | None] | None = None
        self._last_sent: tuple[Advertisement, ChecksumMode, tuple[Transmit, ...]] | None = None

    def reconfigured(self, config: WireConfig) -> Wire:
        """A wire for ``config`` that keeps what this one learned: the peers' checksum mode, the
        last sequence sent and, while the anti-replay policy is the same, the replay marks."""
        old = self.authenticator
        wire = Wire(config, last_sent_sequence=old.sequences.last_sent if old else None)
        wire.peer_checksum_mode = self.peer_checksum_mode
        if old and wire.authenticator:
            wire.authenticator.inherit_replay_marks(old)
        return wire

    @property
    def last_heard(self) -> tuple[ReceivedPacket, Heard] | None:
        """The last datagram accepted and what it said (never kept with authentication)."""
        last = self._last_heard
        return None if last is None else (last[0], last[1])

    @property
    def send_checksum_mode(self) -> ChecksumMode:
        return self._fixed_mode or self.peer_checksum_mode or ChecksumMode.PSEUDO_HEADER

    def receive(self, packet: ReceivedPacket, wall_ns: int) -> Heard | RejectReason:
        last = self._last_heard
        # Never set with authentication. A held repeat is the very object kept: no comparison.
        if last is not None and (last[0] is packet or last[0] == packet):
            _, heard, mode = last
            if mode is not None:
                self.peer_checksum_mode = mode
            return heard
        return self._receive(packet, wall_ns)

    def _receive(self, packet: ReceivedPacket, wall_ns: int) -> Heard | RejectReason:
        source = packet.source
        if source == self.config.source:
            return RejectReason.OWN_PACKET
        if isinstance(source, IPv6Address) != isinstance(self.config.source, IPv6Address):
            return RejectReason.FAMILY_MISMATCH
        if self.config.unicast and source not in self.config.peers:
            return RejectReason.UNKNOWN_PEER
        try:
            decoded = decode(packet, self._expect)
        except CodecError as error:
            return error.reason
        if self.authenticator:
            reason = self.authenticator.verify(
                decoded.message, decoded.trailer, source=source, wall_ns=wall_ns
            )
            if reason:
                return reason
        if decoded.checksum_mode is not None:
            self.peer_checksum_mode = decoded.checksum_mode
        heard = Heard(decoded.advert, source)
        if not self.authenticator:  # a signed advert repeated is a replay: verify each one
            self._last_heard = (packet, heard, decoded.checksum_mode)
        return heard

    def transmit(self, advert: Advertisement, wall_ns: int) -> list[Transmit]:
        """One signed advert, sealed once per destination (only the checksum differs)."""
        mode = self.send_checksum_mode
        last = self._last_sent
        # Never with auth. The router hands over the same advert object while it holds.
        if last is not None and (last[0] is advert or last[0] == advert) and last[1] is mode:
            return list(last[2])
        transmits = self._seal(advert, mode, wall_ns)
        if not self.authenticator:  # signed ones differ in their sequence each time
            self._last_sent = (advert, mode, tuple(transmits))
        return transmits

    def _seal(self, advert: Advertisement, mode: ChecksumMode, wall_ns: int) -> list[Transmit]:
        message = encode_message(advert)
        source = self.config.source
        trailer = b""
        if self.authenticator:
            trailer = self.authenticator.sign(message, source=source, wall_ns=wall_ns)
        return [
            Transmit(
                destination,
                seal(
                    message,
                    source=source,
                    destination=destination,
                    checksum_mode=mode,
                    trailer=trailer,
                ),
                advert.priority,
            )
            for destination in self.config.destinations
        ]
