"""The nftables data plane of backend pools: one table of vipguard's, a fixed-slot map per pool.

Each pool's VIP and port jump to the pool's chain, whose one rule DNATs through a map of
``slots`` entries (slot → backend address and port), picked by ``numgen inc`` (round-robin,
weighted by how many slots a backend holds) or by a hash of the client's address (source-hash).
Each pool has two such maps: an update fills the one not in use, then swaps the chain's rule
over to it, so no new connection meets a half-written map (emptying and refilling the map in
use in two transactions fails hundreds of connections a second here), and established
connections keep their conntrack entry. With no backend the chain
is empty and the pool's next rule answers explicitly (a TCP reset, or a silent drop) instead of
letting the packet reach the VIP's own, unrelated, port. With ``full_nat`` the LB also takes the
connections' source (masquerade) for backends that do not route back through it: one fixed rule
on the connection's original destination, so an update between a connection's two NAT hooks
cannot leave it half translated.

:func:`ruleset` builds the table from scratch (deleting what a crashed predecessor left),
:func:`update` one pool's map; :class:`PoolTables` runs them through libnftables in-process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address

from ..proto.addresses import IPAddress
from .nftables import Nftables, delete_tables

TABLE = "vipguard_pools"
FAMILIES = ("ip", "ip6")
SIDES = ("a", "b")  # each pool's two sets of maps: one in use, one filled by the next update
Endpoint = tuple[IPAddress, int]


@dataclass(frozen=True, slots=True)
class PoolPlane:
    """What the data plane needs of one pool."""

    name: str  # letters, digits, "_" and "-": it names the map
    vip: IPAddress
    port: int
    protocol: str = "tcp"  # tcp | udp
    slots: int = 64
    source_hash: bool = False
    full_nat: bool = False
    empty: str = "reject"  # reject | drop

    def __post_init__(self) -> None:
        if self.protocol not in ("tcp", "udp") or self.empty not in ("reject", "drop"):
            raise ValueError(f"pool {self.name!r}: protocol tcp|udp, empty reject|drop")
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"pool name {self.name!r}: letters, digits, '_' and '-' only")

    @property
    def family(self) -> str:
        return "ip6" if isinstance(self.vip, IPv6Address) else "ip"

    @property
    def map(self) -> str:
        return f"pool_{self.name.replace('-', '_')}"

    @property
    def match(self) -> str:
        return f"{self.family} daddr {self.vip} {self.protocol} dport {self.port}"


def ruleset(pools: Sequence[PoolPlane]) -> str:
    """The whole table for ``pools`` (each map empty), replacing any earlier one."""
    lines = [delete()]
    for family in FAMILIES:
        own = [pool for pool in pools if pool.family == family]
        if own:
            lines.append(_table(family, own))
    return "\n".join(lines) + "\n"


def _table(family: str, pools: Sequence[PoolPlane]) -> str:
    body: list[str] = []
    for pool in pools:
        for side in SIDES:
            body.append(
                f"  map {pool.map}_{side} {{ typeof {_picker(pool)} : {_endpoint_type(pool)}; }}"
            )
        body.append(f"  chain {pool.map} {{ }}")  # the DNAT rule of the side in use, if any
    body += [
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        *(_entry_rules(pool) for pool in pools),
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        *(_masquerade(pool) for pool in pools if pool.full_nat),
        "  }",
    ]
    return "\n".join([f"table {family} {TABLE} {{", *body, "}"])


def _masquerade(pool: PoolPlane) -> str:
    """The LB's own address as the source of what the pool DNATed, whichever backend it went to
    and whatever update came between the two hooks (a fixed rule: nothing to swap)."""
    return (
        f"    meta l4proto {pool.protocol} ct status dnat ct original {pool.family} daddr"
        f' {pool.vip} ct original proto-dst {pool.port} masquerade comment "pool {pool.name}"'
    )


def _endpoint_type(pool: PoolPlane) -> str:
    return f"{pool.family} daddr . {pool.protocol} dport"


def _picker(pool: PoolPlane) -> str:
    if pool.source_hash:
        return f"jhash {pool.family} saddr mod {pool.slots}"
    return f"numgen inc mod {pool.slots}"


def _entry_rules(pool: PoolPlane) -> str:
    """The pool's VIP and port go to its chain; what comes back (no DNAT: no backend) is
    answered as the pool says."""
    answer = "drop"
    if pool.empty == "reject":  # a client told at once: a TCP reset, or ICMP unreachable
        answer = "reject with tcp reset" if pool.protocol == "tcp" else "reject"
    return "\n".join(
        [
            f'    {pool.match} jump {pool.map} comment "pool {pool.name}"',
            f'    {pool.match} counter {answer} comment "pool {pool.name}: no backend"',
        ]
    )


def update(pool: PoolPlane, slots: Sequence[Endpoint], side: str) -> tuple[str, str]:
    """Two transactions that point ``pool``'s slots at ``slots`` (one endpoint per slot, as
    rules.backends.slot_table lays them out; empty: no backend): the first fills the map of
    ``side``, the one not in use (nothing looks it up), the second swaps the pool's rule over
    to it, so the rule only ever points at elements committed before it."""
    if slots and len(slots) != pool.slots:
        raise ValueError(f"pool {pool.name!r} has {pool.slots} slots, not {len(slots)}")
    if side not in SIDES:
        raise ValueError(f"side {side!r}: one of {SIDES}")
    where, name = f"{pool.family} {TABLE}", f"{pool.map}_{side}"
    fill = [f"flush map {where} {name}"]
    swap = [f"flush chain {where} {pool.map}"]
    if slots:
        elements = ", ".join(f"{n} : {_endpoint(e)}" for n, e in enumerate(slots))
        fill.append(f"add element {where} {name} {{ {elements} }}")
        swap.append(
            f"add rule {where} {pool.map} meta l4proto {pool.protocol}"  # nft wants it for ports
            f" dnat {pool.family} to {_picker(pool)} map @{name}"
        )
    return "\n".join(fill) + "\n", "\n".join(swap) + "\n"


def _endpoint(endpoint: Endpoint) -> str:
    address, port = endpoint
    return f"{address} . {port}"


def delete() -> str:
    """Delete the table (both families), whether it exists or not."""
    return delete_tables(TABLE, FAMILIES)


class PoolTables:
    """The table on this host, through one libnftables context (commands run off the loop)."""

    def __init__(self, nft: Nftables, pools: Sequence[PoolPlane]) -> None:
        self._nft = nft
        self.pools = {pool.name: pool for pool in pools}
        self._in_use = dict.fromkeys(self.pools, SIDES[1])  # the first update fills "a"
        nft.run(ruleset(pools))

    def point(self, name: str, slots: Sequence[Endpoint]) -> None:
        side = SIDES[0] if self._in_use[name] == SIDES[1] else SIDES[1]
        fill, swap = update(self.pools[name], slots, side)
        self._nft.run(fill)  # nothing uses that side yet
        self._nft.run(swap)
        self._in_use[name] = side

    def close(self) -> None:
        """Remove the table: no pool is served by this host once vipguard stops."""
        self._nft.run(delete())
