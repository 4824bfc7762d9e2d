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
start (after deleting any a crashed predecessor left behind) and deleted at stop.

No ``nft`` process, no shell: one netlink transaction per change through ``libnftables.so.1``
(Debian package libnftables1, which nftables depends on), with its error text kept for the log.
It needs CAP_NET_ADMIN and AF_NETLINK, both of which the shipped unit grants.
"""

from __future__ import annotations

import ctypes
import threading
from ipaddress import IPv6Address

from ..proto.addresses import IPAddress

LIBRARY = "libnftables.so.1"
TABLE = "vipguard_handover"
_DROP = "counter drop"

_ARP_TABLE = f"""table arp {TABLE} {{
    set vips {{ type ipv4_addr; }}
    chain output {{
        type filter hook output priority 0; policy accept;
        arp saddr ip @vips {_DROP} comment "ARP naming a VIP handed over as its sender"
    }}
}}
"""
# nftables 1.0.6 (Debian 12) has no selector for the ND target: it is the 16 bytes after the
# ICMPv6 type, code, checksum and flags (8 bytes), so it is matched raw. The source address of a
# solicitation (offset 8 in the IPv6 header) is matched the same way, so one set serves both.
_IP6_TABLE = f"""table ip6 {TABLE} {{
    set vips {{ typeof @th,64,128; }}
    chain output {{
        type filter hook output priority 0; policy accept;
        icmpv6 type nd-neighbor-advert @th,64,128 @vips {_DROP} comment "NA for a VIP handed over"
        icmpv6 type nd-neighbor-solicit @nh,64,128 @vips {_DROP} comment "NS from a VIP handed over"
    }}
}}
"""


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
    """Which VIPs this host currently keeps quiet about (see the module docstring)."""

    def __init__(self, nft: Nftables) -> None:
        self._nft = nft
        self.silenced: set[IPAddress] = set()

    def reset(self) -> None:
        """Delete the tables a crashed predecessor may have left (a VIP silenced for ever would
        never be reachable here again), and create fresh, empty ones."""
        self._nft.run(_delete_tables() + _ARP_TABLE + _IP6_TABLE)
        self.silenced.clear()

    def silence(self, address: IPAddress) -> None:
        if address not in self.silenced:
            self._nft.run(self._change("add", address))
            self.silenced.add(address)

    def restore(self, address: IPAddress) -> None:
        if address in self.silenced:
            self._nft.run(self._change("delete", address))
            self.silenced.discard(address)

    def close(self) -> None:
        """Delete the tables (nothing stays silenced after we stop) and free the context."""
        try:
            self._nft.run(_delete_tables())
        finally:
            self.silenced.clear()
            self._nft.close()

    @staticmethod
    def _change(verb: str, address: IPAddress) -> str:
        family, element = _element(address)
        return f"{verb} element {family} {TABLE} vips {{ {element} }}\n"


def _delete_tables() -> str:
    # Declaring a table first makes deleting it succeed whether or not it exists.
    return "".join(
        f"table {family} {TABLE} {{}}\ndelete table {family} {TABLE}\n" for family in ("arp", "ip6")
    )
