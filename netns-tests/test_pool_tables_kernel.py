"""The nftables data plane of pools (io/pool_tables.py) on the real kernel, with real traffic.

lb1 holds the VIP 192.0.2.100 and the pool table; three backends listen on lb2 (ports 8081-8083,
each answering its own name); the client opens TCP connections to the VIP. Full NAT, so the
backends answer through lb1. Sockets and the nftables context are opened inside the hosts'
namespaces from this process (pyroute2's pushns/popns), the backends served by threads.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import ip_address

import pytest
from netns import Topology, inside

from vipguard.io.nftables import Nftables
from vipguard.io.pool_tables import TABLE, Endpoint, PoolPlane, PoolTables, update
from vipguard.rules.backends import slot_table

pytestmark = pytest.mark.netns_timeout(60)

VIP = "192.0.2.100"
PORTS = (8081, 8082, 8083)
SLOTS = 8


class Backends:
    """TCP servers on lb2 that answer each connection with their port, then wait for its end."""

    def __init__(self, topology: Topology) -> None:
        self.address = ip_address(topology.host("lb2").ipv4)
        self._stop = threading.Event()
        self._servers: list[socket.socket] = []
        with inside(topology, "lb2"):
            for port in PORTS:
                server = socket.create_server((str(self.address), port), backlog=512)
                server.settimeout(0.2)
                self._servers.append(server)
        self._threads = [threading.Thread(target=self._serve, args=(s,)) for s in self._servers]
        for thread in self._threads:
            thread.start()

    def _serve(self, server: socket.socket) -> None:
        port = server.getsockname()[1]
        while not self._stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2.0)
                connection.sendall(str(port).encode())
                # The client closes first and keeps the TIME_WAIT: its next connections take
                # new ports, never one lb2 still holds in TIME_WAIT under lb1's masquerade.
                with contextlib.suppress(OSError):
                    connection.recv(1)

    def endpoints(self, *ports: int) -> list[Endpoint]:
        return [(self.address, port) for port in ports]

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5.0)
        for server in self._servers:
            server.close()


@dataclass
class Balancer:
    tables: PoolTables
    pool: PoolPlane
    backends: Backends
    nft: Nftables


@pytest.fixture
def lb(topology: Topology) -> Iterator[Balancer]:
    topology.ip("lb1", "addr", "add", f"{VIP}/24", "dev", "eth0")
    topology.sysctl("lb1", "net.ipv4.ip_forward", 1)
    for interface in ("all", "eth0"):  # the same interface in and out: no redirects
        topology.sysctl("lb1", f"net.ipv4.conf.{interface}.send_redirects", 0)
    pool = PoolPlane("web", ip_address(VIP), 80, slots=SLOTS, full_nat=True)
    with inside(topology, "lb1"):
        nft = Nftables()
        tables = PoolTables(nft, [pool])
    backends = Backends(topology)
    try:
        yield Balancer(tables, pool, backends, nft)
    finally:
        backends.close()
        tables.close()
        nft.close()


def weighted(backends: Backends, weights: dict[int, int]) -> list[Endpoint]:
    endpoints = backends.endpoints(*weights)
    return [endpoints[n] for n in slot_table(list(weights.values()), SLOTS)]


def client_socket(topology: Topology) -> socket.socket:
    with inside(topology, "client"):
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def fetch(topology: Topology, timeout: float = 2.0) -> str:
    """Connect to the VIP and read the backend's answer; raises on any failure."""
    with client_socket(topology) as sock:
        sock.settimeout(timeout)
        sock.connect((VIP, 80))
        return sock.recv(16).decode()


def test_new_connections_follow_the_slots_weights(topology: Topology, lb: Balancer) -> None:
    lb.tables.point("web", weighted(lb.backends, {8081: 2, 8082: 1, 8083: 1}))
    answers = Counter(fetch(topology) for _ in range(40))
    assert answers == {"8081": 20, "8082": 10, "8083": 10}


def flipping(
    topology: Topology, flip: Callable[[int], None], seconds: float = 3.0, pause: float = 0.003
) -> tuple[int, int]:
    """(connections made, failed) by a client opening a connection every ``pause`` seconds
    (about 300 a second) while ``flip`` changes the pool 50 times a second."""
    stop = threading.Event()
    made, failed = [0], [0]

    def connect() -> None:
        while not stop.is_set():
            made[0] += 1
            try:
                # Long enough for a SYN resent after a second: a backend thread of this process
                # may be slow to accept, which is not what is measured here.
                fetch(topology, timeout=3.0)
            except OSError:
                failed[0] += 1
            time.sleep(pause)  # the client's pace

    thread = threading.Thread(target=connect)
    thread.start()
    deadline = time.monotonic() + seconds
    try:
        n = 0
        while time.monotonic() < deadline:
            flip(n)
            n += 1
            time.sleep(0.02)  # the updates' pace
    finally:
        stop.set()
        thread.join(10.0)
    return made[0], failed[0]


def test_an_update_is_one_transaction_and_no_connection_fails(
    topology: Topology, lb: Balancer
) -> None:
    sets = [weighted(lb.backends, {8081: 1, 8082: 1}), weighted(lb.backends, {8082: 1, 8083: 1})]
    lb.tables.point("web", sets[1])  # served from the start: the flips are what is measured
    made, failed = flipping(topology, lambda n: lb.tables.point("web", sets[n % 2]))
    assert made > 100 and failed == 0, (made, failed)


def test_refilling_the_map_in_use_in_two_transactions_would_fail_connections(
    topology: Topology, lb: Balancer
) -> None:
    """The check above can fail: emptying and refilling the map the rule uses, in two
    transactions, lets new connections meet the empty map (and the pool's reset) in between."""
    sets = [weighted(lb.backends, {8081: 1, 8082: 1}), weighted(lb.backends, {8082: 1, 8083: 1})]
    lb.tables.point("web", sets[0])  # the rule now uses map a
    where = f"ip {TABLE} pool_web_a"

    def in_place(n: int) -> None:
        fill = update(lb.pool, sets[n % 2], "a")[0].splitlines()[1]  # its "add element" line
        lb.nft.run(f"flush map {where}\n")
        lb.nft.run(fill + "\n")

    made, failed = flipping(topology, in_place)
    assert failed > 0, (made, failed)


def test_an_empty_pool_resets_at_once(topology: Topology, lb: Balancer) -> None:
    lb.tables.point("web", weighted(lb.backends, {8081: 1}))
    assert fetch(topology) == "8081"
    lb.tables.point("web", [])
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        fetch(topology)
    assert time.monotonic() - start < 0.5  # a reset, not a timeout


def test_the_table_is_rebuilt_from_scratch_and_gone_after_close(topology: Topology) -> None:
    topology.ns_exec("lb1", ["nft", f"add table ip {TABLE}; add chain ip {TABLE} stale"])
    pool = PoolPlane("web", ip_address(VIP), 80, slots=SLOTS)
    with inside(topology, "lb1"):
        nft = Nftables()
        tables = PoolTables(nft, [pool])
    listed = topology.ns_exec("lb1", ["nft", "list", "table", "ip", TABLE]).stdout
    assert "stale" not in listed and "pool_web" in listed
    tables.close()
    nft.close()
    assert TABLE not in topology.ns_exec("lb1", ["nft", "list", "tables"]).stdout
