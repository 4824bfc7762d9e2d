"""Reasons and exceptions of the protocol core.

Two kinds of failure are kept apart (h11's lesson): a peer that sends something we must refuse
produces a :class:`RejectReason` value (counted, rate-limit logged, never fatal), while a caller
that misuses the API gets a :class:`ProtocolUsageError` exception (a bug on our side).
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why a received packet was refused. Values are stable: they name metrics and log fields."""

    # IP-level and size checks
    BAD_TTL = "bad_ttl"
    TOO_SHORT = "too_short"
    BAD_VERSION = "bad_version"
    BAD_TYPE = "bad_type"
    BAD_VRID = "bad_vrid"
    VRID_MISMATCH = "vrid_mismatch"
    NO_ADDRESSES = "no_addresses"
    BAD_LENGTH = "bad_length"
    BAD_CHECKSUM = "bad_checksum"
    BAD_INTERVAL = "bad_interval"
    INTERVAL_MISMATCH = "interval_mismatch"
    BAD_AUTH_TYPE = "bad_auth_type"
    FAMILY_MISMATCH = "family_mismatch"
    VERSION_MISMATCH = "version_mismatch"
    # Sender identity
    OWN_PACKET = "own_packet"
    UNKNOWN_PEER = "unknown_peer"
    # Authentication trailer (the order of the pipeline in auth.py)
    AUTH_MISSING = "auth_missing"
    AUTH_MALFORMED = "auth_malformed"
    AUTH_STALE = "auth_stale"
    AUTH_UNKNOWN_KEY = "auth_unknown_key"
    AUTH_BAD_HMAC = "auth_bad_hmac"
    AUTH_REPLAY = "auth_replay"


class CodecError(ValueError):
    """The bytes are not an acceptable VRRP advertisement. The only error decoding raises."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class ProtocolUsageError(Exception):
    """The caller broke the core's contract (a bug in vipguard, not a peer's fault)."""
