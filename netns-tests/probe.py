"""Client-side outage probe: a UDP echo responder and a fixed-rate UDP client.

Both run as separate processes inside namespaces (``python probe.py serve|client``, stdlib only):

* ``serve`` answers on every local address of its namespace, VIPs included (wildcard sockets; the
  reply leaves from the address the probe was sent to, via IP_PKTINFO / IPV6_PKTINFO) with
  ``SEQ NAME``, so the client knows which host answered.
* ``client`` sends ``SEQ`` to a target at a fixed rate for a bounded time/count, records send time,
  reply time and answering host per probe (``time.monotonic()``: system-wide, so directly comparable
  with the test's own clock), keeps a small live status file, and writes all results as JSON when
  done or on SIGTERM.

:class:`Prober` drives them from a test through a :class:`netns.Topology`; :class:`ProbeReport`
summarises a run: sent, answered, lost, the longest gap between consecutive answered probes (the
outage) and the answering hosts in order.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import itertools
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netns import wait_until

if TYPE_CHECKING:
    from netns import Process, Topology

DEFAULT_PORT = 7907
MAX_SECONDS = 600.0
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # not exported by Python 3.11
_SCRIPT = str(Path(__file__).resolve())


# --- responder ----------------------------------------------------------------------------------


def _reply_cmsg(family: int, ancdata: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Ancillary data that makes the reply leave from the address the request was sent to."""
    for level, kind, data in ancdata:
        if family == socket.AF_INET and level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _ifindex, spec_dst, _dst = struct.unpack("=i4s4s", data[:12])  # spec_dst: our address
            return [(level, kind, struct.pack("=i4s4s", 0, spec_dst, bytes(4)))]
        is_v6 = family == socket.AF_INET6 and level == socket.IPPROTO_IPV6
        # A multicast destination cannot be a source: then the kernel chooses.
        if is_v6 and kind == socket.IPV6_PKTINFO and data[0] != 0xFF:
            return [(level, kind, data[:20])]
    return []


def serve(port: int, name: str, seconds: float) -> None:
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s4.bind(("0.0.0.0", port))
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    s6.bind(("::", port))
    print("ready", flush=True)
    tag = b" " + name.encode()
    deadline = time.monotonic() + seconds
    while (timeout := deadline - time.monotonic()) > 0:  # bounded by time; SIGTERM ends it
        for s in select.select([s4, s6], [], [], min(timeout, 1.0))[0]:
            data, ancdata, _flags, peer = s.recvmsg(64, 256)
            seq = data.split(b" ", 1)[0][:20]
            try:
                s.sendmsg([seq + tag], _reply_cmsg(s.family, ancdata), 0, peer)
            except OSError as e:  # e.g. the VIP vanished between receive and reply
                print(f"reply to {peer}: {e}", file=sys.stderr, flush=True)


# --- client -------------------------------------------------------------------------------------


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)  # readers never see a partial file


def client(
    *, target: str, port: int, rate: float, seconds: float, count: int, out: Path, status: Path
) -> None:
    ip = ipaddress.ip_address(target)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    stop = False

    def on_term(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sent: list[float] = []
    replied: dict[int, tuple[float, str]] = {}
    counts: Counter[str] = Counter()
    last_host: str | None = None
    interval = 1.0 / rate
    start = time.monotonic()
    end = start + seconds
    next_send = next_status = start

    def receive() -> None:
        nonlocal last_host
        for _ in range(10_000):
            try:
                data = sock.recv(128)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error queued on the socket; keep reading
            now = time.monotonic()
            seq_text, _, host = data.decode(errors="replace").partition(" ")
            if seq_text.isdigit() and int(seq_text) < len(sent) and int(seq_text) not in replied:
                replied[int(seq_text)] = (now, host)
                counts[host] += 1
                last_host = host

    def write_status() -> None:
        state = {"sent": len(sent), "answered": len(replied), "last_host": last_host}
        _write_json(status, {**state, "counts": counts})

    drain_until = None
    for _ in range(int((seconds + 2.0) * (rate + 50) * 4)):  # bounded loop; time bounds below
        now = time.monotonic()
        if drain_until is None and (stop or now >= end or len(sent) >= count):
            drain_until = now + min(0.2, 5 * interval + 0.05)  # late replies still count
        if drain_until is not None and now >= drain_until:
            break
        if drain_until is None and now >= next_send:
            with contextlib.suppress(OSError):  # e.g. unreachable while the link is down: lost
                sock.sendto(str(len(sent)).encode(), (target, port))
            sent.append(now)
            next_send = max(next_send + interval, now - interval)  # no catch-up bursts
        if now >= next_status:
            write_status()
            next_status = now + 0.05
        wake = drain_until if drain_until is not None else min(next_send, next_status)
        if select.select([sock], [], [], max(0.0, wake - time.monotonic()))[0]:
            receive()
    receive()
    write_status()
    probes = [[i, t, *replied.get(i, (None, None))] for i, t in enumerate(sent)]
    _write_json(out, {"target": target, "port": port, "rate": rate, "probes": probes})


# --- harness side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    seq: int
    sent: float  # time.monotonic() when sent
    replied: float | None  # time.monotonic() when the reply arrived, None if lost
    host: str | None  # name of the host that answered


@dataclass(frozen=True)
class ProbeReport:
    target: str
    probes: tuple[Probe, ...]
    sent: int
    answered: int
    lost: int
    gap: float
    """Longest interval between the send times of consecutive answered probes (the outage);
    ``inf`` when fewer than two probes were answered. About 1/rate when nothing was lost."""
    gap_start: float | None  # send time of the last answered probe before the longest gap
    gap_end: float | None  # send time of the first answered probe after it
    hosts: tuple[str, ...]
    """Answering hosts in order, consecutive repeats collapsed: ("lb1", "lb2") for one failover."""
    counts: dict[str, int]
    leading_lost: int  # lost before the first answer (e.g. while the neighbour was resolved)
    trailing_lost: int  # lost after the last answer (an outage that never ended)
    max_rtt: float | None

    @classmethod
    def from_probes(cls, target: str, probes: Sequence[Probe]) -> ProbeReport:
        ok = [p for p in probes if p.replied is not None]
        gaps = [(b.sent - a.sent, a.sent, b.sent) for a, b in itertools.pairwise(ok)]
        gap, gap_start, gap_end = max(gaps) if gaps else (float("inf"), None, None)
        hosts: list[str] = []
        for p in ok:
            if p.host is not None and (not hosts or hosts[-1] != p.host):
                hosts.append(p.host)
        return cls(
            target=target,
            probes=tuple(probes),
            sent=len(probes),
            answered=len(ok),
            lost=len(probes) - len(ok),
            gap=gap,
            gap_start=gap_start,
            gap_end=gap_end,
            hosts=tuple(hosts),
            counts=dict(Counter(p.host for p in ok if p.host is not None)),
            leading_lost=ok[0].seq if ok else len(probes),
            trailing_lost=len(probes) - 1 - ok[-1].seq if ok else len(probes),
            max_rtt=max((p.replied - p.sent for p in ok if p.replied is not None), default=None),
        )

    @classmethod
    def from_json(cls, path: Path) -> ProbeReport:
        raw = json.loads(path.read_text())
        return cls.from_probes(raw["target"], [Probe(*row) for row in raw["probes"]])

    def summary(self) -> str:
        return (
            f"{self.target}: sent={self.sent} answered={self.answered} lost={self.lost} "
            f"gap={self.gap * 1000:.1f}ms hosts={'>'.join(self.hosts)} counts={self.counts}"
        )


class ProbeRun:
    """One client process probing ``target`` from ``host``."""

    def __init__(self, process: Process, target: str, out: Path, status_path: Path) -> None:
        self.process, self.target, self.out, self.status_path = process, target, out, status_path

    def status(self) -> dict[str, Any]:
        """Live status: {"sent", "answered", "last_host", "counts"}, zero until written."""
        try:
            return dict(json.loads(self.status_path.read_text()))
        except FileNotFoundError:
            return {"sent": 0, "answered": 0, "last_host": None, "counts": {}}

    def count(self, host: str) -> int:
        """Probes ``host`` has answered so far."""
        return int(self.status()["counts"].get(host, 0))

    def wait_for(self, host: str, answers: int = 1, timeout: float = 3.0) -> float:
        """Wait until ``host`` answered at least ``answers`` probes; return the seconds waited."""

        def enough() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"probe client exited early: {self.process.stderr()}")
            return self.count(host) >= answers

        return wait_until(enough, timeout, what=f"{answers} answers from {host} to {self.target}")

    def stop(self) -> ProbeReport:
        """End the run now (SIGTERM) and return its report."""
        self.process.stop()
        return self.report()

    def wait(self, timeout: float) -> ProbeReport:
        """Wait for the run to end by itself (duration or count reached) and return its report."""
        self.process.wait(timeout)
        return self.report()

    def report(self) -> ProbeReport:
        if not self.out.exists():
            raise RuntimeError(f"probe client wrote no results: {self.process.stderr()}")
        return ProbeReport.from_json(self.out)


class Prober:
    """Starts responders and probe clients in a topology; every process is stopped at teardown."""

    def __init__(self, topology: Topology, port: int = DEFAULT_PORT) -> None:
        self.topology, self.port = topology, port
        self._runs = 0

    def serve(self, *hosts: str, timeout: float = 5.0) -> list[Process]:
        """Start a responder on each host (replying with the host's name); wait until all listen."""
        procs = [
            self.topology.popen(
                h, [sys.executable, _SCRIPT, "serve", "--port", str(self.port), "--name", h]
            )
            for h in hosts
        ]
        for p in procs:
            p.wait_for_output("ready", timeout)
        return procs

    def start(
        self,
        target: str,
        *,
        host: str = "client",
        rate: float = 250.0,
        seconds: float = 10.0,
        count: int = 1_000_000,
    ) -> ProbeRun:
        """Start probing ``target`` (an IPv4 or IPv6 address) from ``host`` in the background."""
        self._runs += 1
        stem = self.topology.workdir / f"probe-{self._runs:02d}-{host}"
        out, status = stem.with_suffix(".json"), stem.with_suffix(".status.json")
        argv = [
            sys.executable,
            _SCRIPT,
            "client",
            target,
            "--port",
            str(self.port),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--count",
            str(count),
            "--out",
            str(out),
            "--status",
            str(status),
        ]
        return ProbeRun(self.topology.popen(host, argv), target, out, status)

    def run(
        self, target: str, *, host: str = "client", count: int = 25, rate: float = 250.0
    ) -> ProbeReport:
        """Send ``count`` probes and return the report (blocking, bounded by count / rate + 5 s)."""
        probe = self.start(target, host=host, rate=rate, count=count, seconds=count / rate + 1.0)
        return probe.wait(count / rate + 5.0)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="UDP outage probe (responder and client)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=DEFAULT_PORT)
    s.add_argument("--name", default=socket.gethostname())
    s.add_argument("--seconds", type=float, default=MAX_SECONDS)
    c = sub.add_parser("client")
    c.add_argument("target")
    c.add_argument("--port", type=int, default=DEFAULT_PORT)
    c.add_argument("--rate", type=float, default=250.0, help="probes per second")
    c.add_argument("--seconds", type=float, default=10.0)
    c.add_argument("--count", type=int, default=1_000_000)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--status", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        serve(args.port, args.name, min(args.seconds, MAX_SECONDS))
    else:
        rate = min(max(args.rate, 1.0), 5000.0)
        seconds = min(args.seconds, MAX_SECONDS)
        client(
            target=args.target,
            port=args.port,
            rate=rate,
            seconds=seconds,
            count=args.count,
            out=args.out,
            status=args.status,
        )


if __name__ == "__main__":
    main()
