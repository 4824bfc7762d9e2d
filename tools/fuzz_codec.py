"""Fuzz the VRRP codec and one virtual router's receive path.

The target (:func:`check`) takes one input: a 12-byte prologue that picks the receiving router's
configuration, the decoder's expectations, the packet's IP fields and what the harness repairs
after mutation (the checksum, the HMAC trailer: without repairs a fuzzer never gets past them),
followed by the VRRP payload. For every input:

* ``vipguard.proto.packet.decode`` with arbitrary :class:`Expectations` raises nothing but
  ``CodecError``; what it returns agrees with the expectations, the TTL rule and an independent
  checksum, and round-trips through ``encode``;
* ``vipguard.proto.wire.Wire.receive`` (without auth, and with auth in every mode: the trailer is
  parsed through this full path) never raises; what it accepts is for this router, from the
  packet's source (a listed peer in unicast mode), and under auth carries a known key, a tag that
  an independent HMAC-SHA256 agrees with, a sequence inside the time window and after the last
  one accepted from that source; in enforce mode it carries a trailer at all.

Wires persist across inputs (one per configuration), so replay marks build up as in a running
agent; the receiver's clock advances 10 ms per input.

Engines: ``random`` (default): seeded, deterministic, structure-aware mutations of valid adverts
of every kind (VRRPv2/v3, IPv4/IPv6, signed or not); findings are collected and printed with
their input. ``atheris`` (``pip install atheris``): coverage-guided libFuzzer on the same target,
seeded with the same adverts, its corpus kept in ``--artifacts``/corpus; it stops at the first
finding and writes the input to ``--artifacts``. ``auto`` picks atheris when it is installed.

    python tools/fuzz_codec.py --runs 1000000 --seed 1 --engine auto   # make fuzz
    python tools/fuzz_codec.py --replay HEX                            # one input again

``tests/sim/test_fuzz_smoke.py`` runs :func:`fuzz` for 20,000 inputs on every ``make test``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import random
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from vipguard.proto.addresses import IPAddress, vrrp_group
from vipguard.proto.auth import AntiReplay, AuthConfig, AuthKey, AuthMode
from vipguard.proto.checksum import ChecksumMode
from vipguard.proto.errors import CodecError, RejectReason
from vipguard.proto.packet import (
    Advertisement,
    Decoded,
    Expectations,
    ReceivedPacket,
    decode,
    encode,
)
from vipguard.proto.wire import ChecksumPolicy, Heard, Wire, WireConfig

PROLOGUE = 12
TRAILER = 28
NS = 1_000_000_000
BASE_WALL_NS = 1_795_614_965 * NS
STEP_NS = 10_000_000  # the receiver's clock advances this much per input
MAX_WIRES = 4096
PROGRESS_EVERY = 100_000

# Bit 0 of prologue byte 0 picks the family; these tables are indexed by prologue bits.
OWN = {False: IPv4Address("192.0.2.1"), True: IPv6Address("fe80::1")}
PEERS = {
    False: tuple(IPv4Address(f"192.0.2.{n}") for n in (2, 3, 4)),
    True: tuple(IPv6Address(f"fe80::{n}") for n in (2, 3, 4)),
}
OUTSIDER = {False: IPv4Address("198.51.100.7"), True: IPv6Address("2001:db8::7")}
KEYS = {1: bytes(range(32)), 3: bytes(range(100, 164))}  # the receivers' keys (1 is active)
WRONG_SECRET = bytes(range(1, 33))
WINDOWS = (5, 1, 2, 300)
WIRE_VRIDS = (51, 1, 255, 52)
POLICIES = (
    ChecksumPolicy.AUTO,
    ChecksumPolicy.RFC9568,
    ChecksumPolicy.PSEUDO_HEADER,
    ChecksumPolicy.AUTO,
)
MODES = (AuthMode.ENFORCE, AuthMode.PERMISSIVE, AuthMode.RECEIVE_ONLY, AuthMode.ENFORCE)
TRAILER_LENGTHS = (0, TRAILER, 0, TRAILER, 1, 8, 27, 255)
MODE_SETS = (
    frozenset(ChecksumMode),
    frozenset({ChecksumMode.RFC9568}),
    frozenset({ChecksumMode.PSEUDO_HEADER}),
    frozenset(),
)

# Prologue byte 0 flags.
F_IPV6, F_AUTH, F_UNICAST, F_FIX_SUM, F_SIGN, F_CHECK_TTL, F_MONOTONIC, F_PSEUDO = (
    1 << n for n in range(8)
)


class Finding(AssertionError):
    """The code under test broke its contract on this input."""


# --------------------------------------------------------------------------- independent oracles


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo(source: IPAddress, destination: IPAddress, length: int) -> bytes:
    if isinstance(source, IPv4Address):
        return source.packed + destination.packed + struct.pack("!BBH", 0, 112, length)
    return source.packed + destination.packed + struct.pack("!I3xB", length, 112)


def message_length(payload: bytes, ipv6: bool) -> int:
    """What the header says the message (without trailer) is: 8 + addresses (+ 8 for v2)."""
    version, count = payload[0] >> 4, payload[3]
    return 8 + count * (16 if ipv6 else 4) + (8 if version == 2 else 0)


def checksum_ok(
    payload: bytes, source: IPAddress, dest: IPAddress, modes: frozenset[ChecksumMode]
) -> bool:
    """Does the checksum verify in a way the receiver may accept?"""
    if isinstance(source, IPv6Address):
        return checksum(pseudo(source, dest, len(payload)) + payload) == 0
    message = payload[: message_length(payload, False)]
    if payload[0] >> 4 == 2:
        return checksum(message) == 0
    plain = ChecksumMode.RFC9568 in modes and checksum(message) == 0
    covered = pseudo(source, dest, len(message)) + message
    return plain or (ChecksumMode.PSEUDO_HEADER in modes and checksum(covered) == 0)


def tag(secret: bytes, source: IPAddress, message: bytes, prefix: bytes) -> bytes:
    family = 6 if isinstance(source, IPv6Address) else 4
    head = bytes((family, message[0] >> 4, message[1], 0)) + source.packed.ljust(16, b"\0")
    zeroed = message[:6] + b"\0\0" + message[8:]
    return hmac.digest(secret, head + zeroed + prefix + bytes(16), hashlib.sha256)[:16]


def serial_after(a: int, b: int) -> bool:
    return 0 < (a - b) % (1 << 64) < (1 << 63)


def seconds_apart(now: int, then: int) -> int:
    delta = (now - then) & 0xFFFFFFFF
    return delta - (1 << 32) if delta >= 1 << 31 else delta


# --------------------------------------------------------------------------- the target


@dataclass(frozen=True)
class Case:
    """One input, read from bytes (any bytes are a case)."""

    ipv6: bool
    wire_key: tuple[object, ...]
    config: WireConfig
    expect: Expectations
    packet: ReceivedPacket
    signing: tuple[int, bytes, int, int] | None  # key id, secret, sequence mode, raw bits
    age: int
    ext_type: int
    fix_checksum: bool
    pseudo_checksum: bool

    @classmethod
    def parse(cls, data: bytes) -> Case:
        p = data[:PROLOGUE].ljust(PROLOGUE, b"\0")
        flags, ipv6 = p[0], bool(p[0] & F_IPV6)
        version = 2 if p[1] & 1 else 3
        policy = POLICIES[(p[1] >> 1) & 3]
        auth = None
        if flags & F_AUTH:
            auth = AuthConfig(
                tuple(AuthKey(k, s) for k, s in KEYS.items()),
                1,
                mode=MODES[(p[1] >> 3) & 3],
                anti_replay=AntiReplay.MONOTONIC if flags & F_MONOTONIC else AntiReplay.TIME,
                time_window=WINDOWS[(p[1] >> 5) & 3],
            )
        wire_vrid = WIRE_VRIDS[p[2] & 3]
        peers = PEERS[ipv6] if flags & F_UNICAST else ()
        config = WireConfig(version, wire_vrid, 100, OWN[ipv6], peers, None, policy, auth)
        # The packet's family is the router's, except for source 7: the other family's group.
        family = not ipv6 if p[4] & 7 == 7 else ipv6
        source = (*PEERS[ipv6], OWN[ipv6], OUTSIDER[ipv6], *PEERS[ipv6][:2], OUTSIDER[family])[
            p[4] & 7
        ]
        dests = (vrrp_group(OWN[family]), OWN[family], OUTSIDER[family], PEERS[family][0])
        dest = dests[(p[4] >> 3) & 3]
        expect = Expectations(
            vrid=(None, wire_vrid, wire_vrid ^ 1, 0, 255, None, 300, -1)[p[4] >> 5],
            version=(None, 3, 2, None, 3, 0, 1, 4)[p[5] & 7],
            check_ttl=bool(flags & F_CHECK_TTL),
            checksum_modes=MODE_SETS[p[5] >> 6],
            v2_interval_cs=None if p[6] == 0 else (p[6] * 100 if p[6] < 200 else p[6]),
            trailer_length=TRAILER_LENGTHS[(p[5] >> 3) & 7],
        )
        packet = ReceivedPacket(source, dest, p[3], data[PROLOGUE:])
        signing = None
        if flags & F_SIGN:
            key_id, secret = ((1, KEYS[1]), (3, KEYS[3]), (2, KEYS[1]), (1, WRONG_SECRET))[p[8] & 3]
            signing = (key_id, secret, (p[8] >> 2) & 3, int.from_bytes(p[9:12], "big"))
        ext_type = 1 if p[8] >> 4 in (0, 1) else p[8] >> 4
        wire_key = (
            ipv6,
            version,
            policy,
            wire_vrid,
            bool(peers),
            auth and (auth.mode, auth.anti_replay, auth.time_window),
        )
        age = struct.unpack("b", p[7:8])[0]
        return cls(
            ipv6,
            wire_key,
            config,
            expect,
            packet,
            signing,
            age,
            ext_type,
            bool(flags & F_FIX_SUM),
            bool(flags & F_PSEUDO),
        )


@dataclass
class Target:
    """The fuzz target and its state (wires, what each has accepted, the clock)."""

    runs: int = 0
    accepted: int = 0
    accepted_signed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    wires: dict[tuple[object, ...], Wire] = field(default_factory=dict)
    marks: dict[tuple[object, ...], int] = field(default_factory=dict)
    signed: dict[tuple[object, ...], int] = field(default_factory=dict)
    counter: int = 0

    def now_ns(self) -> int:
        return BASE_WALL_NS + self.runs * STEP_NS

    def check_bytes(self, data: bytes) -> None:
        """The target proper: parse, repair, then check decode and Wire.receive."""
        self.runs += 1
        case = Case.parse(data)
        packet = self.repaired(case)
        self.check_decode(case, packet)
        self.check_receive(case, packet)

    # ------------------------------------------------------------------ repairs

    def repaired(self, case: Case) -> ReceivedPacket:
        packet = case.packet
        payload = packet.payload
        if len(payload) < 8:
            return packet
        length = message_length(payload, isinstance(packet.source, IPv6Address))
        if case.signing and len(payload) >= length:
            payload = payload[:length] + self.trailer(case, payload[:length])
        if case.fix_checksum and len(payload) >= length:
            payload = self.fix_checksum(case, payload, length)
        return ReceivedPacket(packet.source, packet.destination, packet.ttl, payload)

    def trailer(self, case: Case, message: bytes) -> bytes:
        assert case.signing is not None
        key_id, secret, how, raw = case.signing
        key = (case.wire_key, case.packet.source)
        last = self.signed.get(key)
        wall_ns = self.now_ns() - case.age * NS
        if how == 1 and last is not None:
            sequence = last  # an exact replay
        elif how == 2 and last is not None:
            sequence = (last - 1) % (1 << 64)
        elif how == 3:
            sequence = ((wall_ns // NS) & 0xFFFFFFFF) << 32 | raw << 8
        else:
            self.counter = (self.counter + 1) & 0xFFFF
            seconds, rest = divmod(wall_ns, NS)
            sequence = ((seconds & 0xFFFFFFFF) << 32) | (rest * 65536 // NS) << 16 | self.counter
        self.signed[key] = sequence
        prefix = struct.pack("!BBHQ", case.ext_type, key_id, 0, sequence)
        return prefix + tag(secret, case.packet.source, message, prefix)

    def fix_checksum(self, case: Case, payload: bytes, length: int) -> bytes:
        zeroed = payload[:6] + b"\0\0" + payload[8:]
        source, dest = case.packet.source, case.packet.destination
        if isinstance(source, IPv6Address):
            covered = pseudo(source, dest, len(zeroed)) + zeroed
        elif payload[0] >> 4 == 3 and case.pseudo_checksum:
            covered = pseudo(source, dest, length) + zeroed[:length]
        else:
            covered = zeroed[:length]
        return zeroed[:6] + struct.pack("!H", checksum(covered)) + zeroed[8:]

    # ------------------------------------------------------------------ decode

    def check_decode(self, case: Case, packet: ReceivedPacket) -> None:
        expect = case.expect
        try:
            decoded = decode(packet, expect)
        except CodecError as error:
            if not isinstance(error.reason, RejectReason):
                raise Finding(f"CodecError without a RejectReason: {error!r}") from None
            return
        except Exception as error:
            raise Finding(f"decode raised {error!r} (only CodecError is allowed)") from error
        self.check_decoded(case, packet, decoded)

    def check_decoded(self, case: Case, packet: ReceivedPacket, decoded: Decoded) -> None:
        expect, payload, advert = case.expect, packet.payload, decoded.advert
        problems = [
            (expect.check_ttl and packet.ttl != 255, "accepted a TTL other than 255"),
            (expect.vrid is not None and advert.vrid != expect.vrid, "VRID not as expected"),
            (expect.version is not None and advert.version != expect.version, "wrong version"),
            (len(decoded.trailer) not in (0, expect.trailer_length), "trailer length"),
            (
                len(decoded.message)
                != message_length(payload, isinstance(packet.source, IPv6Address)),
                "message length",
            ),
            ((advert.priority, len(advert.addresses)) != (payload[2], payload[3]), "fields"),
            (
                not checksum_ok(payload, packet.source, packet.destination, expect.checksum_modes),
                "accepted a checksum that does not verify",
            ),
        ]
        for failed, text in problems:
            if failed:
                raise Finding(f"decode: {text}: {advert} {decoded}")
        mode = decoded.checksum_mode or ChecksumMode.RFC9568
        again = encode(
            advert, source=packet.source, destination=packet.destination, checksum_mode=mode
        )
        try:
            round_trip = decode(ReceivedPacket(packet.source, packet.destination, 255, again))
        except Exception as error:
            raise Finding(f"re-encoded {advert} does not decode: {error!r}") from error
        if round_trip.advert != advert:
            raise Finding(f"round trip changed {advert} into {round_trip.advert}")

    # ------------------------------------------------------------------ Wire.receive

    def wire(self, case: Case) -> Wire:
        wire = self.wires.get(case.wire_key)
        if wire is None:
            if len(self.wires) >= MAX_WIRES:  # bounded memory; marks go with their wires
                self.wires.clear()
                self.marks.clear()
            wire = self.wires[case.wire_key] = Wire(case.config)
        return wire

    def check_receive(self, case: Case, packet: ReceivedPacket) -> None:
        wire = self.wire(case)
        now_ns = self.now_ns()
        try:
            heard = wire.receive(packet, now_ns)
        except Exception as error:
            raise Finding(f"Wire.receive raised {error!r} (it must never raise)") from error
        if isinstance(heard, RejectReason):
            self.outcomes[heard.value] += 1
            return
        if not isinstance(heard, Heard):
            raise Finding(f"Wire.receive returned {heard!r}")
        self.outcomes["accepted"] += 1
        self.accepted += 1
        self.check_heard(case, packet, heard, now_ns)

    def check_heard(self, case: Case, packet: ReceivedPacket, heard: Heard, now_ns: int) -> None:
        config, advert, payload = case.config, heard.advert, packet.payload
        problems = [
            (heard.source != packet.source, "source is not the packet's"),
            (packet.source == config.source, "accepted our own packet"),
            (bool(config.peers) and packet.source not in config.peers, "accepted a stranger"),
            ((advert.vrid, advert.version) != (config.vrid, config.version), "not this router's"),
            (not config.peers and packet.ttl != 255, "accepted a multicast TTL other than 255"),
            (
                not checksum_ok(
                    payload, packet.source, packet.destination, config.checksum.accepted
                ),
                "accepted a checksum its policy refuses",
            ),
        ]
        for failed, text in problems:
            if failed:
                raise Finding(f"Wire.receive: {text}: {heard}")
        if config.auth is not None:
            self.check_authenticated(case, packet, now_ns)

    def check_authenticated(self, case: Case, packet: ReceivedPacket, now_ns: int) -> None:
        auth, payload = case.config.auth, packet.payload
        assert auth is not None
        length = message_length(payload, isinstance(packet.source, IPv6Address))
        trailer = payload[length:]
        if not trailer:
            if auth.mode is AuthMode.ENFORCE:
                raise Finding("enforce mode accepted an advert without a trailer")
            return
        ext_type, key_id, reserved, sequence = struct.unpack_from("!BBHQ", trailer)
        secret = auth.secret(key_id)
        now_s = (now_ns // NS) & 0xFFFFFFFF
        problems = [
            (len(trailer) != TRAILER, f"a {len(trailer)}-byte trailer"),
            ((ext_type, reserved) != (1, 0), "a malformed trailer"),
            (secret is None, f"unknown key {key_id}"),
            (
                secret is not None
                and tag(secret, packet.source, payload[:length], trailer[:12]) != trailer[12:],
                "a tag that does not verify",
            ),
            (
                auth.anti_replay is AntiReplay.TIME
                and abs(seconds_apart(now_s, sequence >> 32)) > auth.time_window,
                "a stale sequence",
            ),
        ]
        for failed, text in problems:
            if failed:
                raise Finding(f"Wire.receive accepted {text}")
        key = (case.wire_key, packet.source)
        mark = self.marks.get(key)
        expired = (
            mark is not None
            and auth.anti_replay is AntiReplay.TIME
            and abs(seconds_apart(now_s, mark >> 32)) > auth.time_window
        )
        if mark is not None and not expired and not serial_after(sequence, mark):
            raise Finding(f"Wire.receive accepted a replay: sequence {sequence:#x} after {mark:#x}")
        self.marks[key] = sequence
        self.accepted_signed += 1


# --------------------------------------------------------------------------- inputs


def prologue(
    *,
    ipv6: bool,
    version: int,
    auth: bool,
    unicast: bool,
    sign: bool,
    rng: random.Random,
) -> bytes:
    """A prologue under which a well-formed advert is accepted (before mutation)."""
    flags = F_FIX_SUM | F_CHECK_TTL * (not unicast)
    flags |= F_IPV6 * ipv6 | F_AUTH * auth | F_UNICAST * unicast | F_SIGN * sign
    flags |= F_MONOTONIC * rng.getrandbits(1)
    policy = rng.randrange(3)  # auto, rfc9568, pseudo-header: the repaired checksum follows it
    flags |= F_PSEUDO * (policy == 2)
    p1 = (version == 2) | policy << 1 | rng.randrange(4) << 3 | rng.randrange(4) << 5
    p4 = rng.randrange(3) | (0 if not unicast else 1) << 3 | 1 << 5
    p5 = 1 << 3 if auth else 0
    p6 = 1 if version == 2 else 0
    age = rng.choice((0, 0, 0, 1, -1, 4, -4, 6, -6, 100)) & 0xFF  # seconds the signer lags
    p8 = rng.choice((0, 0, 0, 1, 2, 3)) | rng.choice((0, 0, 1, 2, 3)) << 2  # key, sequence
    return bytes((flags, p1, 0, 255, p4, p5, p6, age, p8, *rng.randbytes(3)))


def seed_inputs(rng: random.Random) -> list[bytes]:
    """Well-formed adverts of every kind, with the prologues that make them acceptable."""
    seeds = []
    for ipv6 in (False, True):
        for version in (2, 3) if not ipv6 else (3,):
            for auth in (False, True):
                for unicast in (False, True):
                    for count in (1, 2, 8):
                        interval = 100 if version == 2 else rng.choice((10, 100, 4095))
                        addresses = tuple(
                            (IPv6Address if ipv6 else IPv4Address)(rng.getrandbits(32 + 96 * ipv6))
                            for _ in range(count)
                        )
                        advert = Advertisement(
                            version, 51, rng.randint(1, 254), interval, addresses
                        )
                        source, dest = PEERS[ipv6][0], vrrp_group(OWN[ipv6])
                        payload = encode(advert, source=source, destination=dest)
                        head = prologue(
                            ipv6=ipv6,
                            version=version,
                            auth=auth,
                            unicast=unicast,
                            sign=auth,
                            rng=rng,
                        )
                        seeds.append(head + payload)
    return seeds


INTERESTING = (0, 1, 2, 3, 0x10, 0x20, 0x21, 0x31, 0x32, 0x7F, 0x80, 0xFE, 0xFF, 51, 28)


class Mutator:
    """Seeded havoc on the prologue and the payload, with VRRP-aware moves."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seeds = seed_inputs(self.rng)

    def next(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.02:
            return rng.randbytes(rng.randint(0, 200))
        data = bytearray(rng.choice(self.seeds))
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
            self.mutate(data)
        return bytes(data)

    def mutate(self, data: bytearray) -> None:
        rng = self.rng
        op = rng.randrange(12)
        size = len(data)
        if op == 0 and size:  # flip a bit
            index = rng.randrange(size)
            data[index] ^= 1 << rng.randrange(8)
        elif op == 1 and size:  # an interesting byte anywhere
            data[rng.randrange(size)] = rng.choice(INTERESTING)
        elif op == 2 and size > PROLOGUE + 8:  # a header field of the advert
            data[PROLOGUE + rng.randrange(8)] = rng.choice((*INTERESTING, rng.randrange(256)))
        elif op == 3:  # truncate
            del data[rng.randint(0, size) :]
        elif op == 4:  # grow: random bytes, a trailer's worth, v2 auth data
            data += rng.randbytes(rng.choice((1, 4, 8, 16, TRAILER, rng.randint(1, 600))))
        elif op == 5 and size > 1:  # delete a range
            start = rng.randrange(size)
            del data[start : start + rng.randint(1, 32)]
        elif op == 6 and size > 1:  # duplicate a range
            start = rng.randrange(size)
            data[start:start] = data[start : start + rng.randint(1, 32)]
        elif op == 7:  # splice with another seed
            other = rng.choice(self.seeds)
            cut = rng.randint(0, min(size, len(other)))
            data[cut:] = other[cut:]
        elif op in (8, 9) and size:  # a prologue byte: another configuration, repairs, clock
            data[rng.randrange(min(size, PROLOGUE))] = rng.randrange(256)
        elif op == 10 and size >= PROLOGUE:  # toggle one repair or configuration flag
            data[0] ^= 1 << rng.randrange(8)
        elif op == 11 and size > PROLOGUE + 8:  # make the count match the length, or nearly
            ipv6 = data[0] & F_IPV6
            width = 16 if ipv6 else 4
            body = size - PROLOGUE - 8 - (8 if data[PROLOGUE] >> 4 == 2 else 0)
            data[PROLOGUE + 3] = max(0, min(255, body // width + rng.choice((0, 0, -1, 1))))


# --------------------------------------------------------------------------- engines


@dataclass
class FuzzResult:
    engine: str
    runs: int
    seconds: float
    accepted: int
    accepted_signed: int
    outcomes: dict[str, int]
    findings: list[str]

    @property
    def rate(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.engine}: {self.runs} runs in {self.seconds:.1f} s ({self.rate:,.0f} runs/s),"
            f" {self.accepted} accepted ({self.accepted_signed} signed),"
            f" {len(self.outcomes)} distinct outcomes, {len(self.findings)} findings"
        )


def fuzz(
    runs: int,
    seed: int = 1,
    *,
    max_findings: int = 10,
    progress: Callable[[str], None] | None = None,
) -> FuzzResult:
    """The deterministic engine: ``runs`` mutated inputs from ``seed``; findings are collected
    (each with its input in hex, to replay with :func:`replay`), at most ``max_findings``."""
    target, mutator = Target(), Mutator(seed)
    findings: list[str] = []
    started = time.monotonic()
    for index in range(runs):
        data = mutator.next()
        try:
            target.check_bytes(data)
        except Finding as finding:
            findings.append(f"run {index} input {data.hex()}: {finding}")
            if len(findings) >= max_findings:
                break
        if progress and (index + 1) % PROGRESS_EVERY == 0:
            elapsed = time.monotonic() - started
            progress(f"{index + 1} runs, {(index + 1) / elapsed:,.0f}/s, {len(findings)} findings")
    return FuzzResult(
        "random",
        target.runs,
        time.monotonic() - started,
        target.accepted,
        target.accepted_signed,
        dict(target.outcomes),
        findings,
    )


def replay(data: bytes) -> None:
    """Run one input on a fresh target (raises :class:`Finding` if it still fails)."""
    Target().check_bytes(data)


def fuzz_atheris(runs: int, seed: int, artifacts: Path) -> None:  # pragma: no cover
    """Coverage-guided: libFuzzer drives :meth:`Target.check_bytes`; it never returns."""
    import atheris

    atheris.instrument_all()
    target = Target()
    started = time.monotonic()

    def one_input(data: bytes) -> None:
        target.check_bytes(data)
        if target.runs % PROGRESS_EVERY == 0 or target.runs == runs:
            elapsed = time.monotonic() - started
            print(
                f"atheris: {target.runs} runs in {elapsed:.1f} s ({target.runs / elapsed:,.0f}"
                f" runs/s), {target.accepted} accepted ({target.accepted_signed} signed),"
                f" {len(target.outcomes)} distinct outcomes",
                flush=True,
            )

    corpus = artifacts / "corpus"  # kept between runs: libFuzzer adds what found new coverage
    corpus.mkdir(parents=True, exist_ok=True)
    for index, data in enumerate(seed_inputs(random.Random(seed))):
        (corpus / f"seed-{index:03d}").write_bytes(data)
    argv = [
        sys.argv[0],
        f"-runs={runs}",
        f"-seed={seed}",
        "-max_len=4096",
        f"-artifact_prefix={artifacts}/",
        str(corpus),
    ]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=("auto", "random", "atheris"), default="random")
    parser.add_argument("--artifacts", type=Path, default=Path("build/fuzz"))
    parser.add_argument("--replay", metavar="HEX", help="run one input (from a finding) again")
    args = parser.parse_args(argv)
    if args.replay:
        replay(bytes.fromhex(args.replay))
        print("no finding")
        return 0
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "random"
        else:
            engine = "atheris"
    if engine == "atheris":
        args.artifacts.mkdir(parents=True, exist_ok=True)
        fuzz_atheris(args.runs, args.seed, args.artifacts.resolve())
        return 0  # not reached: libFuzzer exits by itself
    result = fuzz(args.runs, args.seed, progress=lambda line: print(line, flush=True))
    print(result.summary())
    print("outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(result.outcomes.items())))
    for finding in result.findings:
        print("FINDING " + finding)
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
