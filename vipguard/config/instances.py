"""``[[instance]]``: one virtual router per instance and address family, and what instances
must not share (a name, a VRID on an interface per family, a VIP on an interface).

One ``[[instance]]`` may hold IPv4 and IPv6 VIPs; the agent runs one virtual router per address
family (:meth:`InstanceConfig.router_config`), and unicast peers, source and multicast group apply
to their own family only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from ..proto.addresses import IPAddress
from ..proto.auth import AuthConfig
from ..proto.packet import V2_MAX_INTERVAL_S, V3_MAX_INTERVAL_CS
from ..proto.router import RouterConfig
from ..proto.wire import ChecksumPolicy
from .addressing import FAMILY_NAMES, Vip, read_group, read_unicast, read_vips
from .auth import read_auth
from .notify import NotifyConfig, read_notify
from .reader import Context, Table, array_tables, checked_interface, read_name, show, valid
from .sections import Document, Read, Section
from .trackers import TRACKERS, TrackRef, read_track

MAX_PREEMPT_DELAY = Fraction(1000)
MAX_ANNOUNCE_COUNT = 100
MAX_ANNOUNCE_INTERVAL = Fraction(1)
MIN_ANNOUNCE_REFRESH = Fraction(1)


@dataclass(frozen=True, slots=True)
class AnnounceSettings:
    """Gratuitous ARP / unsolicited NA per VIP on becoming master; times in seconds."""

    count: int = 5
    interval: float = 0.02
    refresh: float = 0.0  # 0: no periodic re-announcement while master


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    name: str
    interface: str
    vrid: int
    priority: int
    version: int
    interval_cs: int
    preempt: bool
    preempt_delay: float
    accept: bool
    vips: tuple[Vip, ...]
    unicast_source: IPAddress | None
    unicast_peers: tuple[IPAddress, ...]
    multicast_group: IPAddress | None
    checksum: ChecksumPolicy
    auth: AuthConfig | None
    use_vmac: bool
    announce: AnnounceSettings
    track: tuple[TrackRef, ...] = ()
    notify: NotifyConfig | None = None

    def families(self) -> tuple[int, ...]:
        """4 and/or 6, in that order: one virtual router per family."""
        present = {vip.family for vip in self.vips}
        return tuple(family for family in (4, 6) if family in present)

    def vips_of(self, family: int) -> tuple[Vip, ...]:
        return tuple(vip for vip in self.vips if vip.family == family)

    def peers_of(self, family: int) -> tuple[IPAddress, ...]:
        return tuple(peer for peer in self.unicast_peers if peer.version == family)

    def source_of(self, family: int) -> IPAddress | None:
        """The configured source of ``family``; None: use the interface's primary address."""
        source = self.unicast_source
        return source if source is not None and source.version == family else None

    def group_of(self, family: int) -> IPAddress | None:
        """The multicast group override of ``family``; None: the VRRP default group."""
        group = self.multicast_group
        return group if group is not None and group.version == family else None

    def router_config(self, family: int, source: IPAddress) -> RouterConfig:
        """The protocol core's view of this instance's ``family`` router, sending from
        ``source`` (``source_of(family)`` or the interface's primary address)."""
        return RouterConfig(
            vrid=self.vrid,
            priority=self.priority,
            vips=tuple(vip.interface for vip in self.vips_of(family)),
            source=source,
            version=self.version,
            interval_cs=self.interval_cs,
            preempt=self.preempt,
            preempt_delay=self.preempt_delay,
            accept=self.accept,
            peers=self.peers_of(family),
            group=self.group_of(family),
            checksum=self.checksum,
            auth=self.auth,
        )


def _read(document: Document) -> Read[tuple[InstanceConfig, ...], list[str]]:
    weights = document.read(TRACKERS).facts  # references to trackers are resolved as read
    return Read(*_instances(document.top, weights))


def _instances(
    top: Table, trackers: Mapping[str, int]
) -> tuple[tuple[InstanceConfig, ...] | None, list[str]]:
    """The instances if all are valid, and every instance name that could be read."""
    items = top.data.get("instance")
    if items is None or items == []:
        top.report("instance", "no [[instance]] tables: configure at least one virtual router")
        return None, []
    array = array_tables(top, "instance")
    built: list[InstanceConfig] = []
    identities: list[_Identity] = []
    for index, item in array.tables:
        instance, identity = _instance(top.context, index, item, trackers)
        identities.append(identity)
        if instance is not None:
            built.append(instance)
    _check_across(top.context, identities)
    names = [identity.name for identity in identities if identity.name is not None]
    return array.all_of(built), names


_INSTANCE_KEYS = (
    "name",
    "interface",
    "vrid",
    "priority",
    "version",
    "advert_interval",
    "preempt",
    "preempt_delay",
    "accept",
    "vips",
    "unicast_source",
    "unicast_peers",
    "multicast_group",
    "checksum",
    "use_vmac",
    "announce",
    "auth",
    "track",
    "notify",
)
# keepalived's names, for operators migrating a keepalived.conf.
_INSTANCE_HINTS = {
    "virtual_router_id": "did you mean 'vrid'?",
    "advert_int": "did you mean 'advert_interval'?",
    "virtual_ipaddress": "did you mean 'vips'?",
    "unicast_src_ip": "did you mean 'unicast_source'?",
    "unicast_peer": "did you mean 'unicast_peers'?",
    "nopreempt": "write preempt = false",
    "vip_labels": (
        'give the label with its VIP: vips = [{ address = "192.0.2.100/24", label = "eth0:web" }]'
    ),
    **dict.fromkeys(
        ("track_script", "track_interface", "track_file"),
        "use track = [...] naming [[tracker]] tables",
    ),
    **{
        f"notify_{state}": f"use [instance.notify] {state} = [...]"
        for state in ("master", "backup", "fault")
    },
}


@dataclass(frozen=True, slots=True)
class _Identity:
    """What instances must not share, as far as it could be read."""

    index: int
    name: str | None
    interface: str | None
    vrid: int | None
    vips: tuple[tuple[str, Vip], ...]

    def describe(self) -> str:
        named = f" ({self.name!r})" if self.name else ""
        return f"instance[{self.index}]{named}"


def _instance(
    context: Context, index: int, data: dict[str, object], trackers: Mapping[str, int]
) -> tuple[InstanceConfig | None, _Identity]:
    before = len(context.problems)
    table = Table(context, f"instance[{index}]", data, _INSTANCE_KEYS, _INSTANCE_HINTS)
    name = read_name(table)
    interface = _interface_name(table)
    vrid = table.integer("vrid", 1, 255, "VRID is 1..255", None)
    priority = table.integer("priority", 1, 255, "255 is the address owner", 100)
    version = _version(table)
    interval_cs = _interval_cs(table, version)
    preempt = table.get("preempt", bool, True)
    preempt_delay = table.duration("preempt_delay", Fraction(0), MAX_PREEMPT_DELAY)
    accept = table.get("accept", bool, False)
    use_vmac = table.get("use_vmac", bool, False)
    vips = read_vips(table, interface, version)
    families = {vip.family for _, vip in vips}
    source, peers = read_unicast(table, families)
    group = read_group(table, families, peers)
    checksum = table.choice("checksum", [policy.value for policy in ChecksumPolicy], "auto")
    announce = _announce(table)
    auth = read_auth(table, interval_cs)
    track = read_track(table, trackers)
    notify = read_notify(table)
    identity = _Identity(index, name, interface, vrid, tuple(vips))
    if len(context.problems) > before:
        return None, identity
    instance = InstanceConfig(
        name=valid(name),
        interface=valid(interface),
        vrid=valid(vrid),
        priority=valid(priority),
        version=valid(version),
        interval_cs=valid(interval_cs),
        preempt=valid(preempt),
        preempt_delay=float(valid(preempt_delay)),
        accept=valid(accept),
        vips=tuple(vip for _, vip in vips),
        unicast_source=source,
        unicast_peers=peers,
        multicast_group=group,
        checksum=ChecksumPolicy(valid(checksum)),
        auth=auth,
        use_vmac=valid(use_vmac),
        announce=valid(announce),
        track=track,
        notify=notify,
    )
    return instance, identity


def _interface_name(table: Table) -> str | None:
    return checked_interface(
        table, table.need("interface", str, "the network interface, like 'eth0'")
    )


def _version(table: Table) -> int | None:
    version = table.get("version", int, 3)
    if version is not None and version not in (2, 3):
        table.report("version", f"{version} is not 2 or 3 (VRRPv2 is RFC 3768, VRRPv3 RFC 5798)")
        return None
    return version


def _interval_cs(table: Table, version: int | None) -> int | None:
    """The advert interval in centiseconds, as the protocol core counts it."""
    seconds = table.duration("advert_interval", Fraction(1))
    if seconds is None or version is None:
        return None
    shown = show(table.data.get("advert_interval", "1s"))
    problem = _v2_interval_problem(seconds) if version == 2 else _v3_interval_problem(seconds)
    if problem:
        table.report("advert_interval", f"{shown} {problem}")
        return None
    return int(seconds * 100)


def _v2_interval_problem(seconds: Fraction) -> str | None:
    if seconds.denominator == 1 and 1 <= seconds <= V2_MAX_INTERVAL_S:
        return None
    return (
        "is not a whole number of seconds in 1s..255s "
        "(VRRPv2 carries whole seconds; use version = 3 for shorter intervals)"
    )


def _v3_interval_problem(seconds: Fraction) -> str | None:
    centiseconds = seconds * 100
    if centiseconds.denominator != 1:
        return "is not a multiple of 10ms (VRRPv3 carries centiseconds)"
    if not 1 <= centiseconds <= V3_MAX_INTERVAL_CS:
        return "is outside 10ms..40.95s (VRRPv3 carries 1..4095 centiseconds)"
    return None


def _announce(table: Table) -> AnnounceSettings | None:
    section = table.table("announce", ("count", "interval", "refresh"))
    if section is None:
        return AnnounceSettings() if "announce" not in table.data else None
    count = section.integer("count", 1, MAX_ANNOUNCE_COUNT, "announcements per VIP", 5)
    interval = section.duration("interval", Fraction(1, 50), MAX_ANNOUNCE_INTERVAL)
    refresh = section.duration("refresh", Fraction(0))
    if refresh is not None and 0 < refresh < MIN_ANNOUNCE_REFRESH:
        shown = show(section.data["refresh"])
        section.report("refresh", f"{shown} is too often; write 0 (off) or at least '1s'")
        refresh = None
    if count is None or interval is None or refresh is None:
        return None
    return AnnounceSettings(count, float(interval), float(refresh))


def _check_across(context: Context, identities: list[_Identity]) -> None:
    names: dict[str, _Identity] = {}
    routers: dict[tuple[str, int, int], _Identity] = {}
    vips: dict[tuple[str, IPAddress], _Identity] = {}
    for identity in identities:
        path = f"instance[{identity.index}]"
        if identity.name is not None:
            if identity.name in names:
                other = names[identity.name].describe()
                context.report(f"{path}.name", f"{identity.name!r} is already used by {other}")
            names.setdefault(identity.name, identity)
        if identity.interface is not None:
            _check_router(context, identity, identity.interface, routers)
            _check_shared_vips(context, identity, identity.interface, vips)


def _check_router(
    context: Context,
    identity: _Identity,
    interface: str,
    routers: dict[tuple[str, int, int], _Identity],
) -> None:
    if identity.vrid is None:
        return
    for family in sorted({vip.family for _, vip in identity.vips}):
        router = (interface, identity.vrid, family)
        other = routers.setdefault(router, identity)
        if other is not identity:
            context.report(
                f"instance[{identity.index}].vrid",
                f"vrid {identity.vrid} on {interface} ({FAMILY_NAMES[family]}) is "
                f"already used by {other.describe()}; interface, VRID and family make one router",
            )


def _check_shared_vips(
    context: Context,
    identity: _Identity,
    interface: str,
    vips: dict[tuple[str, IPAddress], _Identity],
) -> None:
    for key, vip in identity.vips:
        other = vips.setdefault((interface, vip.address), identity)
        if other is not identity:
            context.report(
                key, f"{vip.address} is already a VIP of {other.describe()} on {interface}"
            )


INSTANCES = Section("instance", _read, attribute="instances")
