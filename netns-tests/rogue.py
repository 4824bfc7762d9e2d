"""A rogue host for the adversarial tests: crafts VRRP packets, sends them with scapy, captures and
replays real adverts, floods junk at a bounded rate.

The packet builders here are written from the RFCs and from the trailer layout documented in
``vipguard/proto/auth.py``, never with vipguard's own codec, so a bug there cannot hide itself.

Harness side (imported by the tests): :func:`advert`, :func:`trailer`, :class:`Packet` and
:class:`Rogue`, which runs this file as a long-lived *session* inside the rogue's namespace
(scapy is imported once; the test hands it commands as numbered JSON files in a directory and
waits for the result files) and starts *flood* processes.

Script side (``python rogue.py session DIR`` / ``python rogue.py flood ...`` inside a namespace):

* ``session``: executes ``send`` (scapy, layer 2, any IP header: TTL, options, spoofed source,
  fragments; adverts can be signed at send time so their sequence is fresh) and ``capture``
  (scapy ``sniff``, bounded in count and time) commands until ``quit`` or its time limit.
* ``flood``: junk VRRP-protocol packets from plain raw sockets (scapy is far too slow), paced to
  a target rate for a bounded time by one or more worker processes; prints what it achieved.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import hashlib
import hmac
import ipaddress
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netns import Process, Topology

SCRIPT = str(Path(__file__).resolve())
VRRP_PROTO = 112
GROUP = "224.0.0.18"
GROUP_MAC = "01:00:5e:00:00:12"
TRAILER_LENGTH = 28
MAX_SESSION_SECONDS = 600.0
MAX_FLOOD_SECONDS = 60.0
MAX_FLOOD_RATE = 200_000
MAX_FLOOD_PROCS = 8
MTU_PAYLOAD = 1480  # an IPv4 packet longer than this leaves in fragments

# --------------------------------------------------------------------------- packet builders


def internet_checksum(data: bytes) -> int:
    """RFC 1071: the one's-complement of the one's-complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def with_checksum(message: bytes, value: int | None = None) -> bytes:
    """``message`` with its checksum field (bytes 6-7) set to ``value`` (default: the correct one,
    over the message only: VRRPv2 and VRRPv3/IPv4 as RFC 9568 sends it)."""
    zeroed = message[:6] + b"\0\0" + message[8:]
    if value is None:
        value = internet_checksum(zeroed)
    return zeroed[:6] + struct.pack("!H", value) + zeroed[8:]


def bad_checksum(message: bytes) -> bytes:
    """``message`` with a checksum that does not verify (not even as the other zero, 0/0xFFFF)."""
    good = struct.unpack_from("!H", with_checksum(message), 6)[0]
    broken = with_checksum(message, good ^ 0x5A5A)
    assert internet_checksum(broken) != 0
    return broken


def advert(
    *,
    vrid: int = 51,
    priority: int = 254,
    addresses: Sequence[str] = ("192.0.2.100",),
    interval_cs: int = 10,
    version: int = 3,
    kind: int = 1,
    count: int | None = None,
    word: int | None = None,
) -> bytes:
    """A VRRP advertisement (IPv4) with a correct checksum; every field can be set wrong."""
    body = b"".join(ipaddress.IPv4Address(a).packed for a in addresses)
    if version == 2:
        word = max(1, interval_cs // 100) if word is None else word  # auth type 0, seconds
        body += bytes(8)  # VRRPv2 authentication data
    elif word is None:
        word = interval_cs & 0x0FFF
    n = len(addresses) if count is None else count
    header = struct.pack("!BBBBHH", (version << 4) | kind, vrid, priority, n, word, 0)
    return with_checksum(header + body)


def sequence_at(wall_ns: int, counter: int = 0) -> int:
    """keepalived's sequence: seconds(32) | 1/65536ths of a second(16) | counter(16)."""
    seconds, nanoseconds = divmod(wall_ns, 1_000_000_000)
    subsec = nanoseconds * 65536 // 1_000_000_000
    return ((seconds & 0xFFFFFFFF) << 32) | (subsec << 16) | (counter & 0xFFFF)


def trailer(
    secret: bytes,
    message: bytes,
    *,
    source: str,
    sequence: int,
    key_id: int = 1,
    ext_type: int = 1,
    reserved: int = 0,
) -> bytes:
    """The 28-byte auth_hmac trailer: ext_type | key_id | reserved | sequence | tag, the tag being
    HMAC-SHA256/128 over (4, version, vrid, 0, source padded to 16), the message with its
    checksum zeroed, the first 12 trailer bytes and 16 zero bytes."""
    zeroed = message[:6] + b"\0\0" + message[8:]
    prefix = struct.pack("!BBHQ", ext_type, key_id, reserved, sequence)
    source_bytes = ipaddress.IPv4Address(source).packed.ljust(16, b"\0")
    pseudo = bytes((4, message[0] >> 4, message[1], 0)) + source_bytes
    tag = hmac.digest(secret, pseudo + zeroed + prefix + bytes(16), hashlib.sha256)[:16]
    return prefix + tag


def signed(
    message: bytes,
    secret: bytes,
    *,
    source: str,
    sequence: int,
    key_id: int = 1,
    ext_type: int = 1,
) -> bytes:
    """``message`` (checksum made correct) followed by its trailer (the checksum never covers the
    trailer over IPv4)."""
    tail = trailer(
        secret, message, source=source, sequence=sequence, key_id=key_id, ext_type=ext_type
    )
    return with_checksum(message) + tail


def pseudo_header(source: bytes, destination: bytes, length: int) -> bytes:
    return source + destination + struct.pack("!BBH", 0, VRRP_PROTO, length)


def readdressed(ip: bytes, dst: str) -> bytes:
    """The IPv4 packet ``ip`` sent to ``dst`` instead, both checksums made right again as any
    sender could: the IP header's, and a VRRPv3 checksum computed over the pseudo-header (which
    covers the destination; the RFC 9568 form and the auth trailer do not)."""
    header_length = (ip[0] & 0x0F) * 4
    source, old_dst, new_dst = ip[12:16], ip[16:20], ipaddress.IPv4Address(dst).packed
    header = ip[:10] + b"\0\0" + source + new_dst + ip[20:header_length]
    header = header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]
    payload = ip[header_length:]
    length = 8 + 4 * payload[3]
    message = payload[:length]
    if (
        payload[0] >> 4 == 3
        and internet_checksum(pseudo_header(source, old_dst, length) + message) == 0
    ):
        zeroed = message[:6] + b"\0\0" + message[8:]
        value = internet_checksum(pseudo_header(source, new_dst, length) + zeroed)
        payload = zeroed[:6] + struct.pack("!H", value) + payload[8:]
    return header + payload


@dataclass(frozen=True)
class Signing:
    """Sign at send time (fresh sequence), ``age`` seconds in the past."""

    secret: bytes
    key_id: int = 1
    ext_type: int = 1
    age: float = 0.0

    def spec(self) -> dict[str, Any]:
        return {
            "secret": self.secret.hex(),
            "key_id": self.key_id,
            "ext_type": self.ext_type,
            "age": self.age,
        }


@dataclass(frozen=True)
class Packet:
    """One IPv4 packet the rogue sends at layer 2: either built from ``payload`` (protocol 112,
    any TTL, spoofed ``src``, optional router-alert option, fragmented when long) or a captured
    IP packet ``ip`` sent again (``dst`` then rewrites its destination)."""

    mac: str
    dst: str | None = None
    payload: bytes = b""
    src: str | None = None
    ttl: int = 255
    router_alert: bool = False
    sign: Signing | None = None
    ip: bytes | None = None
    label: str = ""

    def spec(self) -> dict[str, Any]:
        return {
            "mac": self.mac,
            "dst": self.dst,
            "payload": self.payload.hex(),
            "src": self.src,
            "ttl": self.ttl,
            "router_alert": self.router_alert,
            "sign": self.sign.spec() if self.sign else None,
            "ip": self.ip.hex() if self.ip is not None else None,
        }


@dataclass(frozen=True)
class Captured:
    ip: bytes
    time: float  # wall clock (time.time()) when sniffed

    @property
    def source(self) -> str:
        return str(ipaddress.IPv4Address(self.ip[12:16]))

    @property
    def payload(self) -> bytes:
        return self.ip[(self.ip[0] & 0x0F) * 4 :]

    @property
    def sequence(self) -> int | None:
        """The trailer's sequence, if the advert carries a trailer."""
        payload = self.payload
        if len(payload) < TRAILER_LENGTH + 8:
            return None
        return int(struct.unpack_from("!Q", payload, len(payload) - TRAILER_LENGTH + 4)[0])


# --------------------------------------------------------------------------- harness side


@dataclass
class FloodReport:
    sent: int
    errors: dict[str, int]
    seconds: float
    rate: float
    workers: list[dict[str, Any]] = field(default_factory=list)


class Rogue:
    """The rogue host: a namespace on the bridge and a scapy session inside it."""

    def __init__(self, topology: Topology, name: str = "rogue") -> None:
        self.topology = topology
        self.name = name
        self.host = topology.add_host(name)
        self.mac = topology.mac(name)
        self.ipv4 = self.host.ipv4
        self.dir = topology.workdir / f"{name}-session"
        self.dir.mkdir()
        self._commands = 0
        self.process = topology.popen(
            name, [sys.executable, SCRIPT, "session", str(self.dir), "--seconds", "300"]
        )
        self.process.wait_for_output("ready", timeout=30)  # scapy's import is slow

    def call(self, command: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Run one command in the session; its JSON result (raises on an error result)."""
        self._commands += 1
        stem = self.dir / f"{self._commands:04d}"
        tmp = stem.with_suffix(".tmp")
        tmp.write_text(json.dumps(command))
        os.replace(tmp, stem.with_suffix(".json"))
        result_path = stem.with_suffix(".result")
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.01) + 2):
            if result_path.exists():
                result: dict[str, Any] = json.loads(result_path.read_text())
                if "error" in result:
                    raise RuntimeError(f"rogue {command['op']}: {result['error']}")
                return result
            if self.process.poll() is not None:
                raise RuntimeError(f"rogue session exited: {self.process.stderr()[-2000:]}")
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        raise TimeoutError(f"rogue {command['op']} gave no result within {timeout:.0f}s")

    def send(
        self, packets: Sequence[Packet], *, rounds: int = 1, gap: float = 0.0
    ) -> dict[str, Any]:
        """Send every packet once per round, ``gap`` seconds between rounds.
        Result: {"frames": n, "started": wall, "ended": wall}."""
        command = {
            "op": "send",
            "packets": [p.spec() for p in packets],
            "rounds": rounds,
            "gap": gap,
        }
        return self.call(command, timeout=30.0 + rounds * (gap + 0.1))

    def capture(self, src: str, count: int, seconds: float) -> list[Captured]:
        """Sniff up to ``count`` VRRP packets from ``src`` for at most ``seconds``."""
        command = {"op": "capture", "src": src, "count": count, "seconds": seconds}
        result = self.call(command, timeout=seconds + 15.0)
        return [Captured(bytes.fromhex(p["ip"]), p["time"]) for p in result["packets"]]

    def flood(
        self, dst: str, *, rate: int, seconds: float, procs: int = 1, kind: str = "junk"
    ) -> Process:
        """Start a flood at ``dst``: ``junk`` (:func:`junk_payloads`) or ``forged``
        (:func:`forged_payloads`); a separate process: read it with :func:`flood_report` once
        it has exited."""
        argv = [
            sys.executable,
            SCRIPT,
            "flood",
            dst,
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--procs",
            str(procs),
            "--kind",
            kind,
        ]
        return self.topology.popen(self.name, argv)

    def close(self) -> None:
        """End the session (the topology's teardown stops it by PID anyway)."""
        if self.process.poll() is None:
            self.call({"op": "quit"}, timeout=5.0)
            self.process.wait(5.0)


def flood_report(process: Process) -> FloodReport:
    lines = [line for line in process.stdout().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"flood printed no report: {process.stderr()[-2000:]}")
    raw = json.loads(lines[-1])
    return FloodReport(raw["sent"], raw["errors"], raw["seconds"], raw["rate"], raw["workers"])


# --------------------------------------------------------------------------- script: session


def _die_with_parent(sig: int = signal.SIGKILL) -> None:
    ctypes.CDLL(None).prctl(1, int(sig))  # PR_SET_PDEATHSIG


class _Session:
    def __init__(self, ifname: str) -> None:
        from scapy.arch import get_if_addr, get_if_hwaddr
        from scapy.config import conf

        conf.verb = 0
        self.ifname = ifname
        self.mac = get_if_hwaddr(ifname)
        self.ipv4 = get_if_addr(ifname)
        self.socket = conf.L2socket(iface=ifname)
        self.counter = 0

    def frames(self, spec: dict[str, Any]) -> list[Any]:
        from scapy.layers.inet import IP, IPOption_Router_Alert, fragment
        from scapy.layers.l2 import Ether
        from scapy.packet import Raw

        if spec.get("ip"):
            raw = bytes.fromhex(spec["ip"])
            ip = IP(readdressed(raw, spec["dst"]) if spec.get("dst") else raw)
        else:
            src = spec.get("src") or self.ipv4
            payload = bytes.fromhex(spec["payload"])
            if spec.get("sign"):
                payload = self._sign(payload, spec["sign"], src)
            options = [IPOption_Router_Alert()] if spec.get("router_alert") else []
            ip = IP(src=src, dst=spec["dst"], ttl=spec["ttl"], proto=VRRP_PROTO, options=options)
            ip = ip / Raw(payload)
        pieces = fragment(ip, fragsize=1400) if len(ip) > MTU_PAYLOAD + 20 else [ip]
        return [Ether(src=self.mac, dst=spec["mac"]) / piece for piece in pieces]

    def _sign(self, message: bytes, sign: dict[str, Any], src: str) -> bytes:
        self.counter += 1
        wall_ns = time.time_ns() - int(sign["age"] * 1e9)
        return signed(
            message,
            bytes.fromhex(sign["secret"]),
            source=src,
            sequence=sequence_at(wall_ns, self.counter),
            key_id=sign["key_id"],
            ext_type=sign["ext_type"],
        )

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        rounds = min(int(command.get("rounds", 1)), 10_000)
        gap = min(float(command.get("gap", 0.0)), 10.0)
        started, frames = time.time(), 0
        for index in range(rounds):
            if index and gap:
                time.sleep(gap)
            for spec in command["packets"]:
                for frame in self.frames(spec):  # built per round: signatures stay fresh
                    self.socket.send(frame)
                    frames += 1
        return {"frames": frames, "started": started, "ended": time.time()}

    def capture(self, command: dict[str, Any]) -> dict[str, Any]:
        from scapy.layers.inet import IP
        from scapy.sendrecv import sniff

        src = command["src"]

        def wanted(packet: Any) -> bool:
            return IP in packet and packet[IP].proto == VRRP_PROTO and packet[IP].src == src

        packets = sniff(
            iface=self.ifname,
            lfilter=wanted,
            count=min(int(command["count"]), 1000),
            timeout=min(float(command["seconds"]), 60.0),
        )
        return {"packets": [{"ip": bytes(p[IP]).hex(), "time": float(p.time)} for p in packets]}


def _session(directory: Path, seconds: float, ifname: str) -> None:
    session = _Session(ifname)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    index = 0
    for _ in range(int(seconds / 0.005) + 1):  # bounded in count and time (commands are too)
        if time.monotonic() >= deadline:
            break
        path = directory / f"{index + 1:04d}.json"
        if not path.exists():
            time.sleep(0.005)
            continue
        index += 1
        command = json.loads(path.read_text())
        try:
            if command["op"] == "quit":
                result: dict[str, Any] = {"ok": True}
            elif command["op"] == "send":
                result = session.send(command)
            elif command["op"] == "capture":
                result = session.capture(command)
            else:
                result = {"error": f"unknown op {command['op']!r}"}
        except Exception as e:  # report it to the test rather than die silently
            result = {"error": repr(e)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        os.replace(tmp, path.with_suffix(".result"))
        if command["op"] == "quit":
            return


# --------------------------------------------------------------------------- script: flood


def junk_payloads(seed: int = 1, vrid: int = 51) -> list[bytes]:
    """What the flood cycles through: refusals that run deep into the receive path (wrong
    checksum of an otherwise fine priority-254 advert), random bytes carrying our VRID, short,
    wrong-version, wrong-length and other-VRID packets."""
    rng = random.Random(seed)
    good = advert(vrid=vrid, priority=254)
    payloads = [
        bad_checksum(good),
        bad_checksum(advert(vrid=vrid, priority=255, addresses=["192.0.2.100"] * 20)),
        good[:5],
        with_checksum(b"\x41" + good[1:]),
        good + bytes(64),
        advert(vrid=vrid + 1),
    ]
    for index in range(26):
        raw = bytearray(rng.randbytes(rng.randint(2, 300)))
        raw[1] = vrid
        if index % 2:  # looks like a VRRPv3 advert: runs on to the count, length and checksum
            raw[0] = 0x31
        payloads.append(bytes(raw))
    return payloads


def forged_payloads(seed: int = 1, vrid: int = 51, count: int = 32) -> list[bytes]:
    """Priority-254 adverts that pass every codec check and carry a fresh trailer with a random
    tag: each one costs the receiver an HMAC before it is refused (auth_bad_hmac)."""
    rng = random.Random(seed)
    message = advert(vrid=vrid, priority=254)
    wall_ns = time.time_ns()
    return [
        message + struct.pack("!BBHQ", 1, 1, 0, sequence_at(wall_ns, n)) + rng.randbytes(16)
        for n in range(count)
    ]


def _flood_worker(dst: str, rate: float, seconds: float, kind: str, seed: int, out: int) -> None:
    make = forged_payloads if kind == "forged" else junk_payloads
    payloads = make(seed)
    refreshed = time.monotonic()
    errors: Counter[str] = Counter()
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, VRRP_PROTO) as s:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        address = (dst, 0)
        total = int(rate * seconds)
        start = time.monotonic()
        for _ in range(int(seconds / 0.0002) + 10):  # bounded: time ends it long before this
            elapsed = time.monotonic() - start
            if elapsed >= seconds or sent >= total:
                break
            due = min(int(elapsed * rate) + 1, total)
            if due <= sent:
                time.sleep(0.0005)
                continue
            if kind == "forged" and time.monotonic() - refreshed > 0.5:
                payloads, refreshed = make(seed + sent), time.monotonic()  # stay in the window
            for _ in range(min(due - sent, 512)):
                try:
                    s.sendto(payloads[sent % len(payloads)], address)
                except OSError as e:
                    errors[errno.errorcode.get(e.errno or 0, str(e.errno))] += 1
                sent += 1
        elapsed = time.monotonic() - start
    report = {"sent": sent - errors.total(), "errors": dict(errors), "seconds": elapsed}
    os.write(out, json.dumps(report).encode())


def _flood(dst: str, rate: float, seconds: float, procs: int, kind: str) -> None:
    workers: list[tuple[int, int]] = []
    start = time.monotonic()
    for index in range(procs):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # worker: dies with the flood process, reports through the pipe
            try:
                os.close(read_end)
                _die_with_parent()
                _flood_worker(dst, rate / procs, seconds, kind, index + 1, write_end)
            finally:
                os._exit(0)
        os.close(write_end)
        workers.append((pid, read_end))
    reports = []
    for pid, read_end in workers:
        chunks = []
        for _ in range(10_000):
            if not select.select([read_end], [], [], seconds + 10.0)[0]:
                break
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_end)
        os.waitpid(pid, 0)
        reports.append(json.loads(b"".join(chunks) or b'{"sent": 0, "errors": {}, "seconds": 0}'))
    elapsed = time.monotonic() - start
    sent = sum(r["sent"] for r in reports)
    errors: Counter[str] = Counter()
    for r in reports:
        errors.update(r["errors"])
    busiest = max((r["seconds"] for r in reports), default=elapsed) or elapsed
    summary = {
        "sent": sent,
        "errors": dict(errors),
        "seconds": busiest,
        "rate": sent / busiest if busiest else 0.0,
        "workers": reports,
    }
    print(json.dumps(summary), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("session", help="run send/capture commands from DIR (scapy)")
    s.add_argument("directory", type=Path)
    s.add_argument("--seconds", type=float, default=300.0)
    s.add_argument("--ifname", default="eth0")
    f = sub.add_parser("flood", help="junk protocol-112 packets at a paced rate")
    f.add_argument("dst")
    f.add_argument("--rate", type=int, default=10_000)
    f.add_argument("--seconds", type=float, default=10.0)
    f.add_argument("--procs", type=int, default=1)
    f.add_argument("--kind", choices=("junk", "forged"), default="junk")
    args = parser.parse_args(argv)
    if args.cmd == "session":
        _session(args.directory, min(args.seconds, MAX_SESSION_SECONDS), args.ifname)
    else:
        _flood(
            args.dst,
            min(max(args.rate, 1), MAX_FLOOD_RATE),
            min(args.seconds, MAX_FLOOD_SECONDS),
            min(max(args.procs, 1), MAX_FLOOD_PROCS),
            args.kind,
        )


if __name__ == "__main__":
    main()
