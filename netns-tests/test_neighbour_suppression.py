"""The neighbour-suppression adapter (vipguard/io/nftables.py) on the real kernel: under the
shipped unit's restrictions, and across a crash of the agent.

The unit runs the agent as an unprivileged user with only CAP_NET_ADMIN and CAP_NET_RAW,
``RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET``,
``MemoryDenyWriteExecute=yes`` and ``SystemCallFilter=@system-service`` minus
``@privileged @mount @swap @reboot @debug @obsolete @cpu-emulation``. Without systemd as PID 1
the test applies the capabilities with setpriv and records every system call, socket
family and memory protection under strace, then checks them against what the unit allows (the
groups expanded by ``systemd-analyze syscall-filter``, so the list is the installed systemd's).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from agents import Cluster, web
from netns import Topology

from vipguard.io.nftables import TABLE

pytestmark = pytest.mark.netns_timeout(60)
UNIT = Path(__file__).resolve().parent.parent / "systemd" / "vipguard.service"
CAPS = "-all,+net_admin,+net_raw"
# The unit's capability settings and SecureBits=noroot-locked. The user stays root: this
# machine's Python lives under /root (mode 0700), which no other user may even stat; without
# CAP_DAC_OVERRIDE and the rest, root here is only the owner of its own files.
SANDBOX = [
    *("setpriv", "--no-new-privs", "--securebits=+noroot,+noroot_locked"),
    *(f"--inh-caps={CAPS}", f"--ambient-caps={CAPS}", f"--bounding-set={CAPS}"),
]
SYSCALL = re.compile(r"^\d+\s+([a-z0-9_]+)\(")
SOCKET_FAMILY = re.compile(r"\bsocket\((AF_[A-Z0-9]+)")
WRITE_AND_EXEC = re.compile(r"\b(mmap|mprotect|pkey_mprotect)\(.*PROT_WRITE\|PROT_EXEC")
SCRIPT = """
import sys
from ipaddress import ip_address
from vipguard.io.nftables import NeighbourSuppression, Nftables
suppression = NeighbourSuppression(Nftables())
suppression.reset()
if sys.argv[1] == "crash":  # silence both, answer again for one, and leave without cleaning up
    for vip in ("192.0.2.100", "2001:db8::100"):
        suppression.silence(ip_address(vip))
    suppression.restore(ip_address("192.0.2.100"))
else:
    suppression.close()
print("done")
"""


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"`{tool}` is missing: apt-get install -y {package}"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def unit_setting(key: str) -> list[str]:
    """Every value of ``key=`` in the shipped unit, split on spaces."""
    return [word for line in unit_lines(key) for word in line.split()]


def unit_lines(key: str) -> list[str]:
    prefix = f"{key}="
    return [
        line[len(prefix) :] for line in UNIT.read_text().splitlines() if line.startswith(prefix)
    ]


@cache
def expand(group: str) -> frozenset[str]:
    """The system calls of a systemd syscall group (nested groups included), or the one named."""
    if not group.startswith("@"):
        return frozenset({group})
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", group], capture_output=True, text=True, check=True
    ).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            names |= expand(item)
    return frozenset(names)


def allowed_syscalls() -> frozenset[str]:
    """What the unit's SystemCallFilter= lines let through: the union of the allow lines, less
    every group of a deny line (``~@a @b``: the ~ applies to the whole line)."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for line in unit_lines("SystemCallFilter"):
        target = denied if line.startswith("~") else allowed
        for word in line.removeprefix("~").split():
            target |= expand(word)
    return frozenset(allowed - denied)


def sandboxed(topology: Topology, host: str, mode: str, trace: Path) -> str:
    argv = [*SANDBOX, "strace", "-f", "-qq", "-o", str(trace), sys.executable, "-c", SCRIPT, mode]
    done = topology.ns_exec(host, argv, check=False, timeout=60, env={**os.environ})
    assert done.returncode == 0 and "done" in done.stdout, done.stderr[-3000:]
    return trace.read_text()


def set_elements(topology: Topology, host: str, family: str) -> list[object]:
    out = topology.ns_exec(host, ["nft", "-j", "list", "set", family, TABLE, "vips"]).stdout
    sets = [item["set"] for item in json.loads(out)["nftables"] if "set" in item]
    return list(sets[0].get("elem", []))


def tables(topology: Topology, host: str) -> list[str]:
    out = topology.ns_exec(host, ["nft", "-j", "list", "tables"]).stdout
    return [
        f"{item['table']['family']} {item['table']['name']}"
        for item in json.loads(out)["nftables"]
        if "table" in item
    ]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory for the traces (writable without CAP_DAC_OVERRIDE)."""
    path = Path(tempfile.mkdtemp(prefix="vgs-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_suppression_works_within_the_units_sandbox_and_a_restart_clears_a_crashs_leftovers(
    topology: Topology, shared_dir: Path
) -> None:
    need("strace", "strace")
    need("systemd-analyze", "systemd")
    need("setpriv", "util-linux")
    tmp_path = shared_dir
    traces = sandboxed(topology, "lb1", "crash", tmp_path / "crash.trace")
    assert set_elements(topology, "lb1", "arp") == []  # answered again for the IPv4 VIP
    assert set_elements(topology, "lb1", "ip6") == ["0x20010db8000000000000000000000100"]
    traces += sandboxed(topology, "lb1", "restart", tmp_path / "restart.trace")
    assert f"arp {TABLE}" not in tables(topology, "lb1")  # reset, then closed: nothing left
    assert f"ip6 {TABLE}" not in tables(topology, "lb1")

    used = {m[1] for line in traces.splitlines() if (m := SYSCALL.match(line))}
    assert "sendmsg" in used or "sendto" in used  # the trace did see the netlink traffic
    assert used - allowed_syscalls() == set(), "system calls the unit's SystemCallFilter refuses"
    families = set(SOCKET_FAMILY.findall(traces))
    assert "AF_NETLINK" in families
    assert families <= set(unit_setting("RestrictAddressFamilies")), families
    assert not WRITE_AND_EXEC.findall(traces), "MemoryDenyWriteExecute would refuse these"


def test_the_agent_clears_a_crashed_predecessors_tables_at_start_and_its_own_at_stop(
    cluster: Cluster, topology: Topology
) -> None:
    stale = (
        f"table arp {TABLE} {{\n set vips {{ type ipv4_addr; elements = {{ 192.0.2.100 }}; }}\n}}\n"
    )
    topology.nft("lb1", stale)
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master", timeout=3)
    assert set_elements(topology, "lb1", "arp") == []  # no VIP silenced for ever
    assert "neighbour_suppression" not in lb1.log()
    assert lb1.stop() == 0
    assert f"arp {TABLE}" not in tables(topology, "lb1")
    assert f"ip6 {TABLE}" not in tables(topology, "lb1")


def test_a_firewall_reload_that_flushed_everything_is_repaired_by_the_next_change(
    topology: Topology,
) -> None:
    """`systemctl reload nftables` runs `flush ruleset`: our tables go too. The next change puts
    them back with what is silenced then, instead of failing on a table that is gone."""
    script = """
from ipaddress import ip_address
import subprocess
from vipguard.io.nftables import NeighbourSuppression, Nftables
suppression = NeighbourSuppression(Nftables())
suppression.reset()
suppression.silence(ip_address("192.0.2.100"))
subprocess.run(["nft", "flush", "ruleset"], check=True)
suppression.silence(ip_address("192.0.2.101"))
suppression.restore(ip_address("192.0.2.101"))
print("done")
"""
    done = topology.ns_exec("lb1", [sys.executable, "-c", script], check=False)
    assert done.returncode == 0 and "done" in done.stdout, done.stderr[-3000:]
    assert set_elements(topology, "lb1", "arp") == ["192.0.2.100"]
    assert f"ip6 {TABLE}" in tables(topology, "lb1")
