"""What the core asks the outside world to do. Effects are frozen values, executed in order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .addresses import IPAddress, IPInterface
from .errors import RejectReason


class State(StrEnum):
    INITIALIZE = "initialize"
    BACKUP = "backup"
    MASTER = "master"
    FAULT = "fault"
    MAINTENANCE = "maintenance"


class Reason(StrEnum):
    """Why a transition happened. Values are stable: they label metrics and events."""

    STARTUP = "startup"
    ADDRESS_OWNER = "address_owner"
    MASTER_DOWN_TIMER_EXPIRED = "master_down_timer_expired"
    PRIORITY_ZERO_RECEIVED = "priority_zero_received"
    PREEMPTED_LOWER_PRIORITY = "preempted_lower_priority"
    HIGHER_PRIORITY_ADVERT = "higher_priority_advert"
    EQUAL_PRIORITY_HIGHER_ADDRESS = "equal_priority_higher_address"
    FAULT = "fault"
    FAULT_CLEARED = "fault_cleared"
    SHUTDOWN = "shutdown"
    MAINTENANCE = "maintenance"
    MAINTENANCE_ENDED = "maintenance_ended"
    SYNC_GROUP = "sync_group"


@dataclass(frozen=True, slots=True)
class Transmit:
    """Send ``payload`` (VRRP message, checksum and trailer included) to ``destination``."""

    destination: IPAddress
    payload: bytes
    priority: int


@dataclass(frozen=True, slots=True)
class BindVips:
    vips: tuple[IPInterface, ...]
    accept: bool


@dataclass(frozen=True, slots=True)
class UnbindVips:
    vips: tuple[IPInterface, ...]


@dataclass(frozen=True, slots=True)
class Announce:
    """Gratuitous ARP / unsolicited NA for the VIPs just bound."""

    vips: tuple[IPInterface, ...]


@dataclass(frozen=True, slots=True)
class StopAnswering:
    """Stop answering ARP requests and neighbour solicitations for the VIPs, and stop naming
    them as the sender of our own, while they stay bound (packets to them are still accepted):
    another router has taken them over, and a client resolving them now must learn its MAC."""

    vips: tuple[IPInterface, ...]


@dataclass(frozen=True, slots=True)
class ResumeAnswering:
    """Answer ARP / ND for the VIPs again (they were released, or are served again)."""

    vips: tuple[IPInterface, ...]


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: State
    new: State
    reason: Reason


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    source: IPAddress


Effect = (
    Transmit
    | BindVips
    | UnbindVips
    | Announce
    | StopAnswering
    | ResumeAnswering
    | StateChanged
    | Rejected
)
