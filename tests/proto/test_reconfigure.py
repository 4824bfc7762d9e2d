"""Hitless reload in the core: VirtualRouter.reconfigure keeps state and applies differences."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_interface

import pytest
from routerkit import FakeClock, expected_transmits, make_config, received

from vipguard.proto.auth import AuthConfig, AuthKey
from vipguard.proto.checksum import ChecksumMode
from vipguard.proto.effects import Announce, BindVips, State, Transmit, UnbindVips
from vipguard.proto.errors import ProtocolUsageError, RejectReason
from vipguard.proto.router import VirtualRouter

ME, PEER = "192.0.2.2", "192.0.2.3"
EXTRA = ip_interface("192.0.2.101/24")


def started(clock: FakeClock, priority: int, **overrides: object) -> VirtualRouter:
    router = VirtualRouter(make_config(priority, ME, **overrides))
    router.start(clock.instant())
    deadline = router.next_deadline()
    assert deadline is not None
    if priority > 100:  # become master by the timer
        router.poll(clock.advance_to(deadline))
    return router


def test_master_with_a_new_priority_advertises_it_at_once_and_keeps_its_vips(
    clock: FakeClock,
) -> None:
    router = started(clock, 150)
    new = replace(router.config, priority=120)
    effects = router.reconfigure(new, clock.advance(0.3))
    assert effects == expected_transmits(new, 120)
    assert router.state is State.MASTER
    assert router.next_deadline() == clock.now + 1.0


def test_master_binds_and_releases_only_the_difference_in_vips(clock: FakeClock) -> None:
    router = started(clock, 150)
    (old_vip,) = router.config.vips
    new = replace(router.config, vips=(EXTRA,))
    effects = router.reconfigure(new, clock.advance(0.3))
    assert effects == [
        UnbindVips((old_vip,)),
        BindVips((EXTRA,), False),
        *expected_transmits(new, 150),
        Announce((EXTRA,)),
    ]


def test_an_unchanged_backup_keeps_its_timer(clock: FakeClock) -> None:
    router = started(clock, 100)
    deadline = router.next_deadline()
    assert router.reconfigure(router.config, clock.advance(0.5)) == []
    assert router.next_deadline() == deadline


def test_a_backup_with_a_new_priority_retimes_its_running_timer(clock: FakeClock) -> None:
    router = started(clock, 100)
    armed_at = clock.now
    router.reconfigure(replace(router.config, priority=200), clock.advance(0.5))
    assert router.next_deadline() == armed_at + 3 + (256 - 200) / 256


@pytest.mark.parametrize("change", [{"vrid": 52}, {"source": ip_interface(PEER).ip}])
def test_the_identity_cannot_change(clock: FakeClock, change: dict[str, object]) -> None:
    router = started(clock, 100)
    with pytest.raises(ProtocolUsageError, match="VRID or source"):
        router.reconfigure(replace(router.config, **change), clock.instant())


def test_replay_marks_and_the_learned_checksum_survive_a_wire_change(clock: FakeClock) -> None:
    key = AuthConfig((AuthKey(1, bytes(range(32))),), 1)
    sender = VirtualRouter(make_config(200, PEER, auth=key))
    router = started(clock, 100, auth=key)
    sender.start(clock.instant())
    sent = sender.poll(clock.advance_to(sender.next_deadline() or 0))
    (advert,) = [effect for effect in sent if isinstance(effect, Transmit)]
    assert router.receive(received(advert, sender.config.source), clock.instant()) == []
    router.wire.peer_checksum_mode = ChecksumMode.PSEUDO_HEADER
    # A reload that changes the wire (another key added for rotation) ...
    rotated = replace(key, keys=(*key.keys, AuthKey(2, bytes(range(1, 33)))))
    router.reconfigure(replace(router.config, auth=rotated), clock.advance(0.1))
    # ... still refuses the advert replayed, and still speaks the peer's checksum.
    replayed = router.receive(received(advert, sender.config.source), clock.instant())
    assert [e.reason for e in replayed] == [RejectReason.AUTH_REPLAY]  # type: ignore[union-attr]
    assert router.wire.send_checksum_mode is ChecksumMode.PSEUDO_HEADER
