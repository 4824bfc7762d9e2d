"""Network-namespace topology for vipguard's layer-4 tests (DESIGN.md §4).

A bridge namespace holds bridge ``br0``; every host (``lb1``, ``lb2``, ``client`` and any added
with :meth:`Topology.add_host`) is its own namespace joined to the bridge by a veth pair whose host
end is ``eth0``. Nothing is created in, or sent from, the host's own namespace: veth ends are
created directly inside their namespaces with ``ip -n``. Names carry a random per-run tag.

Run as a script inside a namespace (``ip netns exec NS python netns.py ...``) for the packet tools:
``announce`` (gratuitous ARP / unsolicited NA), ``raw-send`` and ``raw-recv`` (raw IP-protocol
packets, e.g. VRRP-like protocol 112). Standard library only, so the script runs anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import ipaddress
import json
import math
import re
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

TOOL: tuple[str, ...] = (sys.executable, str(Path(__file__).resolve()))
"""argv prefix that runs this file's packet tools (``announce``, ``raw-send``, ``raw-recv``)."""

DEFAULT_HOSTS: dict[str, int] = {"lb1": 11, "lb2": 12, "client": 50}
"""Host name → last octet of its addresses: 192.0.2.N/24 and 2001:db8::N/64."""

BRIDGE = "bridge"
"""Host name that :meth:`Topology.ns` and friends accept for the bridge namespace."""

CMD_TIMEOUT = 10.0
_HOST_NAME = re.compile(r"[a-z][a-z0-9]{0,9}")
_HOST_SYSCTLS = (
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    # Keep static IPv6 addresses over link down/up, as IPv4 does, so link_up() restores everything.
    "net.ipv6.conf.all.keep_addr_on_down=1",
    "net.ipv6.conf.default.keep_addr_on_down=1",
)
_BRIDGE_SYSCTLS = ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")


class TopologyError(RuntimeError):
    """The topology cannot be built (a name already exists, a bad host name, ...)."""


class CommandError(subprocess.CalledProcessError):
    """A failed command whose message includes its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()} stderr: {str(self.stderr or '').strip()}"


def run(argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """subprocess.run: checked, captured text output and a timeout, unless ``kw`` says otherwise."""
    kw.setdefault("check", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", CMD_TIMEOUT)
    if "stdout" not in kw and "stderr" not in kw:
        kw.setdefault("capture_output", True)
    try:
        return subprocess.run(list(argv), **kw)  # noqa: PLW1510 (check is in kw)
    except subprocess.CalledProcessError as e:
        raise CommandError(e.returncode, e.cmd, e.output, e.stderr) from None


def wait_until(
    predicate: Callable[[], object], timeout: float, interval: float = 0.01, what: str = "condition"
) -> float:
    """Poll ``predicate`` until truthy; return the seconds it took; TimeoutError after that."""
    start = time.monotonic()
    deadline = start + timeout
    for _ in range(math.ceil(timeout / interval) + 2):
        if predicate():
            return time.monotonic() - start
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    raise TimeoutError(f"{what} not met within {timeout:.2f}s")


def list_netns() -> list[str]:
    """Names of all network namespaces (``ip -j netns list``)."""
    out = run(["ip", "-j", "netns", "list"]).stdout.strip()
    return [entry["name"] for entry in json.loads(out or "[]")]


@dataclass(frozen=True)
class Host:
    name: str
    ns: str
    ipv4: str
    ipv6: str
    port: str
    """The veth end on the bridge (inside the bridge namespace)."""


@dataclass(frozen=True)
class Addr:
    ifname: str
    family: str  # "inet" | "inet6"
    address: str
    prefixlen: int
    scope: str
    flags: frozenset[str]  # e.g. {"tentative", "nodad", "dadfailed", "secondary"}


@dataclass(frozen=True)
class Neigh:
    ifname: str
    address: str
    lladdr: str | None
    state: frozenset[str]  # e.g. {"REACHABLE"}, {"STALE"}, {"FAILED"}


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the test process dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))


class Process:
    """A process started inside a namespace; stdout/stderr go to files in the topology's workdir."""

    def __init__(self, host: str, argv: Sequence[str], workdir: Path, index: int) -> None:
        self.host = host
        self.argv = list(argv)
        stem = f"{index:02d}-{host}-{Path(self.argv[0]).name}"
        self.stdout_path = workdir / f"{stem}.out"
        self.stderr_path = workdir / f"{stem}.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (tests start processes from one thread)
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self._popen.pid

    def poll(self) -> int | None:
        return self._popen.poll()

    def signal(self, sig: int) -> None:
        """Send ``sig`` (SIGSTOP/SIGCONT for starvation, SIGKILL for a crash) unless reaped."""
        self._popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self._popen.wait(timeout)

    def stop(self, grace: float = 3.0) -> int:
        """SIGTERM (and SIGCONT, in case it is stopped), then SIGKILL after ``grace`` seconds."""
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            self._popen.send_signal(signal.SIGCONT)
            try:
                return self._popen.wait(grace)
            except subprocess.TimeoutExpired:
                self._popen.kill()
        return self._popen.wait(grace)

    def wait_for_output(self, text: str, timeout: float = 5.0) -> float:
        """Wait until ``text`` appears in stdout (a "ready" line); raise if the process exits."""

        def seen() -> bool:
            if text in self.stdout():
                return True
            if self.poll() is not None:
                raise RuntimeError(
                    f"{self} exited ({self.poll()}) before {text!r}: {self.stderr()}"
                )
            return False

        return wait_until(seen, timeout, what=f"{text!r} from {self}")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def __repr__(self) -> str:
        return f"Process(host={self.host!r}, pid={self.pid}, argv={self.argv!r})"


class Topology:
    """Bridge namespace + host namespaces. Use :meth:`build` then :meth:`teardown` (or ``with``)."""

    def __init__(self, tag: str | None = None, workdir: Path | None = None) -> None:
        self.tag = tag or f"vg{secrets.token_hex(2)}"
        self.bridge_ns = f"{self.tag}-br"
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        self.hosts: dict[str, Host] = {}
        self.processes: list[Process] = []
        # Only what this object created, so that teardown deletes nothing else.
        self._namespaces: list[str] = []

    # --- building -------------------------------------------------------------------------------

    def build(self, hosts: dict[str, int] = DEFAULT_HOSTS) -> Topology:
        taken = [n for n in list_netns() if n.startswith(f"{self.tag}-")]
        if taken:
            raise TopologyError(
                f"refusing to build: namespaces with tag {self.tag!r} exist: {taken}"
            )
        self._add_ns(self.bridge_ns, _BRIDGE_SYSCTLS)
        self._ip(self.bridge_ns, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        self._ip(self.bridge_ns, "link", "set", "br0", "up")
        for name, octet in hosts.items():
            self.add_host(name, f"192.0.2.{octet}", f"2001:db8::{octet}")
        return self

    def add_host(self, name: str, ipv4: str | None = None, ipv6: str | None = None) -> Host:
        """Add a host namespace joined to the bridge. Addresses default to 192.0.2.N / 2001:db8::N
        with the first free N from 60; a prefix may be given (default /24 and /64)."""
        if not _HOST_NAME.fullmatch(name) or name in (BRIDGE, "br"):
            raise TopologyError(f"host name {name!r}: use [a-z][a-z0-9]{{0,9}}, not {BRIDGE!r}")
        if name in self.hosts:
            raise TopologyError(f"host {name!r} already exists in topology {self.tag}")
        if ipv4 is None or ipv6 is None:
            used = {h.ipv4 for h in self.hosts.values()}
            octet = next(n for n in range(60, 100) if f"192.0.2.{n}" not in used)
            ipv4, ipv6 = ipv4 or f"192.0.2.{octet}", ipv6 or f"2001:db8::{octet}"
        v4 = ipaddress.ip_interface(ipv4 if "/" in ipv4 else f"{ipv4}/24")
        v6 = ipaddress.ip_interface(ipv6 if "/" in ipv6 else f"{ipv6}/64")
        host = Host(name, f"{self.tag}-{name}", str(v4.ip), str(v6.ip), f"p-{name}")
        if host.ns in list_netns():
            raise TopologyError(f"refusing to build: namespace {host.ns!r} already exists")
        self._add_ns(host.ns, _HOST_SYSCTLS)
        self.hosts[name] = host
        # Created from inside the bridge namespace, straight into the host namespace.
        self._ip(
            self.bridge_ns, *f"link add {host.port} type veth peer eth0 netns {host.ns}".split()
        )
        self._ip(self.bridge_ns, "link", "set", host.port, "master", "br0", "up")
        self._ip(host.ns, "addr", "add", str(v4), "dev", "eth0")
        self._ip(host.ns, "addr", "add", str(v6), "dev", "eth0", "nodad")
        self._ip(host.ns, "link", "set", "eth0", "up")
        return host

    def _add_ns(self, ns: str, sysctls: Iterable[str]) -> None:
        run(["ip", "netns", "add", ns])
        self._namespaces.append(ns)
        self._ip(ns, "link", "set", "lo", "up")
        run(["ip", "netns", "exec", ns, "sysctl", "-qw", *sysctls])

    def _ip(self, ns: str, *args: str) -> str:
        return run(["ip", "-n", ns, *args]).stdout

    # --- teardown -------------------------------------------------------------------------------

    def teardown(self) -> list[str]:
        """Stop every process, delete every namespace this object created. Returns the problems
        (empty when everything is gone); never raises, so callers can run it in ``finally``."""
        problems: list[str] = []
        for proc in reversed(self.processes):
            try:
                proc.stop()
            except Exception as e:  # keep tearing down whatever happens
                problems.append(f"stopping {proc}: {e}")
        for ns in reversed(self._namespaces):
            try:
                run(["ip", "netns", "del", ns])
            except Exception as e:
                problems.append(f"deleting namespace {ns}: {e}")
        try:
            left = [n for n in list_netns() if n in self._namespaces]
        except Exception as e:
            left, problems = [], [*problems, f"listing namespaces: {e}"]
        problems += [f"namespace {n} still exists" for n in left]
        self._namespaces = left
        return problems

    def __enter__(self) -> Topology:
        try:
            return self.build()
        except BaseException:
            self.teardown()
            raise

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        problems = self.teardown()
        if problems and exc is None:
            raise TopologyError("; ".join(problems))

    # --- running things inside ------------------------------------------------------------------

    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(
                f"no host {name!r} in topology {self.tag} ({sorted(self.hosts)})"
            ) from None

    def ns(self, host: str) -> str:
        """Namespace name of ``host`` (``"bridge"`` for the bridge namespace)."""
        return self.bridge_ns if host == BRIDGE else self.host(host).ns

    def ns_exec(
        self, host: str, argv: Sequence[str], **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace of ``host`` (see :func:`run` for the defaults)."""
        return run(["ip", "netns", "exec", self.ns(host), *argv], **kw)

    def ip(self, host: str, *args: str) -> str:
        """``ip -n NS args...``; returns stdout."""
        return self._ip(self.ns(host), *args)

    def popen(self, host: str, argv: Sequence[str]) -> Process:
        """Start ``argv`` in the background inside ``host``; it is stopped by PID at teardown."""
        proc = Process(
            host, ["ip", "netns", "exec", self.ns(host), *argv], self.workdir, len(self.processes)
        )
        self.processes.append(proc)
        return proc

    def sysctl(self, host: str, key: str, value: str | int) -> None:
        self.ns_exec(host, ["sysctl", "-qw", f"{key}={value}"])

    # --- links and state ------------------------------------------------------------------------

    def add_back_network(self, prefix: str = "198.51.100") -> None:
        """A second network (the "back" side): a bridge br1 in the bridge namespace and an eth1
        on lb1 (.11) and lb2 (.12) in ``prefix``.0/24."""
        self.ip("bridge", "link", "add", "br1", "type", "bridge", "mcast_snooping", "0")
        self.ip("bridge", "link", "set", "br1", "up")
        for host, octet in (("lb1", 11), ("lb2", 12)):
            port = f"q-{host}"
            self.ip(
                "bridge",
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "eth1",
                "netns",
                self.ns(host),
            )
            self.ip("bridge", "link", "set", port, "master", "br1", "up")
            self.ip(host, "addr", "add", f"{prefix}.{octet}/24", "dev", "eth1")
            self.ip(host, "link", "set", "eth1", "up")

    def link_down(self, host: str, *, carrier: bool = False) -> None:
        """Admin-down ``eth0`` of ``host``; with ``carrier=True`` down its bridge port instead, so
        the host sees carrier loss (NO-CARRIER) on an interface that stays administratively up."""
        self._link(host, carrier, "down")

    def link_up(self, host: str, *, carrier: bool = False) -> None:
        self._link(host, carrier, "up")

    def _link(self, host: str, carrier: bool, state: str) -> None:
        h = self.host(host)
        ns, dev = (self.bridge_ns, h.port) if carrier else (h.ns, "eth0")
        self._ip(ns, "link", "set", dev, state)

    def addresses(self, host: str, ifname: str | None = "eth0") -> list[Addr]:
        """Addresses of ``host`` (one interface, all with ``ifname=None``) from ``ip -j addr``."""
        links = json.loads(
            self.ip(host, "-j", "addr", "show", *(("dev", ifname) if ifname else ()))
        )
        return [
            Addr(
                link["ifname"],
                a["family"],
                a["local"],
                a["prefixlen"],
                a.get("scope", ""),
                frozenset(k for k, v in a.items() if v is True),
            )
            for link in links
            for a in link.get("addr_info", [])
        ]

    def neighbours(self, host: str) -> list[Neigh]:
        """Neighbour (ARP and NDP) entries of ``host`` from ``ip -j neigh``."""
        return [
            Neigh(n.get("dev", ""), n["dst"], n.get("lladdr"), frozenset(n.get("state", [])))
            for n in json.loads(self.ip(host, "-j", "neigh", "show") or "[]")
        ]

    def mac(self, host: str, ifname: str = "eth0") -> str:
        return str(json.loads(self.ip(host, "-j", "link", "show", "dev", ifname))[0]["address"])

    def announce(self, host: str, address: str, ifname: str = "eth0", count: int = 1) -> None:
        """Gratuitous ARP (IPv4) or unsolicited NA with the override flag (IPv6) for ``address``."""
        self.ns_exec(host, [*TOOL, "announce", ifname, address, "--count", str(count)])

    # --- nftables -------------------------------------------------------------------------------

    def nft(self, host: str, ruleset: str) -> None:
        """Apply nftables ``ruleset`` text (``nft -f -``) in ``host`` (or ``"bridge"``)."""
        self.ns_exec(host, ["nft", "-f", "-"], input=ruleset)

    def nft_flush(self, host: str) -> None:
        self.ns_exec(host, ["nft", "flush", "ruleset"])

    def nft_counters(self, host: str) -> dict[str, int]:
        """Packet counters of rules that have a ``counter`` and a ``comment``, keyed by comment."""
        items = json.loads(self.ns_exec(host, ["nft", "-j", "list", "ruleset"]).stdout)["nftables"]
        counters: dict[str, int] = {}
        for item in items:
            rule = item.get("rule", {})
            for expr in rule.get("expr", []) if "comment" in rule else []:
                if "counter" in expr:
                    counters[rule["comment"]] = int(expr["counter"]["packets"])
        return counters

    def partition(self, side_a: Iterable[str], side_b: Iterable[str]) -> None:
        """Drop every frame between the two groups of hosts, both ways, at the bridge (L2, so
        multicast and link-local traffic are cut too). Calls accumulate; :meth:`heal` undoes all."""
        a_hosts, b_hosts = list(side_a), list(side_b)
        pairs = [(a, b) for a in a_hosts for b in b_hosts]
        pairs += [(b, a) for a, b in pairs]
        rules = [
            f'add rule bridge vgpart cut iifname "{self.host(x).port}" '
            f'oifname "{self.host(y).port}" counter drop comment "{x}>{y}"'
            for x, y in pairs
        ]
        head = "table bridge vgpart {\n chain cut { type filter hook forward priority 0; }\n}\n"
        self.nft(BRIDGE, head + "\n".join(rules) + "\n")

    def heal(self) -> None:
        """Remove every partition made by :meth:`partition`."""
        self.nft(BRIDGE, "table bridge vgpart {}\ndelete table bridge vgpart\n")


def vrrp_drop_ruleset(hook: str = "output", table: str = "vgvrrp") -> str:
    """Drop VRRP (protocol 112) multicast to 224.0.0.18 / ff02::12 (counters "vrrp4", "vrrp6")."""
    return (
        f"table inet {table} {{\n chain c {{ type filter hook {hook} priority 0;\n"
        '  ip daddr 224.0.0.18 meta l4proto 112 counter drop comment "vrrp4"\n'
        '  ip6 daddr ff02::12 meta l4proto 112 counter drop comment "vrrp6"\n }\n}\n'
    )


def loss_ruleset(
    percent: int, hook: str = "input", ifname: str = "eth0", table: str = "vgloss"
) -> str:
    """Drop ``percent``% of packets at random on ``ifname`` (counter "loss")."""
    match = "iifname" if hook == "input" else "oifname"
    return (
        f"table inet {table} {{\n chain c {{ type filter hook {hook} priority 0;\n"
        f'  {match} "{ifname}" numgen random mod 100 < {percent} counter drop comment "loss"\n'
        " }\n}\n"
    )


# --- packet tools, run inside a namespace as a script -------------------------------------------


def _announce(ifname: str, address: str, count: int) -> None:
    ip = ipaddress.ip_address(address)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as pkt:
        pkt.bind((ifname, 0))
        mac: bytes = pkt.getsockname()[4]
        if ip.version == 4:  # ARP request, sender IP = target IP (the form keepalived sends)
            arp = struct.pack(
                "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip.packed, bytes(6), ip.packed
            )
            for _ in range(count):
                pkt.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
            return
    ifindex = socket.if_nametoindex(ifname)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.bind((address, 0, 0, ifindex if ip.is_link_local else 0))
        # Neighbour Advertisement: Override flag, target link-layer address; the kernel checksums.
        na = struct.pack("!BBHI16sBB6s", 136, 0, 0, 0x2000_0000, ip.packed, 2, 1, mac)
        for _ in range(count):
            s.sendto(na, ("ff02::1", 0, 0, ifindex))


def _raw_socket(family: int, proto: int, ifname: str) -> socket.socket:
    s = socket.socket(family, socket.SOCK_RAW, proto)
    ifindex = socket.if_nametoindex(ifname)
    if family == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        s.setsockopt(
            socket.IPPROTO_IP, socket.IP_MULTICAST_IF, struct.pack("8si", bytes(8), ifindex)
        )
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    return s


def _raw_send(ifname: str, dst: str, proto: int, count: int, payload: bytes) -> None:
    ip = ipaddress.ip_address(dst)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    addr = (dst, 0) if ip.version == 4 else (dst, 0, 0, socket.if_nametoindex(ifname))
    errors: Counter[str] = Counter()  # an nftables drop in the output hook gives EPERM
    with _raw_socket(family, proto, ifname) as s:
        for _ in range(count):
            try:
                s.sendto(payload, addr)
            except OSError as e:
                errors[errno.errorcode.get(e.errno or 0, str(e.errno))] += 1
    print(json.dumps({"sent": count - errors.total(), "errors": errors}), flush=True)


def _raw_recv(ifname: str, group: str, proto: int, seconds: float) -> None:
    """Count protocol-``proto`` packets until one whose payload is ``END`` (or ``seconds`` pass);
    print JSON {"packets": n, "end": bool, "sources": [...]}. Joins ``group`` on ``ifname``."""
    ip = ipaddress.ip_address(group)
    ifindex = socket.if_nametoindex(ifname)
    with _raw_socket(socket.AF_INET if ip.version == 4 else socket.AF_INET6, proto, ifname) as s:
        if ip.version == 4:
            mreq = struct.pack("4s4si", ip.packed, bytes(4), ifindex)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            mreq = struct.pack("16sI", ip.packed, ifindex)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        print("ready", flush=True)
        packets, end, sources = 0, False, set()
        deadline = time.monotonic() + seconds
        for _ in range(100_000):
            timeout = deadline - time.monotonic()
            if timeout <= 0 or not select.select([s], [], [], timeout)[0]:
                break
            data, src = s.recvfrom(65535)
            body = (
                data[(data[0] & 0x0F) * 4 :] if ip.version == 4 else data
            )  # v4 raw includes header
            if body == b"END":
                end = True
                break
            packets += 1
            sources.add(src[0])
    print(json.dumps({"packets": packets, "end": end, "sources": sorted(sources)}), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("announce", help="gratuitous ARP / unsolicited NA")
    a.add_argument("ifname")
    a.add_argument("address")
    a.add_argument("--count", type=int, default=1)
    s = sub.add_parser(
        "raw-send",
        help="send raw IP-protocol packets (TTL/hop limit 255); print"
        ' JSON {"sent": n, "errors": {"EPERM": n, ...}}',
    )
    s.add_argument("ifname")
    s.add_argument("dst")
    s.add_argument("--proto", type=int, default=112)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--payload", default="vipguard-test")
    r = sub.add_parser("raw-recv", help="count raw IP-protocol packets until END")
    r.add_argument("ifname")
    r.add_argument("group")
    r.add_argument("--proto", type=int, default=112)
    r.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.cmd == "announce":
        _announce(args.ifname, args.address, min(args.count, 100))
    elif args.cmd == "raw-send":
        _raw_send(args.ifname, args.dst, args.proto, min(args.count, 10_000), args.payload.encode())
    else:
        with contextlib.suppress(KeyboardInterrupt):
            _raw_recv(args.ifname, args.group, args.proto, min(args.seconds, 600.0))


if __name__ == "__main__":
    main()


@contextlib.contextmanager
def inside(topology: Topology, host: str) -> Iterator[None]:
    """Run this thread inside ``host``'s network namespace meanwhile: sockets (and netlink
    contexts) opened here belong to it, and keep working from anywhere afterwards."""
    from pyroute2.netns import popns, pushns

    pushns(topology.host(host).ns)
    try:
        yield
    finally:
        popns()
