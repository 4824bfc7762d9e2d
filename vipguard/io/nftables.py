"""nftables, in process through libnftables (the library the ``nft`` command is built on), and
the one thing vipguard asks of it today: keep this host from answering ARP / ND for VIPs it is
handing over.

During a make-before-break handover both routers hold the VIPs for a moment. The kernel answers
ARP for any local address and neighbour solicitations for every configured one, with no switch
per address, so a client resolving a VIP then could cache the old master's MAC and lose its
traffic once the old master releases the VIP. :class:`NeighbourSuppression` keeps two tables of
its own, ``arp vipguard_handover`` and ``ip6 vipguard_handover``, whose output chains drop what
this host would send about a silenced VIP: ARP replies and requests naming it as the sender,
neighbour advertisements for it as the target, and neighbour solicitations from it (each would
teach a client our MAC for it). Packets *to* the VIP are untouched. The tables are created at
start (after deleting any a crashed predecessor left behind), rebuilt on every change and
deleted at stop.

No ``nft`` process, no shell: one netlink transaction per change through ``libnftables.so.1``
(Debian package libnftables1, which nftables depends on), with its error text kept for the log.
It needs CAP_NET_ADMIN and AF_NETLINK, both of which the shipped unit grants.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from ipaddress import IPv6Address

from ..proto.addresses import IPAddress

LIBRARY = "libnftables.so.1"
TABLE = "vipguard_handover"
_DROP = "counter drop"

# nftables 1.0.6 (Debian 12) has no selector for the ND target: it is the 16 bytes after the
# ICMPv6 type, code, checksum and flags (8 bytes), so it is matched raw. The source address of a
# solicitation (offset 8 in the IPv6 header) is matched the same way, so one set serves both.
_RULES: dict[str, tuple[str, tuple[str, ...]]] = {  # family: (set key, output rules)
    "arp": (
        "type ipv4_addr",
        ('arp saddr ip @vips counter drop comment "ARP naming a VIP handed over as its sender"',),
    ),
    "ip6": (
        "typeof @th,64,128",
        (
            'icmpv6 type nd-neighbor-advert @th,64,128 @vips counter drop comment "NA for a VIP"',
            'icmpv6 type nd-neighbor-solicit @nh,64,128 @vips counter drop comment "NS from a VIP"',
        ),
    ),
}


class NftablesError(RuntimeError):
    """libnftables is missing, or refused a command; the message says which and why."""


class Nftables:
    """One libnftables context. Commands are serialised: a context is not safe to share between
    threads, and callers run it off the event loop."""

    def __init__(self, library: str = LIBRARY) -> None:
        try:
            lib = ctypes.CDLL(library)
        except OSError as error:
            raise NftablesError(
                f"cannot load {library} ({error}): install nftables (apt-get install nftables)"
            ) from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        context = lib.nft_ctx_new(0)
        if not context:
            raise NftablesError("libnftables could not create a context (out of memory?)")
        lib.nft_ctx_buffer_output(context)  # keep its output off our stdout
        lib.nft_ctx_buffer_error(context)
        self._lib, self._context = lib, context
        self._lock = threading.Lock()

    def run(self, commands: str) -> None:
        """Run ``commands`` (nft syntax) as one transaction; NftablesError with nft's message."""
        with self._lock:
            if self._context is None:
                raise NftablesError("the nftables context is closed")
            status = self._lib.nft_run_cmd_from_buffer(self._context, commands.encode())
            if status != 0:
                message = self._lib.nft_ctx_get_error_buffer(self._context) or b""
                raise NftablesError(message.decode(errors="replace").strip() or f"status {status}")

    def close(self) -> None:
        with self._lock:
            if self._context is not None:
                self._lib.nft_ctx_free(self._context)
                self._context = None


def _element(address: IPAddress) -> tuple[str, str]:
    """The table family and the set element for ``address``."""
    if isinstance(address, IPv6Address):
        return "ip6", f"0x{int(address):032x}"
    return "arp", str(address)


class NeighbourSuppression:
    """Which VIPs this host currently keeps quiet about (see the module docstring).

    Every change rebuilds both tables from :attr:`silenced` in one transaction, so whatever
    happened to them meanwhile (an operator's ``nft flush ruleset``, a firewall reload) the
    kernel ends up with exactly what is wanted, and a change that failed is made good by the
    next one."""

    def __init__(self, nft: Nftables) -> None:
        self._nft = nft
        self.silenced: frozenset[IPAddress] = frozenset()
        self._lock = threading.Lock()  # one change at a time: each rebuilds from the whole set

    def reset(self) -> None:
        """Delete the tables a crashed predecessor may have left (a VIP silenced for ever would
        never be reachable here again), and create fresh, empty ones."""
        self._apply(lambda silenced: frozenset())

    def silence(self, address: IPAddress) -> None:
        self._apply(lambda silenced: silenced | {address})

    def restore(self, address: IPAddress) -> None:
        self._apply(lambda silenced: silenced - {address})

    def close(self) -> None:
        """Delete the tables (nothing stays silenced after we stop) and free the context."""
        try:
            with self._lock:
                self.silenced = frozenset()
                self._nft.run(_delete_tables())
        finally:
            self._nft.close()

    def _apply(self, change: Callable[[frozenset[IPAddress]], frozenset[IPAddress]]) -> None:
        with self._lock:
            self.silenced = change(self.silenced)  # wanted even if this attempt fails
            self._nft.run(_delete_tables() + _tables(self.silenced))


def _tables(silenced: frozenset[IPAddress]) -> str:
    text = ""
    for family, (key, rules) in _RULES.items():
        elements = sorted(element for kind, element in map(_element, silenced) if kind == family)
        listed = f" elements = {{ {', '.join(elements)} }};" if elements else ""
        text += (
            f"table {family} {TABLE} {{\n"
            f"    set vips {{ {key};{listed} }}\n"
            "    chain output {\n"
            "        type filter hook output priority 0; policy accept;\n"
            + "".join(f"        {rule}\n" for rule in rules)
            + "    }\n"
            "}\n"
        )
    return text


def _delete_tables() -> str:
    return delete_tables(TABLE, tuple(_RULES))


def delete_tables(table: str, families: Sequence[str]) -> str:
    """Commands deleting ``table`` in each of ``families``, whether or not it exists (adding it
    first makes the delete succeed either way)."""
    adds = [f"add table {family} {table}" for family in families]
    return "\n".join([*adds, *(f"delete table {family} {table}" for family in families)]) + "\n"
