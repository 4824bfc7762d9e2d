"""The agent's side of neighbour suppression (io/nftables.py): set up once at start, before any
router runs, and torn down at stop; never a reason not to serve the VIPs."""

from __future__ import annotations

import logging

from ..io.nftables import NeighbourSuppression, Nftables, NftablesError
from . import logs

CONSEQUENCE = (
    "handovers go on, but a client that resolves a VIP while both nodes hold it may cache this"
    " node's MAC until the new master announces again"
)


def open_suppression() -> NeighbourSuppression | None:
    """Fresh tables (a crashed predecessor's removed), or None, logged, if nftables is missing
    or refuses us."""
    try:
        nft = Nftables()
    except NftablesError as error:
        _unavailable(str(error))
        return None
    suppression = NeighbourSuppression(nft)
    try:
        suppression.reset()
    except NftablesError as error:
        nft.close()
        _unavailable(f"{error} (the agent needs CAP_NET_ADMIN for nftables)")
        return None
    return suppression


def close_suppression(suppression: NeighbourSuppression | None) -> None:
    if suppression is None:
        return
    try:
        suppression.close()
    except NftablesError as error:
        logs.event(
            "neighbour_suppression_left",
            logging.ERROR,
            error=str(error),
            hint="delete it: nft delete table arp vipguard_handover;"
            " nft delete table ip6 vipguard_handover",
        )


def _unavailable(error: str) -> None:
    logs.event(
        "neighbour_suppression_unavailable", logging.WARNING, error=error, effect=CONSEQUENCE
    )
