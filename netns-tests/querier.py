"""A multicast querier and router advertiser for the virtual-MAC tests (scapy, layer 2).

Run inside a namespace: ``python querier.py IFNAME --interval S --seconds S``. Every interval it
sends what makes every host on the link speak up:

* an IGMPv3 general query (max response 100 ms): each host reports every IPv4 group it joined,
  from the interface that joined it;
* an MLDv2 general query (max response 100 ms, link-local source, hop limit 1, Router Alert, as
  RFC 3810 §6.2 requires or Linux drops it): the same for IPv6 groups;
* a router advertisement with an autonomous prefix (router lifetime 0, so nobody routes through
  us): every interface that accepts RAs builds a SLAAC address from its MAC and joins its
  solicited-node group, which MLD then reports.

It prints ``ready`` once scapy is loaded and, at the end, JSON ``{"rounds": n}``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

PREFIX = "2001:db8:1::"  # a documentation prefix that no host of the topology uses
MAX_RESPONSE_MS = 100
MAX_SECONDS = 120.0


def frames(ifname: str) -> list[Any]:
    from scapy.arch import get_if_addr, get_if_hwaddr
    from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mq
    from scapy.layers.inet import IP, IPOption_Router_Alert
    from scapy.layers.inet6 import (
        ICMPv6MLQuery2,
        ICMPv6ND_RA,
        ICMPv6NDOptPrefixInfo,
        ICMPv6NDOptSrcLLAddr,
        IPv6,
        IPv6ExtHdrHopByHop,
        RouterAlert,
    )
    from scapy.layers.l2 import Ether
    from scapy.utils6 import in6_mactoifaceid

    mac = get_if_hwaddr(ifname)
    link_local = "fe80::" + in6_mactoifaceid(mac).lower()
    igmp = (
        Ether(src=mac, dst="01:00:5e:00:00:01")
        / IP(src=get_if_addr(ifname), dst="224.0.0.1", ttl=1, options=[IPOption_Router_Alert()])
        / IGMPv3(type=0x11, mrcode=MAX_RESPONSE_MS // 100)
        / IGMPv3mq()
    )
    mld = (
        Ether(src=mac, dst="33:33:00:00:00:01")
        / IPv6(src=link_local, dst="ff02::1", hlim=1)
        / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])
        / ICMPv6MLQuery2(mrd=MAX_RESPONSE_MS)
    )
    advert = (
        Ether(src=mac, dst="33:33:00:00:00:01")
        / IPv6(src=link_local, dst="ff02::1", hlim=255)
        / ICMPv6ND_RA(routerlifetime=0)
        / ICMPv6NDOptSrcLLAddr(lladdr=mac)
        / ICMPv6NDOptPrefixInfo(prefix=PREFIX, prefixlen=64, L=1, A=1)
    )
    return [igmp, mld, advert]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ifname")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    from scapy.config import conf

    conf.verb = 0
    packets = frames(args.ifname)
    sock = conf.L2socket(iface=args.ifname)
    print("ready", flush=True)
    seconds = min(args.seconds, MAX_SECONDS)
    rounds = max(1, int(seconds / max(args.interval, 0.01)))
    for index in range(rounds):  # bounded: rounds * interval
        if index:
            time.sleep(args.interval)
        for packet in packets:
            sock.send(packet)
    sock.close()
    print(json.dumps({"rounds": rounds}), flush=True)


if __name__ == "__main__":
    main()
