"""An instance's addresses: its VIPs (with labels), its unicast source and peers and its
multicast group, each checked against the families its VIPs have."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface

from ..proto.addresses import IPAddress
from ..proto.packet import MAX_ADDRESSES
from .reader import MAX_INTERFACE_NAME, Context, Table, describe

FAMILY_NAMES = {4: "IPv4", 6: "IPv6"}


@dataclass(frozen=True, slots=True)
class Vip:
    interface: IPv4Interface | IPv6Interface
    label: str | None = None

    @property
    def address(self) -> IPAddress:
        return self.interface.ip

    @property
    def family(self) -> int:
        return self.interface.version


_VIP_EXAMPLE = '"192.0.2.100/24"'


def read_vips(table: Table, interface: str | None, version: int | None) -> list[tuple[str, Vip]]:
    """The VIPs that are valid, each with its key path."""
    items = table.need("vips", list, f"an array of addresses with prefix, like [{_VIP_EXAMPLE}]")
    if items is None:
        return []
    if not items:
        table.report("vips", f"is empty: list at least one VIP, like [{_VIP_EXAMPLE}]")
        return []
    found: list[tuple[str, Vip]] = []
    first: dict[IPAddress, str] = {}
    for index, item in enumerate(items):
        key = f"vips[{index}]"
        vip = _vip(table, key, item, interface, version)
        if vip is not None and vip.address in first:
            table.report(key, f"{vip.address} is listed twice (also {first[vip.address]})")
        elif vip is not None:
            first[vip.address] = key
            found.append((table.key(key), vip))
    _check_vip_count(table, found)
    return found


def _check_vip_count(table: Table, vips: list[tuple[str, Vip]]) -> None:
    for family in (4, 6):
        count = sum(1 for _, vip in vips if vip.family == family)
        if count > MAX_ADDRESSES:
            message = f"has {count} {FAMILY_NAMES[family]} VIPs; an advert carries at most 255"
            table.report("vips", message)


def _vip(
    table: Table, key: str, item: object, interface: str | None, version: int | None
) -> Vip | None:
    if isinstance(item, str):
        return _vip_from(table.context, table.key(key), item, interface, version)
    if not isinstance(item, dict):
        expected = "an address string or a table { address = ..., label = ... }"
        table.report(key, f"expected {expected}, got {describe(item)}")
        return None
    entry = Table(table.context, table.key(key), item, ("address", "label"))
    address = entry.need("address", str, f"an address with prefix, like {_VIP_EXAMPLE}")
    label = entry.optional("label", str)
    if address is None:
        return None
    vip = _vip_from(table.context, entry.key("address"), address, interface, version)
    if vip is None or label is None:
        return vip
    problem = _label_problem(label, vip, interface)
    if problem:
        entry.report("label", problem)
        return None
    return Vip(vip.interface, label)


def _vip_from(
    context: Context, key: str, text: str, interface: str | None, version: int | None
) -> Vip | None:
    try:
        parsed = ipaddress.ip_interface(text)
    except ValueError:
        example = "'192.0.2.100/24' or '2001:db8::100/64'"
        context.report(key, f"{text!r} is not an address with prefix length, like {example}")
        return None
    problem = _unicast_problem(parsed.ip)
    if problem is None and version == 2 and parsed.version == 6:
        problem = "is IPv6, but VRRPv2 carries IPv4 only (use version = 3)"
    if problem:
        context.report(key, f"{parsed.ip} {problem}")
        return None
    warning = _vip_warning(text, parsed)
    if warning:
        context.warn(key, warning)
    return Vip(parsed)


def _vip_warning(text: str, vip: IPv4Interface | IPv6Interface) -> str | None:
    """What is odd about a valid VIP: no prefix written, or its prefix's network, broadcast
    or (IPv6) Subnet-Router anycast address."""
    address, network = vip.ip, vip.network
    if "/" not in text:
        usual = 24 if vip.version == 4 else 64
        return (
            f"{text!r} has no prefix length, so it is bound as {vip}: write '{vip}' if a host"
            f" address is meant, else its subnet's prefix, like '{address}/{usual}'"
        )
    if network.num_addresses <= 2:  # /31, /32, /127, /128: every address is a host's
        return None
    fix = f"pick a host address of {network}, or write the VIP's real prefix"
    if address == network.network_address and vip.version == 6:
        return (
            f"{address} is the Subnet-Router anycast address of {network} (RFC 4291), which"
            f" every router on the link answers; {fix}"
        )
    if address == network.network_address:
        return (
            f"{address} is the network address of {network}, which hosts do not send to as"
            f" one host; {fix}"
        )
    if address == network.broadcast_address and vip.version == 4:
        return (
            f"{address} is the broadcast address of {network}: hosts send to it as a broadcast,"
            f" not to the VIP's owner; {fix}"
        )
    return None


def _label_problem(label: str, vip: Vip, interface: str | None) -> str | None:
    if vip.family == 6:
        return "labels are IPv4-only (Linux has no labels on IPv6 addresses)"
    if len(label) > MAX_INTERFACE_NAME:
        return f"{label!r} is {len(label)} characters; the kernel allows at most 15"
    if interface is not None and not label.startswith(interface):
        return f"{label!r} must start with the interface name {interface!r}, like '{interface}:vip'"
    return None


def _unicast_problem(address: IPAddress) -> str | None:
    for failed, kind in (
        (address.is_multicast, "a multicast"),
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
    ):
        if failed:
            return f"is {kind} address; it must be a unicast address"
    return None


def _multicast_problem(address: IPAddress) -> str | None:
    return None if address.is_multicast else "is not a multicast address"


# --------------------------------------------------------------------------- addressing


def _families_text(families: Iterable[int]) -> str:
    return " and ".join(FAMILY_NAMES[family] for family in sorted(families))


def _parse_address(
    table: Table, key: str, text: str, *, multicast: bool = False
) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        table.report(key, f"{text!r} is not an IP address")
        return None
    problem = _multicast_problem(address) if multicast else _unicast_problem(address)
    if problem:
        table.report(key, f"{address} {problem}")
        return None
    return address


def read_unicast(
    table: Table, families: set[int]
) -> tuple[IPAddress | None, tuple[IPAddress, ...]]:
    text = table.optional("unicast_source", str)
    source = None if text is None else _parse_address(table, "unicast_source", text)
    peers = _peers(table, source)
    if source is not None and families and source.version not in families:
        table.report("unicast_source", _family_mismatch(source, families))
    for key, peer in peers:
        if families and peer.version not in families:
            table.context.report(key, _family_mismatch(peer, families))
    if peers:
        _check_peer_families(table, families, {peer.version for _, peer in peers})
    return source, tuple(peer for _, peer in peers)


def _family_mismatch(address: IPAddress, families: set[int]) -> str:
    return (
        f"{address} is {FAMILY_NAMES[address.version]}, but this instance has only "
        f"{_families_text(families)} VIPs"
    )


def _check_peer_families(table: Table, families: set[int], peer_families: set[int]) -> None:
    for family in sorted(families - peer_families):
        name = FAMILY_NAMES[family]
        table.report(
            "unicast_peers",
            f"has no {name} peer for the {name} VIPs: each family's adverts go only to peers "
            f"of that family; add {name} peers or move these VIPs to an instance of their own",
        )


def _peers(table: Table, source: IPAddress | None) -> list[tuple[str, IPAddress]]:
    items = table.get("unicast_peers", list, [])
    peers: list[tuple[str, IPAddress]] = []
    for index, item in enumerate(items or []):
        key = f"unicast_peers[{index}]"
        if not isinstance(item, str):
            table.report(key, f"expected an address string, got {describe(item)}")
            continue
        peer = _parse_address(table, key, item)
        if peer is None:
            continue
        if peer == source:
            table.report(key, f"{peer} is the unicast_source itself; list only the other hosts")
        elif peer in [known for _, known in peers]:
            table.report(key, f"{peer} is listed twice")
        else:
            peers.append((table.key(key), peer))
    return peers


def read_group(table: Table, families: set[int], peers: tuple[IPAddress, ...]) -> IPAddress | None:
    text = table.optional("multicast_group", str)
    if text is None:
        return None
    group = _parse_address(table, "multicast_group", text, multicast=True)
    if group is None or not families:
        return group
    if group.version not in families:
        table.report("multicast_group", _family_mismatch(group, families))
    elif any(peer.version == group.version for peer in peers):
        name = FAMILY_NAMES[group.version]
        table.report(
            "multicast_group",
            f"is unused: {name} adverts go to unicast_peers; remove one of the two",
        )
    return group
