"""`make bench-idle`: the idle cost of vipguard against keepalived, in network namespaces.

For each advert interval (1 s and 100 ms by default) and each implementation, a pair of the same
kind (master on lb1, priority 150; backup on lb2, priority 100; VRRPv3/IPv4, VRID 51, no probes,
nothing else on the wire) settles, then both nodes are sampled over ``--seconds`` of idling:

* CPU: the scheduler's ``se.sum_exec_runtime`` of every thread of every process of the node
  (``/proc/<pid>/task/<tid>/sched``, ns resolution), as % of one core;
* wake-ups: voluntary context switches of every thread (``/proc/<pid>/task/<tid>/status``): how
  often the node went to sleep and was woken up again. Unlike CPU time this hardly depends on
  what else runs on the machine, so it compares runs on a busy machine honestly;
* memory: VmRSS and Pss summed over the node's processes.

``failover.py`` (``make bench``) runs the same measurement inside its run; this script runs only
it, in about a minute per interval with ``--seconds 20``. Writes ``idle.{md,json}`` to ``--out``.

    python bench/idle.py [--seconds 30] [--intervals 1s,100ms] [--impls vipguard,keepalived]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "netns-tests"))

from agents import Cluster
from keepalived import find_binary
from netns import Topology
from nodes import KeepalivedNode, Node, VipguardNode, memory_kib, release_vip, runtime_ms

ROOT = Path(__file__).resolve().parent.parent
INTERVALS_MS = (1000, 100)
IMPLS = ("vipguard", "keepalived")
ROLES = ("master", "backup")
MASTER, BACKUP = "lb1", "lb2"
MASTER_PRIORITY, BACKUP_PRIORITY = 150, 100
SECONDS = 30.0
QUICK_SECONDS = 10.0  # make bench BENCH_ARGS=--quick
FILES = ("idle.md", "idle.json")
QUIET_SECONDS = 6.0
"""Between the last status request of the start-up and the sample: each request leaves a timeout
of the control server (5 s) pending in the agent's loop, which is not what an idle agent holds."""


@dataclass
class IdleCost:
    impl: str
    interval_ms: int
    role: str
    pids: list[int]
    seconds: float
    cpu_percent: float
    """Scheduler runtime of every thread, % of one core."""
    wakeups_per_s: float
    """Voluntary context switches of every thread, per second."""
    rss_kib: int
    pss_kib: int

    @property
    def cpu_us_per_interval(self) -> float:
        """CPU time per advert interval (one advert sent by the master, heard by the backup)."""
        return self.cpu_percent / 100 * self.interval_ms * 1000


def voluntary_switches(pids: Iterable[int]) -> int:
    """Voluntary context switches of every thread of ``pids`` (each sleep that ended)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                text = (task / "status").read_text()
            except OSError:  # a thread that ended meanwhile
                continue
            for line in text.splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def sample(nodes: Mapping[str, Node], interval_ms: int, seconds: float) -> list[IdleCost]:
    """CPU, wake-ups and memory of each of ``nodes`` (by role) over ``seconds`` of idling, after
    QUIET_SECONDS without a request; then each must still be in its role."""
    time.sleep(QUIET_SECONDS)
    pids = {role: node.processes() for role, node in nodes.items()}
    before = {role: (runtime_ms(p), voluntary_switches(p)) for role, p in pids.items()}
    start = time.monotonic()
    time.sleep(seconds)
    after = {role: (runtime_ms(p), voluntary_switches(p)) for role, p in pids.items()}
    elapsed = time.monotonic() - start
    costs = []
    for role, node in nodes.items():
        if node.processes() != pids[role] or node.state() != role:
            raise RuntimeError(f"{node}: not the same {role} all along the measurement")
        ms_before, ms_after = before[role][0], after[role][0]
        if ms_before is None or ms_after is None:
            raise RuntimeError("this kernel has no se.sum_exec_runtime in /proc/<pid>/task/*/sched")
        rss, pss = memory_kib(pids[role])
        costs.append(
            IdleCost(
                impl=node.kind,
                interval_ms=interval_ms,
                role=role,
                pids=pids[role],
                seconds=round(elapsed, 2),
                cpu_percent=round((ms_after - ms_before) / 1000 / elapsed * 100, 4),
                wakeups_per_s=round((after[role][1] - before[role][1]) / elapsed, 2),
                rss_kib=rss,
                pss_kib=pss,
            )
        )
    return costs


def describe(cost: IdleCost) -> str:
    """One line for the console."""
    return (
        f"{cost.impl:10} {cost.interval_ms:5} ms {cost.role:6}: CPU {cost.cpu_percent:.3f}% "
        f"of a core ({cost.cpu_us_per_interval:.0f} µs per advert interval), "
        f"{cost.wakeups_per_s:.1f} wake-ups/s, RSS {cost.rss_kib / 1024:.1f} MiB, "
        f"PSS {cost.pss_kib / 1024:.1f} MiB"
    )


# --------------------------------------------------------------------------- the table


def _find(costs: list[dict[str, Any]], impl: str, interval_ms: int, role: str) -> dict[str, Any]:
    return next(
        (c for c in costs if (c["impl"], c["interval_ms"], c["role"]) == (impl, interval_ms, role)),
        {},
    )


def _ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or not theirs:
        return "–"
    return f"{ours / theirs:.1f}×"


def _cell(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def table(costs: list[dict[str, Any]]) -> str:
    """Markdown: vipguard beside keepalived, per interval and role, with the ratios."""
    if not costs:
        return "(idle cost not measured in this run)"
    lines = [
        "| adverts | role | CPU % vipguard | CPU % keepalived | ratio "
        "| wake-ups/s vipguard | wake-ups/s keepalived | ratio "
        "| RSS MiB vipguard | RSS MiB keepalived | PSS MiB vipguard | PSS MiB keepalived |",
        "|" + "---|" * 12,
    ]
    intervals = sorted({c["interval_ms"] for c in costs}, reverse=True)
    for interval_ms in intervals:
        for role in ROLES:
            vg, ka = (_find(costs, impl, interval_ms, role) for impl in IMPLS)
            if not vg and not ka:
                continue
            label = f"{interval_ms // 1000} s" if interval_ms % 1000 == 0 else f"{interval_ms} ms"
            lines.append(
                f"| {label} | {role} "
                f"| {_cell(vg.get('cpu_percent'), '.3f')} | {_cell(ka.get('cpu_percent'), '.3f')} "
                f"| {_ratio(vg.get('cpu_percent'), ka.get('cpu_percent'))} "
                f"| {_cell(vg.get('wakeups_per_s'), '.1f')} "
                f"| {_cell(ka.get('wakeups_per_s'), '.1f')} "
                f"| {_ratio(vg.get('wakeups_per_s'), ka.get('wakeups_per_s'))} "
                f"| {_mib(vg.get('rss_kib'))} | {_mib(ka.get('rss_kib'))} "
                f"| {_mib(vg.get('pss_kib'))} | {_mib(ka.get('pss_kib'))} |"
            )
    return "\n".join(lines)


def _mib(kib: int | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f}"


METHOD = (
    "Each pair idles with nothing else on its wire (no probes). CPU: the scheduler's "
    "`se.sum_exec_runtime` of every thread of every process of the node, as % of one core; "
    "wake-ups: voluntary context switches of every thread per second (each time the node slept "
    "and was woken: hardly affected by other load on the machine, unlike CPU time); RSS and PSS "
    "summed over the node's processes (keepalived: parent + VRRP child, whose shared pages RSS "
    "counts twice). Ratio: vipguard / keepalived."
)


def markdown(run: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            "# Idle cost: vipguard vs keepalived",
            "",
            f"- Date: {run['started']}; {run['seconds']:.0f} s per sample",
            f"- Load average (1/5/15 min) at start: {run['loadavg_start']}; "
            f"at end: {run.get('loadavg_end', '?')}",
            f"- vipguard {run.get('vipguard', '?')}; {run.get('keepalived', '?')}",
            "",
            METHOD,
            "",
            table(run["costs"]),
            "",
            "Reproduce: `make bench-idle` (or `make bench`, which measures it too).",
            "",
        ]
    )


# --------------------------------------------------------------------------- the run


def node(
    topology: Topology, cluster: Cluster, impl: str, *, host: str, priority: int, interval_ms: int
) -> Node:
    if impl == "vipguard":
        return VipguardNode(topology, cluster, host, priority, interval_ms)
    binary = find_binary()
    if not binary:
        raise RuntimeError("keepalived is not installed: apt-get install -y keepalived")
    return KeepalivedNode(topology, host, priority, interval_ms, binary)


def measure_pair(
    topology: Topology, cluster: Cluster, impl: str, interval_ms: int, seconds: float
) -> list[IdleCost]:
    """Start a settled pair of ``impl``, sample it, stop it (by PID)."""
    master = node(
        topology, cluster, impl, host=MASTER, priority=MASTER_PRIORITY, interval_ms=interval_ms
    )
    backup = node(
        topology, cluster, impl, host=BACKUP, priority=BACKUP_PRIORITY, interval_ms=interval_ms
    )
    try:
        master.start()
        master.wait_state("master", timeout=4 * interval_ms / 1000 + 3.0)
        backup.start()
        backup.wait_state("backup", timeout=3.0)
        time.sleep(3 * interval_ms / 1000)  # the first adverts heard
        states = (master.state(), backup.state())
        if states != ("master", "backup"):
            raise RuntimeError(f"{impl} pair not settled: states {states}")
        return sample({"master": master, "backup": backup}, interval_ms, seconds)
    finally:
        for n in (backup, master):
            n.close()
        for host in (MASTER, BACKUP):
            release_vip(topology, host)


def parse_interval(text: str) -> int:
    text = text.strip()
    if text.endswith("ms"):
        return int(text[:-2])
    if text.endswith("s"):
        return int(float(text[:-1]) * 1000)
    return int(text)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=SECONDS, help="per sample (30)")
    parser.add_argument("--intervals", default="1s,100ms", help="advert intervals (1s,100ms)")
    parser.add_argument("--impls", default=",".join(IMPLS), help="vipguard,keepalived")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.intervals_ms = [parse_interval(v) for v in args.intervals.split(",")]
    args.impl_list = [i.strip() for i in args.impls.split(",")]
    unknown = set(args.impl_list) - set(IMPLS)
    if unknown:
        parser.error(f"unknown implementation(s) {sorted(unknown)}; choose from {IMPLS}")
    args.seconds = max(1.0, min(args.seconds, 600.0))
    return args


def _output(argv: list[str]) -> str:
    """The first line a version command prints, or what kept it from running."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError as error:
        return f"unknown ({error.strerror})"
    return ((done.stdout + done.stderr).strip().splitlines() or ["unknown"])[0]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if os.geteuid() != 0:
        print("bench/idle.py builds network namespaces: run it as root (make bench-idle)")
        return 2
    run: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "seconds": args.seconds,
        "loadavg_start": loadavg(),
        "vipguard": _output(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        "keepalived": _output([find_binary() or "keepalived", "--version"]),
        "costs": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="vgi-"))
    topology = Topology(workdir=workdir)
    print(f"topology {topology.tag}, work files in {workdir}", flush=True)
    try:
        topology.build()
        cluster = Cluster(topology, workdir)
        for interval_ms in args.intervals_ms:
            for impl in args.impl_list:
                for cost in measure_pair(topology, cluster, impl, interval_ms, args.seconds):
                    run["costs"].append(asdict(cost))
                    print(f"  {describe(cost)}", flush=True)
    finally:
        for problem in topology.teardown():
            print(f"teardown problem: {problem}")
        shutil.rmtree(workdir, ignore_errors=True)
    run["loadavg_end"] = loadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "idle.json").write_text(json.dumps(run, indent=1) + "\n")
    (args.out / "idle.md").write_text(markdown(run))
    print("\n" + table(run["costs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
