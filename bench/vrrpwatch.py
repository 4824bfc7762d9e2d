"""Record VRRP adverts seen on an interface (run inside a namespace; standard library only).

``python vrrpwatch.py IFNAME --out FILE [--seconds N]`` joins 224.0.0.18, prints ``ready``, and
records every IPv4 protocol-112 packet: the kernel's receive timestamp (SO_TIMESTAMPNS, ns, wall
clock), the source address, the VRID and the priority; it prints ``advert SOURCE PRIORITY`` for
each. Writes them as JSON to FILE when the time is up or on SIGTERM. The benchmark reads the time
from the master's last advert (or its priority-0 advert) to the backup's first one from it: the
takeover as the protocol times it, without the phase noise of the client's outage (where in the
advert cycle the fault fell).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import struct
import time
from pathlib import Path

GROUP = "224.0.0.18"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
MAX_SECONDS = 120.0


class Stop(Exception):
    """SIGTERM: stop at once and write what was recorded."""


def watch(ifname: str, out: Path, seconds: float) -> None:
    def on_term(_sig: int, _frame: object) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    mreq = struct.pack("4s4si", socket.inet_aton(GROUP), bytes(4), socket.if_nametoindex(ifname))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    print("ready", flush=True)
    adverts: list[list[object]] = []
    deadline = time.monotonic() + seconds
    try:
        for _ in range(int(seconds * 2000) + 10):  # bounded: at most 2000 wake-ups a second
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            if not select.select([s], [], [], timeout)[0]:
                continue
            data, ancdata, _flags, src = s.recvmsg(2048, 64)
            stamp = time.time()
            for level, kind, value in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    stamp = sec + nsec / 1e9
            body = data[(data[0] & 0x0F) * 4 :]
            if len(body) >= 3:
                adverts.append([stamp, src[0], body[1], body[2]])
                print(f"advert {src[0]} {body[2]}", flush=True)  # the harness waits on these
    except Stop:
        pass
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"adverts": adverts}))
    os.replace(tmp, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ifname")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    watch(args.ifname, args.out, min(args.seconds, MAX_SECONDS))


if __name__ == "__main__":
    main()
