"""Address types shared across the core."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface

IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface

IPV4_GROUP = IPv4Address("224.0.0.18")
IPV6_GROUP = IPv6Address("ff02::12")


def vrrp_group(address: IPAddress) -> IPAddress:
    """The VRRP multicast group of ``address``'s family."""
    return IPV6_GROUP if isinstance(address, IPv6Address) else IPV4_GROUP
