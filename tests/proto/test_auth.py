"""Unit tests of the auth_hmac machinery: sequences, replay marks, modes and configuration."""

from __future__ import annotations

import itertools
from ipaddress import IPv4Address, IPv6Address

import pytest

from vipguard.proto.addresses import IPAddress
from vipguard.proto.auth import (
    TRAILER_LENGTH,
    AntiReplay,
    AuthConfig,
    Authenticator,
    AuthKey,
    AuthMode,
    ReplayGuard,
    SequenceGenerator,
    Trailer,
    clock_sequence,
    default_time_window,
    seconds_apart,
    serial_after,
)
from vipguard.proto.errors import ProtocolUsageError, RejectReason
from vipguard.proto.packet import Advertisement, ReceivedPacket, encode_message
from vipguard.proto.wire import Heard, Wire, WireConfig

NS = 1_000_000_000
HOUR = 3600
MAX = (1 << 64) - 1
NOW_S = 1_795_614_965  # 2026-11-25, the live capture's time
NOW_NS = NOW_S * NS
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SENDER = IPv4Address("192.0.2.1")
PEERS = [IPv4Address(f"192.0.2.{n}") for n in range(10, 16)]
MESSAGE = encode_message(Advertisement(3, 51, 100, 100, (IPv4Address("192.0.2.100"),)))


def sequence_at(seconds: int, subsec: int = 0, ctr: int = 0) -> int:
    return (seconds << 32) | (subsec << 16) | ctr


def auth_config(
    mode: AuthMode = AuthMode.ENFORCE,
    anti_replay: AntiReplay = AntiReplay.TIME,
    secret: bytes = KEY,
) -> AuthConfig:
    return AuthConfig((AuthKey(1, secret),), 1, mode=mode, anti_replay=anti_replay)


def authenticator(config: AuthConfig | None = None, *, peer_count: int = 0) -> Authenticator:
    return Authenticator(config or auth_config(), version=3, vrid=51, peer_count=peer_count)


# --------------------------------------------------------------------------- serial arithmetic


@pytest.mark.parametrize(
    ("a", "b", "after"),
    [
        (1, 0, True),
        (0, 1, False),
        (5, 5, False),
        (0, MAX, True),  # wraps forward
        (MAX, 0, False),
        (4, MAX - 3, True),
        ((1 << 63) - 1, 0, True),  # the largest step that is still "after"
        (1 << 63, 0, False),  # exactly half the space: undefined, never "after"
        (0, 1 << 63, False),
        (MAX, (1 << 63), True),
        ((1 << 63) + 1, 0, False),
    ],
)
def test_serial_after(a: int, b: int, after: bool) -> None:
    assert serial_after(a, b) is after


@pytest.mark.parametrize(
    ("now", "then", "apart"),
    [(10, 3, 7), (3, 10, -7), (0, 0xFFFFFFFF, 1), (0xFFFFFFFF, 0, -1), (1 << 31, 0, -(1 << 31))],
)
def test_seconds_apart_wraps_at_32_bits(now: int, then: int, apart: int) -> None:
    assert seconds_apart(now, then) == apart


@pytest.mark.parametrize(
    ("wall_ns", "sequence"),
    [
        (NOW_NS, sequence_at(NOW_S)),
        (NOW_NS + 500_000_000, sequence_at(NOW_S, 0x8000)),
        (NOW_NS + 999_999_999, sequence_at(NOW_S, 0xFFFF)),
        (NOW_NS + 19_882_000, sequence_at(NOW_S, 0x0516)),  # floor(1302.99)
        (NOW_NS + 19_883_000, sequence_at(NOW_S, 0x0517)),  # floor(1303.05)
        ((1 << 32) * NS + 7 * NS, sequence_at(7)),  # seconds wrap at 32 bits
    ],
)
def test_clock_sequence(wall_ns: int, sequence: int) -> None:
    assert clock_sequence(wall_ns) == sequence


# --------------------------------------------------------------------------- sequence generator


def at(seconds: int, milliseconds: int = 0) -> int:
    """A wall-clock reading in ns (integer arithmetic: floats lose the subsec bits)."""
    return seconds * NS + milliseconds * 1_000_000


def run(generator: SequenceGenerator, clock_ns: list[int]) -> list[int]:
    return [generator.next(wall_ns) for wall_ns in clock_ns]


def assert_strictly_increasing(sequences: list[int]) -> None:
    assert len(set(sequences)) == len(sequences)
    for earlier, later in itertools.pairwise(sequences):
        assert serial_after(later, earlier), (hex(earlier), hex(later))


@pytest.mark.parametrize("anti_replay", list(AntiReplay))
def test_sequence_follows_a_forward_clock(anti_replay: AntiReplay) -> None:
    generator = SequenceGenerator(anti_replay, 5)
    assert run(generator, [at(NOW_S), at(NOW_S, 500), at(NOW_S + 1)]) == [
        sequence_at(NOW_S),
        sequence_at(NOW_S, 0x8000),
        sequence_at(NOW_S + 1),
    ]


@pytest.mark.parametrize("anti_replay", list(AntiReplay))
def test_sequence_counts_up_while_the_clock_stalls(anti_replay: AntiReplay) -> None:
    generator = SequenceGenerator(anti_replay, 5)
    sequences = run(generator, [at(NOW_S)] * 4)
    assert sequences == [sequence_at(NOW_S, 0, ctr) for ctr in range(4)]


def test_sequence_counter_carries_into_subsec_and_seconds() -> None:
    generator = SequenceGenerator(
        AntiReplay.MONOTONIC, 5, last_sent=sequence_at(NOW_S, 0xFFFF, 0xFFFF)
    )
    assert generator.next(NOW_NS) == sequence_at(NOW_S + 1)


def test_sequence_wraps_around_64_bits() -> None:
    generator = SequenceGenerator(AntiReplay.MONOTONIC, 5, last_sent=MAX)
    sequence = generator.next(0xFFFFFFFF * NS)  # this clock reading is "before" MAX
    assert sequence == 0
    assert serial_after(sequence, MAX)


@pytest.mark.parametrize("anti_replay", list(AntiReplay))
@pytest.mark.parametrize("step_back", [1, 3, 5])
def test_sequence_stays_ahead_when_the_clock_steps_back_within_the_window(
    anti_replay: AntiReplay, step_back: int
) -> None:
    generator = SequenceGenerator(anti_replay, 5)
    sequences = run(
        generator, [at(NOW_S), at(NOW_S, 250), at(NOW_S - step_back), at(NOW_S - step_back)]
    )
    assert sequences[2:] == [sequence_at(NOW_S, 0x4000, 1), sequence_at(NOW_S, 0x4000, 2)]
    assert_strictly_increasing(sequences)


@pytest.mark.parametrize("step_back", [6, 60, HOUR, 5 * HOUR])
def test_monotonic_sequence_stays_ahead_after_a_large_step_back(step_back: int) -> None:
    generator = SequenceGenerator(AntiReplay.MONOTONIC, 5)
    clock = [at(NOW_S), at(NOW_S - step_back), at(NOW_S - step_back + 1), at(NOW_S - step_back)]
    sequences = run(generator, clock)
    assert sequences == [sequence_at(NOW_S, 0, ctr) for ctr in range(4)]
    assert_strictly_increasing(sequences)


@pytest.mark.parametrize("step_back", [6, 60, HOUR, 5 * HOUR])
def test_time_mode_sequence_restarts_from_the_clock_after_a_step_back_beyond_the_window(
    step_back: int,
) -> None:
    generator = SequenceGenerator(AntiReplay.TIME, 5)
    sequences = run(generator, [at(NOW_S), at(NOW_S - step_back), at(NOW_S - step_back)])
    assert sequences == [
        sequence_at(NOW_S),
        sequence_at(NOW_S - step_back),
        sequence_at(NOW_S - step_back, 0, 1),
    ]


def test_time_mode_sequence_restarts_only_beyond_the_window() -> None:
    stays = SequenceGenerator(AntiReplay.TIME, 30)
    assert run(stays, [at(NOW_S), at(NOW_S - 30)])[1] == sequence_at(NOW_S, 0, 1)
    restarts = SequenceGenerator(AntiReplay.TIME, 30)
    assert run(restarts, [at(NOW_S), at(NOW_S - 31)])[1] == sequence_at(NOW_S - 31)


@pytest.mark.parametrize("anti_replay", list(AntiReplay))
def test_sequence_never_repeats_over_a_jittery_clock(anti_replay: AntiReplay) -> None:
    seconds = [0, 0, -2, 0, -1, 3, 3, 2, -2, 4]  # steps back stay within the 5 s window
    clock = [at(NOW_S + s, 1 if i == 3 else 0) for i, s in enumerate(seconds)]
    sequences = run(SequenceGenerator(anti_replay, 5), clock)
    assert_strictly_increasing(sequences)


@pytest.mark.parametrize("anti_replay", list(AntiReplay))
def test_sequence_restored_after_restart_passes_the_last_one_sent(anti_replay: AntiReplay) -> None:
    before = SequenceGenerator(anti_replay, 5)
    last = run(before, [at(NOW_S + 2), at(NOW_S + 2)])[-1]
    restarted = SequenceGenerator(anti_replay, 5, last_sent=before.last_sent)
    # the clock after the restart reads earlier than the last sequence sent (within the window)
    first = restarted.next(NOW_NS)
    assert first == last + 1
    assert restarted.last_sent == first


def test_sequence_restored_after_restart_follows_a_clock_that_moved_on() -> None:
    restarted = SequenceGenerator(AntiReplay.MONOTONIC, 5, last_sent=sequence_at(NOW_S))
    assert restarted.next(NOW_NS + 10 * NS) == sequence_at(NOW_S + 10)


def test_authenticator_restores_its_last_sent_sequence() -> None:
    signer = Authenticator(
        auth_config(anti_replay=AntiReplay.MONOTONIC),
        version=3,
        vrid=51,
        last_sent=sequence_at(NOW_S + HOUR),
    )
    trailer = Trailer.unpack(signer.sign(MESSAGE, source=SENDER, wall_ns=NOW_NS))
    assert trailer.sequence == sequence_at(NOW_S + HOUR, 0, 1)


# --------------------------------------------------------------------------- replay guard


def test_replay_guard_keeps_one_mark_per_source() -> None:
    guard = ReplayGuard(AntiReplay.MONOTONIC, 5, slots=4)
    a, b = PEERS[:2]
    assert guard.admit(a, 100, NOW_S)
    assert guard.admit(b, 50, NOW_S)  # b's mark is its own, below a's
    assert not guard.admit(a, 100, NOW_S)
    assert not guard.admit(a, 99, NOW_S)
    assert guard.admit(a, 101, NOW_S)
    assert not guard.admit(b, 50, NOW_S)
    assert guard.admit(b, 51, NOW_S)


def test_replay_guard_uses_serial_order() -> None:
    guard = ReplayGuard(AntiReplay.MONOTONIC, 5, slots=4)
    assert guard.admit(SENDER, MAX, NOW_S)
    assert guard.admit(SENDER, 0, NOW_S)  # wrapped: after MAX
    assert not guard.admit(SENDER, MAX, NOW_S)


def test_replay_guard_refusal_does_not_move_the_mark() -> None:
    guard = ReplayGuard(AntiReplay.MONOTONIC, 5, slots=4)
    assert guard.admit(SENDER, 100, NOW_S)
    assert not guard.admit(SENDER, 90, NOW_S)
    assert guard.admit(SENDER, 95 + 6, NOW_S)  # judged against 100, not 90


def test_replay_guard_evicts_the_least_recently_used_of_four_slots() -> None:
    guard = ReplayGuard(AntiReplay.MONOTONIC, 5, slots=4)
    for peer in PEERS[:4]:
        assert guard.admit(peer, 100, NOW_S)
    assert guard.admit(PEERS[0], 101, NOW_S)  # PEERS[1] is now the least recently used
    assert guard.admit(PEERS[4], 100, NOW_S)  # a fifth source evicts PEERS[1]
    assert guard.admit(PEERS[1], 100, NOW_S)  # its mark is gone: the old sequence passes
    assert not guard.admit(PEERS[0], 101, NOW_S)  # PEERS[0] was kept


def test_multicast_authenticator_has_four_replay_slots() -> None:
    receiver = authenticator(auth_config(anti_replay=AntiReplay.MONOTONIC))
    signer = authenticator(auth_config(anti_replay=AntiReplay.MONOTONIC))
    signed: dict[IPAddress, bytes] = {
        peer: signer.sign(MESSAGE, source=peer, wall_ns=NOW_NS) for peer in PEERS[:5]
    }

    def verify(peer: IPAddress) -> RejectReason | None:
        return receiver.verify(MESSAGE, signed[peer], source=peer, wall_ns=NOW_NS)

    assert [verify(peer) for peer in PEERS[:4]] == [None] * 4
    assert verify(PEERS[0]) is RejectReason.AUTH_REPLAY  # a refusal does not touch the slot
    assert verify(PEERS[4]) is None  # a fifth source evicts the least recently used, PEERS[0]
    assert verify(PEERS[0]) is None  # its mark is gone: the same advert passes; evicts PEERS[1]
    assert verify(PEERS[3]) is RejectReason.AUTH_REPLAY  # kept
    assert verify(PEERS[1]) is None  # evicted


def test_unicast_authenticator_keeps_a_slot_per_peer() -> None:
    config = auth_config(anti_replay=AntiReplay.MONOTONIC)
    receiver = authenticator(config, peer_count=6)
    signer = authenticator(config)
    signed = {peer: signer.sign(MESSAGE, source=peer, wall_ns=NOW_NS) for peer in PEERS}
    for peer in PEERS:
        assert receiver.verify(MESSAGE, signed[peer], source=peer, wall_ns=NOW_NS) is None
    for peer in PEERS:
        verdict = receiver.verify(MESSAGE, signed[peer], source=peer, wall_ns=NOW_NS)
        assert verdict is RejectReason.AUTH_REPLAY


@pytest.mark.parametrize(("later", "expired"), [(5, False), (6, True), (HOUR, True), (-6, True)])
def test_time_mode_mark_expires_beyond_the_window(later: int, expired: bool) -> None:
    guard = ReplayGuard(AntiReplay.TIME, 5, slots=4)
    mark = sequence_at(NOW_S, 0x1000)
    assert guard.admit(SENDER, mark, NOW_S)
    assert guard.admit(SENDER, mark, NOW_S + later) is expired


def test_monotonic_mode_mark_never_expires() -> None:
    guard = ReplayGuard(AntiReplay.MONOTONIC, 5, slots=4)
    mark = sequence_at(NOW_S)
    assert guard.admit(SENDER, mark, NOW_S)
    assert not guard.admit(SENDER, mark, NOW_S + 24 * HOUR)
    assert not guard.admit(SENDER, mark - 1, NOW_S + 24 * HOUR)


@pytest.mark.parametrize("anti_replay", list(AntiReplay))
def test_peers_are_still_heard_after_both_clocks_step_back_an_hour(anti_replay: AntiReplay) -> None:
    # Both nodes ran an hour fast, then NTP stepped them back (keepalived 2.4.3's dual-active bug):
    # in time mode the sender restarts from the clock and the receiver forgets its hour-old mark;
    # in monotonic mode the sender stays ahead of its old sequence.
    config = auth_config(anti_replay=anti_replay)
    signer, receiver = authenticator(config), authenticator(config)
    for wall_ns in (NOW_NS + HOUR * NS, NOW_NS, NOW_NS + NS):
        trailer = signer.sign(MESSAGE, source=SENDER, wall_ns=wall_ns)
        assert receiver.verify(MESSAGE, trailer, source=SENDER, wall_ns=wall_ns) is None
    restarted = Trailer.unpack(trailer).sequence
    if anti_replay is AntiReplay.TIME:
        assert restarted == sequence_at(NOW_S + 1)
    else:
        assert restarted == sequence_at(NOW_S + HOUR, 0, 2)


def test_time_mode_mark_far_ahead_of_the_clock_is_forgotten() -> None:
    # the mark alone: an hour-old mark ahead of the clock is forgotten, a 5 s old one is not
    guard = ReplayGuard(AntiReplay.TIME, 5, slots=4)
    assert guard.admit(SENDER, sequence_at(NOW_S + HOUR), NOW_S + HOUR)
    assert guard.admit(SENDER, sequence_at(NOW_S), NOW_S)
    assert not guard.admit(SENDER, sequence_at(NOW_S - 5), NOW_S)


# --------------------------------------------------------------------------- modes


@pytest.mark.parametrize(
    ("mode", "signs", "missing"),
    [
        (AuthMode.RECEIVE_ONLY, False, None),
        (AuthMode.PERMISSIVE, True, None),
        (AuthMode.ENFORCE, True, RejectReason.AUTH_MISSING),
    ],
)
def test_mode_signing_and_missing_trailer(
    mode: AuthMode, signs: bool, missing: RejectReason | None
) -> None:
    node = authenticator(auth_config(mode))
    trailer = node.sign(MESSAGE, source=SENDER, wall_ns=NOW_NS)
    assert len(trailer) == (TRAILER_LENGTH if signs else 0)
    assert node.verify(MESSAGE, b"", source=SENDER, wall_ns=NOW_NS) is missing


@pytest.mark.parametrize("mode", list(AuthMode))
def test_every_mode_accepts_a_good_trailer(mode: AuthMode) -> None:
    trailer = authenticator().sign(MESSAGE, source=SENDER, wall_ns=NOW_NS)
    receiver = authenticator(auth_config(mode))
    assert receiver.verify(MESSAGE, trailer, source=SENDER, wall_ns=NOW_NS) is None


@pytest.mark.parametrize("mode", list(AuthMode))
@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda t: t[:-1] + bytes([t[-1] ^ 1]), RejectReason.AUTH_BAD_HMAC),
        (lambda t: b"\x02" + t[1:], RejectReason.AUTH_MALFORMED),
        (lambda t: t[:2] + b"\x00\x01" + t[4:], RejectReason.AUTH_MALFORMED),
        (lambda t: t[:1] + b"\x09" + t[2:], RejectReason.AUTH_UNKNOWN_KEY),
        (lambda t: t[:4] + (NOW_S - 60).to_bytes(4, "big") + t[8:], RejectReason.AUTH_STALE),
    ],
    ids=["tag", "ext_type", "reserved", "key_id", "sec"],
)
def test_every_mode_rejects_a_bad_trailer(
    mode: AuthMode, spoil: object, reason: RejectReason
) -> None:
    assert callable(spoil)
    trailer = authenticator().sign(MESSAGE, source=SENDER, wall_ns=NOW_NS)
    receiver = authenticator(auth_config(mode))
    assert receiver.verify(MESSAGE, spoil(trailer), source=SENDER, wall_ns=NOW_NS) is reason


@pytest.mark.parametrize("mode", list(AuthMode))
def test_every_mode_rejects_a_trailer_signed_with_another_key(mode: AuthMode) -> None:
    trailer = authenticator(auth_config(secret=OTHER_KEY)).sign(
        MESSAGE, source=SENDER, wall_ns=NOW_NS
    )
    receiver = authenticator(auth_config(mode))
    verdict = receiver.verify(MESSAGE, trailer, source=SENDER, wall_ns=NOW_NS)
    assert verdict is RejectReason.AUTH_BAD_HMAC


def test_verify_checks_in_keepalived_order() -> None:
    # malformed before stale before unknown key before HMAC
    trailer = authenticator().sign(MESSAGE, source=SENDER, wall_ns=NOW_NS)
    stale_unknown_bad = trailer[:1] + b"\x09" + trailer[2:-1] + b"\x00"
    receiver = authenticator()
    far = NOW_NS + HOUR * NS
    assert receiver.verify(MESSAGE, stale_unknown_bad, source=SENDER, wall_ns=far) is (
        RejectReason.AUTH_STALE
    )
    malformed = b"\x07" + stale_unknown_bad[1:]
    assert receiver.verify(MESSAGE, malformed, source=SENDER, wall_ns=far) is (
        RejectReason.AUTH_MALFORMED
    )
    assert receiver.verify(MESSAGE, stale_unknown_bad, source=SENDER, wall_ns=NOW_NS) is (
        RejectReason.AUTH_UNKNOWN_KEY
    )


def test_replay_is_checked_only_after_the_hmac() -> None:
    signer, receiver = authenticator(), authenticator()
    trailer = signer.sign(MESSAGE, source=SENDER, wall_ns=NOW_NS)
    forged = trailer[:-1] + bytes([trailer[-1] ^ 1])
    assert receiver.verify(MESSAGE, forged, source=SENDER, wall_ns=NOW_NS) is (
        RejectReason.AUTH_BAD_HMAC
    )
    # the forgery did not move the mark: the genuine advert is still accepted, once
    assert receiver.verify(MESSAGE, trailer, source=SENDER, wall_ns=NOW_NS) is None
    assert receiver.verify(MESSAGE, trailer, source=SENDER, wall_ns=NOW_NS) is (
        RejectReason.AUTH_REPLAY
    )


def test_receivers_accept_every_configured_key_for_rotation() -> None:
    old, new = AuthKey(1, KEY), AuthKey(2, OTHER_KEY)
    receiver = authenticator(AuthConfig((old, new), active_key=1))
    for active in (1, 2):
        signer = authenticator(AuthConfig((old, new), active_key=active))
        trailer = signer.sign(MESSAGE, source=SENDER, wall_ns=NOW_NS + active * NS)
        assert Trailer.unpack(trailer).key_id == active
        verdict = receiver.verify(MESSAGE, trailer, source=SENDER, wall_ns=NOW_NS + active * NS)
        assert verdict is None


def test_tag_binds_version_vrid_and_source() -> None:
    trailer = authenticator().sign(MESSAGE, source=SENDER, wall_ns=NOW_NS)
    config = auth_config()
    cases: list[tuple[Authenticator, IPAddress]] = [
        (Authenticator(config, version=2, vrid=51), SENDER),
        (Authenticator(config, version=3, vrid=52), SENDER),
        (Authenticator(config, version=3, vrid=51), IPv4Address("192.0.2.2")),
        (Authenticator(config, version=3, vrid=51), IPv6Address("::ffff:192.0.2.1")),
    ]
    for receiver, source in cases:
        verdict = receiver.verify(MESSAGE, trailer, source=source, wall_ns=NOW_NS)
        assert verdict is RejectReason.AUTH_BAD_HMAC


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("length", [32, 48, 64])
def test_key_lengths_within_32_to_64_are_accepted(length: int) -> None:
    assert len(AuthKey(1, bytes(length)).secret) == length


@pytest.mark.parametrize("length", [0, 16, 31, 65, 128])
def test_key_lengths_outside_32_to_64_are_refused(length: int) -> None:
    with pytest.raises(ProtocolUsageError, match=r"32\.\.64"):
        AuthKey(1, bytes(length))


@pytest.mark.parametrize("key_id", [0, 256, -1])
def test_key_ids_outside_1_to_255_are_refused(key_id: int) -> None:
    with pytest.raises(ProtocolUsageError, match="key id"):
        AuthKey(key_id, KEY)


def test_key_secret_is_not_in_its_repr() -> None:
    assert KEY.hex() not in repr(AuthKey(1, KEY))
    assert repr(KEY) not in repr(AuthKey(1, KEY))


def test_active_key_that_names_no_key_is_refused() -> None:
    with pytest.raises(ProtocolUsageError, match="active key 3"):
        AuthConfig((AuthKey(1, KEY), AuthKey(2, OTHER_KEY)), active_key=3)


def test_active_key_with_no_keys_is_refused() -> None:
    with pytest.raises(ProtocolUsageError, match="active key 1"):
        AuthConfig((), active_key=1)


def test_duplicate_key_ids_are_refused() -> None:
    with pytest.raises(ProtocolUsageError, match="duplicate"):
        AuthConfig((AuthKey(1, KEY), AuthKey(1, OTHER_KEY)), active_key=1)


@pytest.mark.parametrize(("window", "valid"), [(0, False), (1, True), (300, True), (301, False)])
def test_time_window_must_be_1_to_300_seconds(window: int, valid: bool) -> None:
    keys = (AuthKey(1, KEY),)
    if valid:
        assert AuthConfig(keys, 1, time_window=window).time_window == window
    else:
        with pytest.raises(ProtocolUsageError, match="time window"):
            AuthConfig(keys, 1, time_window=window)


def test_config_defaults_match_keepalived() -> None:
    config = AuthConfig((AuthKey(1, KEY),), active_key=1)
    assert (config.mode, config.anti_replay, config.time_window) == (
        AuthMode.ENFORCE,
        AntiReplay.TIME,
        5,
    )
    assert config.secret(1) == KEY
    assert config.secret(2) is None


@pytest.mark.parametrize(
    ("interval_cs", "window"),
    [(10, 5), (50, 5), (100, 5), (199, 5), (200, 6), (1000, 30), (25500, 300)],
)
def test_default_time_window(interval_cs: int, window: int) -> None:
    assert default_time_window(interval_cs) == window


def test_trailer_pack_unpack_layout() -> None:
    trailer = Trailer(7, 0x0102030405060708, bytes(range(16)))
    raw = trailer.pack()
    assert raw == bytes.fromhex("010700000102030405060708") + bytes(range(16))
    assert Trailer.unpack(raw) == trailer
    assert trailer.seconds == 0x01020304


@pytest.mark.parametrize("length", [0, 27, 29])
def test_trailer_unpack_refuses_other_lengths(length: int) -> None:
    with pytest.raises(ProtocolUsageError):
        Trailer.unpack(bytes(length))


# --------------------------------------------------------------------------- through the Wire

RECEIVER = IPv4Address("192.0.2.2")
ADVERT = Advertisement(3, 51, 100, 100, (IPv4Address("192.0.2.100"),))


def wire(source: IPAddress, mode: AuthMode | None, peers: tuple[IPAddress, ...] = ()) -> Wire:
    auth = auth_config(mode) if mode else None
    return Wire(WireConfig(3, 51, 100, source, peers=peers, auth=auth))


def sent_by(mode: AuthMode | None) -> ReceivedPacket:
    (transmit,) = wire(SENDER, mode).transmit(ADVERT, NOW_NS)
    return ReceivedPacket(SENDER, transmit.destination, 255, transmit.payload)


@pytest.mark.parametrize(
    ("mode", "length"),
    [(None, 12), (AuthMode.RECEIVE_ONLY, 12), (AuthMode.PERMISSIVE, 40), (AuthMode.ENFORCE, 40)],
)
def test_wire_sends_a_trailer_only_in_signing_modes(mode: AuthMode | None, length: int) -> None:
    assert len(sent_by(mode).payload) == length


@pytest.mark.parametrize(
    ("receiver_mode", "sender_mode", "verdict"),
    [
        (AuthMode.RECEIVE_ONLY, None, Heard(ADVERT, SENDER)),
        (AuthMode.PERMISSIVE, None, Heard(ADVERT, SENDER)),
        (AuthMode.ENFORCE, None, RejectReason.AUTH_MISSING),
        (AuthMode.RECEIVE_ONLY, AuthMode.ENFORCE, Heard(ADVERT, SENDER)),
        (None, AuthMode.PERMISSIVE, RejectReason.BAD_LENGTH),  # keepalived: "too long"
        (None, AuthMode.RECEIVE_ONLY, Heard(ADVERT, SENDER)),
    ],
)
def test_wire_receive_follows_the_rollout_modes(
    receiver_mode: AuthMode | None, sender_mode: AuthMode | None, verdict: Heard | RejectReason
) -> None:
    assert wire(RECEIVER, receiver_mode).receive(sent_by(sender_mode), NOW_NS) == verdict


def test_unicast_copies_share_one_signature_and_sequence() -> None:
    peers = (IPv4Address("192.0.2.2"), IPv4Address("192.0.2.3"), IPv4Address("198.51.100.9"))
    transmits = wire(SENDER, AuthMode.ENFORCE, peers).transmit(ADVERT, NOW_NS)
    assert [t.destination for t in transmits] == list(peers)
    assert len({t.payload[-28:] for t in transmits}) == 1
    assert Trailer.unpack(transmits[0].payload[-28:]).sequence == sequence_at(NOW_S)
    for transmit in transmits:
        receiver = wire(transmit.destination, AuthMode.ENFORCE, (SENDER,))
        packet = ReceivedPacket(SENDER, transmit.destination, 64, transmit.payload)
        assert receiver.receive(packet, NOW_NS) == Heard(ADVERT, SENDER)
