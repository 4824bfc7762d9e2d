"""`make soak`: fast adverts while both cores are saturated, vipguard beside keepalived.

For each advert interval (20 ms, then 10 ms) three pairs run at the same time, each in its own
namespaces (lb1 priority 150, lb2 priority 100, one VIP): vipguard with default scheduling,
vipguard with `realtime_priority = 50`, and Debian's keepalived with its defaults. Once they have
settled, CPU hogs (two busy processes per core, normal priority) run for the whole duration.
A false transition is any state change after settling: a backup that stops hearing its master
in time becomes master, and the master then steps down. Prints a table and writes
bench/results/soak.md and soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "netns-tests"))

from agents import Agent, Cluster, web  # noqa: E402
from keepalived import Keepalived, VrrpInstance  # noqa: E402
from netns import Topology  # noqa: E402

RESULTS = HERE / "results"
HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@dataclass
class Outcome:
    implementation: str
    interval_ms: int
    seconds: float
    false_transitions: int
    final_states: str
    cpu_percent: float


class VipguardPair:
    def __init__(self, topology: Topology, interval: str, realtime: int) -> None:
        self.cluster = Cluster(topology, Path(tempfile.mkdtemp(prefix="vgsoak-")))
        settings = {"realtime_priority": realtime} if realtime else {}
        self.lb1: Agent = self.cluster.agent(
            "lb1", [web(150, advert_interval=interval)], **settings
        )
        self.lb2: Agent = self.cluster.agent(
            "lb2", [web(100, advert_interval=interval)], **settings
        )

    def start(self) -> None:
        self.lb1.start().wait_state("master")
        self.lb2.start().wait_state("backup")

    def transitions(self) -> int:
        return sum(a.instance("web")["counters"]["transitions"] for a in (self.lb1, self.lb2))

    def states(self) -> str:
        return f"{self.lb1.state()}/{self.lb2.state()}"

    def pids(self) -> list[int]:
        return [a.status()["pid"] for a in (self.lb1, self.lb2)]


class KeepalivedPair:
    def __init__(self, topology: Topology, interval_s: float) -> None:
        self.lb1 = Keepalived(topology, "lb1", VrrpInstance(priority=150, advert_int=interval_s))
        self.lb2 = Keepalived(topology, "lb2", VrrpInstance(priority=100, advert_int=interval_s))

    def start(self) -> None:
        self.lb1.start().wait_state("master", timeout=10)
        self.lb2.start().wait_state("backup", timeout=10)

    def transitions(self) -> int:
        return len(self.lb1.states()) + len(self.lb2.states())

    def states(self) -> str:
        return f"{self.lb1.state()}/{self.lb2.state()}"

    def pids(self) -> list[int]:
        return [pid for ka in (self.lb1, self.lb2) for pid in ka.pids().values() if pid]

    def close(self) -> None:
        for ka in (self.lb1, self.lb2):
            ka.close()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def run_interval(interval_ms: int, seconds: float) -> list[Outcome]:
    topologies = [Topology().build() for _ in range(3)]
    pairs: dict[str, VipguardPair | KeepalivedPair] = {}
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        pairs["vipguard"] = VipguardPair(topologies[0], f"{interval_ms}ms", realtime=0)
        pairs["vipguard realtime"] = VipguardPair(topologies[1], f"{interval_ms}ms", realtime=50)
        pairs["keepalived 2.2.7"] = KeepalivedPair(topologies[2], interval_ms / 1000)
        for pair in pairs.values():
            pair.start()
        time.sleep(1.0)  # settled: counts from here on
        baseline = {name: pair.transitions() for name, pair in pairs.items()}
        cpu = {name: cpu_seconds(pair.pids()) for name, pair in pairs.items()}
        hog = HOG.format(seconds=seconds + 5)
        hogs = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(2 * os.cpu_count())]
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        return [
            Outcome(
                name,
                interval_ms,
                round(elapsed, 1),
                pair.transitions() - baseline[name],
                pair.states(),
                round(100 * (cpu_seconds(pair.pids()) - cpu[name]) / elapsed, 1),
            )
            for name, pair in pairs.items()
        ]
    finally:
        for process in hogs:
            process.kill()
            process.wait(5)
        for pair in pairs.values():
            if isinstance(pair, KeepalivedPair):
                pair.close()
        for topology in topologies:
            topology.teardown()


def table(outcomes: list[Outcome], load: str) -> str:
    lines = [
        f"Soak under load ({load}), {time.strftime('%Y-%m-%d')}, {platform.node()},"
        f" {os.cpu_count()} cores, Linux {platform.release()}",
        "",
        "| implementation | advert interval | seconds | false transitions | final states"
        " | agent CPU (both nodes) |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.implementation} | {o.interval_ms} ms | {o.seconds} |"
            f" {o.false_transitions} | {o.final_states} | {o.cpu_percent} % |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="per advert interval")
    parser.add_argument("--intervals", default="20,10", help="advert intervals in ms")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("make soak builds network namespaces: run it as root")
        return 1
    seconds = min(max(args.seconds, 5.0), 1800.0)
    outcomes = []
    for interval in (int(x) for x in args.intervals.split(",")):
        print(f"soaking at {interval} ms for {seconds:.0f} s ...", flush=True)
        outcomes += run_interval(interval, seconds)
    load = f"{2 * os.cpu_count()} busy processes on {os.cpu_count()} cores"
    text = table(outcomes, load)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.md").write_text(text)
    (RESULTS / "soak.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
