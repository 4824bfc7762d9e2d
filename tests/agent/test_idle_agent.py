"""An idle agent sleeps: no wake-up that has nothing to do (issue 9, "a leaner idle agent").

CPU time depends on the machine's load, wake-ups hardly do: these tests count them (the kernel's
voluntary context switches of a thread, or the callbacks the event loop schedules) and leave
CPU figures to ``make bench-idle``."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import urllib.request
from ipaddress import IPv4Interface, ip_address
from pathlib import Path
from typing import Any

import pytest
from kernel_fake import FakeKernel, quiet_driver
from routerkit import EPOCH_NS, advert_packet, received

from vipguard.agent.driver import RouterDriver
from vipguard.agent.metrics import serve
from vipguard.agent.snapshot import SnapshotBoard
from vipguard.proto import wire as wire_module
from vipguard.proto.auth import TRAILER_LENGTH, AuthConfig, AuthKey
from vipguard.proto.checksum import ChecksumMode
from vipguard.proto.errors import ProtocolUsageError, RejectReason
from vipguard.proto.packet import Advertisement
from vipguard.proto.router import RouterConfig
from vipguard.proto.wire import Heard, Wire, WireConfig

VIPS = (IPv4Interface("192.0.2.100/24").ip,)


def voluntary_switches(native_id: int) -> int:
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("voluntary_ctxt_switches:"))
    return int(line.split()[1])


def no_snapshot_yet() -> SnapshotBoard:
    """The board of an agent that has published no snapshot: a scrape says it is up."""
    return SnapshotBoard(lambda: pytest.fail("a scrape outside the loop never takes one"))


def test_the_metrics_server_sleeps_until_a_scrape_and_stops_at_once() -> None:
    before = set(threading.enumerate())
    server = serve(no_snapshot_yet(), "127.0.0.1", 0)
    try:
        (thread,) = set(threading.enumerate()) - before
        assert thread.native_id is not None
        time.sleep(0.1)  # past its start
        switches = voluntary_switches(thread.native_id)
        time.sleep(1.2)  # a poll every 0.5 s would wake it twice
        assert voluntary_switches(thread.native_id) - switches == 0
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert b"vipguard_up 1.0" in answer.read()
    finally:
        started = time.monotonic()
        server.shutdown()
        stopped_in = time.monotonic() - started
        server.server_close()
    assert stopped_in < 0.2  # not the end of a poll period
    assert not thread.is_alive()


# --------------------------------------------------------------------------- work per advert


def counting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[object]:
    """Record every call of ``module.name`` (and still make it)."""
    calls: list[object] = []
    real = getattr(module, name)

    def recorded(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, recorded)
    return calls


def backup_wire(**changes: object) -> Wire:
    return Wire(WireConfig(**{**BACKUP_WIRE, **changes}))  # type: ignore[arg-type]


BACKUP_WIRE: dict[str, object] = {
    "version": 3,
    "vrid": 1,
    "interval_cs": 100,
    "source": ip_address("192.0.2.2"),
}


def test_a_steady_masters_repeated_advert_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = counting(monkeypatch, wire_module, "decode")
    wire = backup_wire()
    packet = advert_packet("192.0.2.1", 150)
    heard = [wire.receive(packet, EPOCH_NS + n) for n in range(10)]
    assert len(decodes) == 1
    assert all(isinstance(h, Heard) and h == heard[0] for h in heard)
    changed = advert_packet("192.0.2.1", 120)  # anything else is decoded again
    result = wire.receive(changed, EPOCH_NS)
    assert isinstance(result, Heard) and result.advert.priority == 120
    assert len(decodes) == 2


def test_a_repeated_advert_sets_the_peers_checksum_form_again() -> None:
    """What a decode would do to the send form, a repeat does too: it follows the last sender."""
    wire = backup_wire()
    pseudo = advert_packet("192.0.2.1", 150, checksum_mode=ChecksumMode.PSEUDO_HEADER)
    rfc = advert_packet("192.0.2.3", 100, checksum_mode=ChecksumMode.RFC9568)
    for packet, form in ((pseudo, "pseudo-header"), (rfc, "rfc9568"), (pseudo, "pseudo-header")):
        assert isinstance(wire.receive(packet, EPOCH_NS), Heard)
        assert wire.peer_checksum_mode == form


def test_authenticated_adverts_are_each_verified() -> None:
    """A repeat of a signed advert is a replay: it must reach the authenticator every time."""
    auth = AuthConfig((AuthKey(1, b"k" * 32),), active_key=1)
    sender = Wire(WireConfig(3, 1, 100, ip_address("192.0.2.1"), auth=auth))
    receiver = backup_wire(auth=auth)
    (transmit,) = sender.transmit(Advertisement(3, 1, 150, 100, VIPS), EPOCH_NS)
    packet = received(transmit, ip_address("192.0.2.1"))
    assert isinstance(receiver.receive(packet, EPOCH_NS), Heard)
    assert receiver.receive(packet, EPOCH_NS) is RejectReason.AUTH_REPLAY


def test_a_steady_masters_advert_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seals = counting(monkeypatch, wire_module, "seal")
    wire = Wire(WireConfig(3, 1, 100, ip_address("192.0.2.1")))
    advert = Advertisement(3, 1, 150, 100, VIPS)
    sent = [wire.transmit(advert, EPOCH_NS + n) for n in range(10)]
    assert len(seals) == 1
    assert all(s == sent[0] for s in sent)
    sent[0].clear()  # a caller's list is its own
    assert wire.transmit(advert, EPOCH_NS) == sent[1]
    wire.peer_checksum_mode = ChecksumMode.RFC9568  # heard a peer use the other form
    assert wire.transmit(advert, EPOCH_NS) != sent[1]
    assert len(seals) == 2


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ((4, 1, 100, 100, VIPS), "version 4 is not 2 or 3"),
        ((3, 0, 100, 100, VIPS), "vrid 0 is outside 1..255"),
        ((3, 1, 256, 100, VIPS), "priority 256 is outside 0..255"),
        ((3, 1, 100, 100, ()), "needs 1..255 addresses"),
        ((3, 1, 100, 100, (*VIPS, ip_address("2001:db8::1"))), "mixes IPv4 and IPv6 addresses"),
        ((3, 1, 100, 4096, VIPS), "VRRPv3 interval 4096 cs is outside 1..4095"),
        ((2, 1, 100, 100, (ip_address("2001:db8::1"),)), "VRRPv2 carries IPv4 addresses only"),
        ((2, 1, 100, 150, VIPS), "VRRPv2 interval 150 cs is not a whole 1..255 seconds"),
    ],
)
def test_an_unsendable_advert_is_refused_with_its_problem(
    fields: tuple[Any, ...], problem: str
) -> None:
    """The checks every sent advert passes name the same problems since they became lazy."""
    with pytest.raises(ProtocolUsageError, match=re.escape(f"invalid Advertisement: {problem}")):
        Advertisement(*fields)


# --------------------------------------------------------------------------- sequence saves


def test_each_signed_advert_reports_its_sequence_for_saving(kernel: FakeKernel) -> None:
    """The sequence store saves on these reports (test_sequence_store.py): no timer of its own."""
    auth = AuthConfig((AuthKey(1, b"k" * 32),), active_key=1)
    vip = IPv4Interface("192.0.2.100/24")
    config = RouterConfig(51, 255, (vip,), ip_address("192.0.2.11"), interval_cs=1, auth=auth)
    reported: list[int] = []

    async def scenario() -> tuple[RouterDriver, list[bytes]]:
        driver, socket = quiet_driver(config, kernel, on_signed=lambda _, seq: reported.append(seq))
        driver.start(link_up=True)
        for _ in range(500):  # at most 5 s
            if len(socket.sent) >= 5:
                break
            await asyncio.sleep(0.01)
        await driver.stop(handover=False)
        return driver, [payload for payload, _, _ in socket.sent]

    driver, payloads = asyncio.run(scenario())
    trailer_sequences = [int.from_bytes(p[-TRAILER_LENGTH:][4:12], "big") for p in payloads]
    assert len(reported) == len(payloads) >= 5
    assert reported == sorted(reported)
    assert reported[-1] == driver.router.wire.authenticator.sequences.last_sent  # type: ignore[union-attr]
    assert len(set(trailer_sequences)) == len(trailer_sequences)


# --------------------------------------------------------------------------- the event loop


class CountingLoop(asyncio.SelectorEventLoop):
    """Counts what is scheduled on it: each callback is a turn of the loop, a timer a wake-up."""

    def __init__(self) -> None:
        super().__init__()
        self.timers = 0
        self.soon = 0

    def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:
        self.timers += 1
        return super().call_at(when, callback, *args, context=context)

    def call_soon(self, callback: Any, *args: Any, context: Any = None) -> Any:
        self.soon += 1
        return super().call_soon(callback, *args, context=context)


def test_an_idle_backup_schedules_one_timer_per_advert_and_nothing_else(
    kernel: FakeKernel,
) -> None:
    """Each advert heard moves the Master_Down timer (one timer re-armed); nothing else is
    scheduled on the loop, and the timer never fires while the master speaks."""
    vip = IPv4Interface("192.0.2.100/24")
    config = RouterConfig(51, 100, (vip,), ip_address("192.0.2.12"), interval_cs=1)
    master = Wire(WireConfig(3, 51, 1, ip_address("192.0.2.11")))
    (transmit,) = master.transmit(Advertisement(3, 51, 150, 1, (vip.ip,)), EPOCH_NS)
    packet = received(transmit, ip_address("192.0.2.11"))
    loop = CountingLoop()

    async def scenario() -> tuple[int, int, RouterDriver]:
        driver, _ = quiet_driver(config, kernel)
        driver.start(link_up=True)
        driver.on_packet(packet)
        await asyncio.sleep(0)  # the worker task's first turn
        timers, soon = loop.timers, loop.soon
        for _ in range(50):  # 50 adverts, 10 ms apart
            driver.on_packet(packet)
            await asyncio.sleep(0)  # give anything scheduled a turn, as the loop would
            await driver.wait_until(lambda: False, 0.01)
        counts = (loop.timers - timers, loop.soon - soon)
        await driver.stop(handover=False)
        return *counts, driver

    try:
        timers, soon, driver = loop.run_until_complete(scenario())
    finally:
        loop.close()
    # Each advert re-arms the Master_Down timer: 50 timers. The rest is the test's own: each
    # 10 ms wait is a timeout (one timer, and one callback when it ends), and each sleep(0) a
    # callback. Nothing from the driver beyond its one timer.
    assert timers == 50 + 50
    assert soon == 50 + 50
    assert driver.counters.adverts_in == 51
    assert ("backup", "master") not in {
        (old, new) for old, new, _ in driver.counters.transitions_by
    }
