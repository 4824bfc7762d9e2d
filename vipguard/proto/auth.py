"""Authenticated advertisements: the HMAC-SHA256 trailer of keepalived >= 2.4.2 (``auth_hmac``).

Wire layout (28 bytes, appended after the VRRP message)::

    ext_type(1)=1 | key_id(1) | reserved(2)=0 | sequence(8) = sec(4)|subsec(2)|ctr(2) | tag(16)

The tag is HMAC-SHA256 truncated to 16 bytes over a 20-byte pseudo-header (family 4/6, version,
VRID, 0, sender address zero-padded to 16 bytes), the message with its checksum zeroed, the first
12 trailer bytes and 16 zero bytes. The checksum is outside the tag, so one signature serves every
unicast copy.

Sequences are 64-bit and compared with RFC 1982 serial arithmetic. In ``time`` mode the seconds
must lie within ``time_window`` of the receiver's clock (peers need NTP); ``monotonic`` mode only
needs each sender's sequence to increase. Callers pass the wall clock in; they should pass one that
does not jump when the system clock is stepped (see the agent's clock).
"""

from __future__ import annotations

import hmac
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import sha256
from ipaddress import IPv6Address

from .addresses import IPAddress
from .errors import ProtocolUsageError, RejectReason

TRAILER_LENGTH = 28
TAG_LENGTH = 16
EXT_TYPE_HMAC_SHA256_128 = 1
MIN_KEY_LENGTH = 32
MAX_KEY_LENGTH = 64
MAX_TIME_WINDOW = 300
MULTICAST_REPLAY_SLOTS = 4

_TRAILER_PREFIX = struct.Struct("!BBHQ")
_SEQUENCE_MODULUS = 1 << 64
_NS_PER_SECOND = 1_000_000_000


class AuthMode(StrEnum):
    """Rollout stages: receive-only, then permissive, then enforce, each sweep hitless."""

    RECEIVE_ONLY = "receive-only"
    PERMISSIVE = "permissive"
    ENFORCE = "enforce"

    @property
    def signs(self) -> bool:
        return self is not AuthMode.RECEIVE_ONLY

    @property
    def requires_trailer(self) -> bool:
        return self is AuthMode.ENFORCE


class AntiReplay(StrEnum):
    TIME = "time"
    MONOTONIC = "monotonic"


@dataclass(frozen=True, slots=True)
class AuthKey:
    key_id: int
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.key_id <= 255:
            raise ProtocolUsageError(f"key id {self.key_id} is outside 1..255")
        if not MIN_KEY_LENGTH <= len(self.secret) <= MAX_KEY_LENGTH:
            raise ProtocolUsageError(
                f"key {self.key_id} is {len(self.secret)} bytes; keys are 32..64 bytes"
            )


def default_time_window(interval_cs: int) -> int:
    """keepalived's default: three whole advert intervals, at least 5 s, at most 300 s."""
    return min(max(3 * (interval_cs // 100), 5), MAX_TIME_WINDOW)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Keys and policy. Unlike keepalived, an ``active_key`` that names no key is refused here
    (it never silently runs unauthenticated)."""

    keys: tuple[AuthKey, ...]
    active_key: int
    mode: AuthMode = AuthMode.ENFORCE
    anti_replay: AntiReplay = AntiReplay.TIME
    time_window: int = 5

    def __post_init__(self) -> None:
        ids = [key.key_id for key in self.keys]
        if len(ids) != len(set(ids)):
            raise ProtocolUsageError(f"duplicate key ids in {sorted(ids)}")
        if self.active_key not in ids:
            raise ProtocolUsageError(f"active key {self.active_key} is not among keys {ids}")
        if not 1 <= self.time_window <= MAX_TIME_WINDOW:
            raise ProtocolUsageError(f"time window {self.time_window} s is outside 1..300")

    def secret(self, key_id: int) -> bytes | None:
        for key in self.keys:
            if key.key_id == key_id:
                return key.secret
        return None


# --------------------------------------------------------------------------- trailer values


@dataclass(frozen=True, slots=True)
class Trailer:
    key_id: int
    sequence: int
    tag: bytes = bytes(TAG_LENGTH)
    ext_type: int = EXT_TYPE_HMAC_SHA256_128
    reserved: int = 0

    @property
    def seconds(self) -> int:
        return self.sequence >> 32

    def prefix(self) -> bytes:
        """The first 12 bytes: everything but the tag."""
        return _TRAILER_PREFIX.pack(self.ext_type, self.key_id, self.reserved, self.sequence)

    def pack(self) -> bytes:
        return self.prefix() + self.tag

    @classmethod
    def unpack(cls, raw: bytes) -> Trailer:
        if len(raw) != TRAILER_LENGTH:
            raise ProtocolUsageError(f"a trailer is {TRAILER_LENGTH} bytes, got {len(raw)}")
        ext_type, key_id, reserved, sequence = _TRAILER_PREFIX.unpack_from(raw)
        return cls(key_id, sequence, raw[_TRAILER_PREFIX.size :], ext_type, reserved)


def hmac_input(
    *, version: int, vrid: int, source: IPAddress, message: bytes, trailer: Trailer
) -> bytes:
    """What the tag covers; ``message`` must have its checksum field zeroed."""
    family = 6 if isinstance(source, IPv6Address) else 4
    pseudo = bytes((family, version, vrid, 0)) + source.packed.ljust(16, b"\x00")
    return pseudo + message + trailer.prefix() + bytes(TAG_LENGTH)


def compute_tag(
    secret: bytes, *, version: int, vrid: int, source: IPAddress, message: bytes, trailer: Trailer
) -> bytes:
    data = hmac_input(version=version, vrid=vrid, source=source, message=message, trailer=trailer)
    return hmac.digest(secret, data, sha256)[:TAG_LENGTH]


# --------------------------------------------------------------------------- sequences


def serial_after(a: int, b: int) -> bool:
    """RFC 1982 for 64-bit values: ``a`` is after ``b`` if (a - b) is positive as an int64."""
    difference = (a - b) % _SEQUENCE_MODULUS
    return 0 < difference < (1 << 63)


def clock_sequence(wall_ns: int) -> int:
    """The sequence a fresh clock reading gives: sec(32) | subsec(16) | ctr(16)=0."""
    seconds, nanoseconds = divmod(wall_ns, _NS_PER_SECOND)
    subsec = nanoseconds * 65536 // _NS_PER_SECOND
    return ((seconds & 0xFFFFFFFF) << 32) | (subsec << 16)


def seconds_apart(now_seconds: int, sequence_seconds: int) -> int:
    """Signed 32-bit distance between two 32-bit second counts (wraps like the wire field)."""
    delta = (now_seconds - sequence_seconds) & 0xFFFFFFFF
    return delta - (1 << 32) if delta >= 1 << 31 else delta


class SequenceGenerator:
    """The sender side: never repeats a sequence, even when the clock reading stalls or steps back.

    ``last_sent`` may be restored from disk after a restart so that a receiver's high-water mark
    (kept forever in monotonic mode) is passed again at once.
    """

    def __init__(self, anti_replay: AntiReplay, time_window: int, last_sent: int | None = None):
        self._anti_replay = anti_replay
        self._time_window = time_window
        self.last_sent = last_sent

    def next(self, wall_ns: int) -> int:
        fresh = clock_sequence(wall_ns)
        last = self.last_sent
        if last is None or serial_after(fresh, last) or self._clock_stepped_back(fresh, last):
            sequence = fresh
        else:
            sequence = (last + 1) % _SEQUENCE_MODULUS
        self.last_sent = sequence
        return sequence

    def _clock_stepped_back(self, fresh: int, last: int) -> bool:
        # In time mode a sequence far ahead of the clock is stale at every receiver anyway:
        # follow the clock again instead of staying ahead of it forever.
        if self._anti_replay is not AntiReplay.TIME:
            return False
        return seconds_apart(last >> 32, fresh >> 32) > self._time_window


class ReplayGuard:
    """The receiver side: one high-water mark per sender, in at most ``slots`` LRU entries.

    Marks only move on verified adverts; in time mode a mark older than the window is forgotten,
    so a peer whose clock was corrected is heard again.
    """

    def __init__(self, anti_replay: AntiReplay, time_window: int, slots: int):
        self._anti_replay = anti_replay
        self._time_window = time_window
        self._slots = slots
        self._marks: OrderedDict[IPAddress, int] = OrderedDict()

    def admit(self, source: IPAddress, sequence: int, now_seconds: int) -> bool:
        mark = self._marks.get(source)
        if mark is not None and self._expired(mark, now_seconds):
            mark = None
        if mark is not None and not serial_after(sequence, mark):
            return False
        self._marks[source] = sequence
        self._marks.move_to_end(source)
        while len(self._marks) > self._slots:
            self._marks.popitem(last=False)
        return True

    def _expired(self, mark: int, now_seconds: int) -> bool:
        if self._anti_replay is not AntiReplay.TIME:
            return False
        return abs(seconds_apart(now_seconds, mark >> 32)) > self._time_window


# --------------------------------------------------------------------------- per-instance


class Authenticator:
    """Signs and verifies one virtual router's adverts."""

    def __init__(
        self,
        config: AuthConfig,
        *,
        version: int,
        vrid: int,
        peer_count: int = 0,
        last_sent: int | None = None,
    ) -> None:
        self.config = config
        self._version = version
        self._vrid = vrid
        self.sequences = SequenceGenerator(config.anti_replay, config.time_window, last_sent)
        slots = max(MULTICAST_REPLAY_SLOTS, peer_count)
        self._replay = ReplayGuard(config.anti_replay, config.time_window, slots)

    def inherit_replay_marks(self, previous: Authenticator) -> None:
        """Keep the high-water marks across a reload, so an advert captured before it cannot be
        replayed after it (only while the anti-replay policy is unchanged)."""
        same = (previous.config.anti_replay, previous.config.time_window) == (
            self.config.anti_replay,
            self.config.time_window,
        )
        if same:
            self._replay = previous._replay

    def sign(self, message: bytes, *, source: IPAddress, wall_ns: int) -> bytes:
        """The trailer to append to ``message`` (checksum zeroed), or b"" in receive-only mode."""
        if not self.config.mode.signs:
            return b""
        secret = self.config.secret(self.config.active_key)
        assert secret is not None  # AuthConfig guarantees the active key exists
        trailer = Trailer(self.config.active_key, self.sequences.next(wall_ns))
        return trailer.prefix() + self._tag(secret, source, message, trailer)

    def _tag(self, secret: bytes, source: IPAddress, message: bytes, trailer: Trailer) -> bytes:
        return compute_tag(
            secret,
            version=self._version,
            vrid=self._vrid,
            source=source,
            message=message,
            trailer=trailer,
        )

    def verify(
        self, message: bytes, trailer_bytes: bytes, *, source: IPAddress, wall_ns: int
    ) -> RejectReason | None:
        """Check a received trailer in keepalived's order; ``None`` means accepted."""
        if not trailer_bytes:
            return RejectReason.AUTH_MISSING if self.config.mode.requires_trailer else None
        trailer = Trailer.unpack(trailer_bytes)
        now_seconds = (wall_ns // _NS_PER_SECOND) & 0xFFFFFFFF
        secret = self.config.secret(trailer.key_id)
        checks = (
            (
                trailer.ext_type != EXT_TYPE_HMAC_SHA256_128 or trailer.reserved != 0,
                RejectReason.AUTH_MALFORMED,
            ),
            (self._stale(trailer, now_seconds), RejectReason.AUTH_STALE),
            (secret is None, RejectReason.AUTH_UNKNOWN_KEY),
        )
        for failed, reason in checks:
            if failed:
                return reason
        assert secret is not None
        if not hmac.compare_digest(self._tag(secret, source, message, trailer), trailer.tag):
            return RejectReason.AUTH_BAD_HMAC
        if not self._replay.admit(source, trailer.sequence, now_seconds):
            return RejectReason.AUTH_REPLAY
        return None

    def _stale(self, trailer: Trailer, now_seconds: int) -> bool:
        if self.config.anti_replay is not AntiReplay.TIME:
            return False
        return abs(seconds_apart(now_seconds, trailer.seconds)) > self.config.time_window
