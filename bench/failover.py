"""`make bench`: failover outage of vipguard against keepalived, in network namespaces.

One topology (bridge + lb1, lb2, client; documentation addresses only, names with a random tag) for
the whole run. For each advert interval (1 s, 100 ms, 20 ms) and each implementation, a pair of
the same kind runs VRID 51, VRRPv3 over IPv4, VIP 192.0.2.100: the master on lb1 (priority 150),
the backup on lb2 (priority 100); vipguard with ``checksum = "pseudo-header"`` (keepalived 2.2.7's
only VRRPv3/IPv4 checksum), so both pairs put the same packets on the wire. A UDP responder runs on
both load balancers; a client probes the VIP at 250 Hz. Each repetition waits for 25 answers from
the master, injects the fault, waits for 25 answers from the backup, and records the longest gap
between answered probes (the outage) and the probes lost inside it; then it restores the pair
(the master preempts again) before the next one. Cases (see CASES):

* crash     - the master host dies: its cable is pulled (its bridge port goes down, so nothing more
              from it reaches the wire and it sees carrier loss), then every process of the
              implementation on it gets SIGKILL. Timed from the cable pull. Restored by removing
              the VIP the dead node left, plugging the cable back and restarting the node.
* link-down - the master's eth0 goes administratively down (the node keeps running). Restored by
              setting it up again.
* graceful  - SIGTERM to the master: it advertises priority 0; keepalived removes its VIP at
              once, vipguard keeps it until the backup has taken over (make-before-break).
              Restored by restarting it.

Also the idle cost of master and backup at 1 s and 100 ms adverts (no probes; see idle.py, which
``make bench-idle`` runs alone): CPU (scheduler runtime of every thread, % of one core over 30 s,
10 s with --quick), wake-ups per second and memory (VmRSS and PSS summed over the node's
processes), vipguard beside keepalived with the ratios. Writes bench/results/failover.{md,json,png}
and prints the tables.
A run never fails on noise: the exit status is 1 only when something broke (a repetition without
a failover, a node that would not start, ...), and the errors are listed.

    python bench/failover.py [--reps N] [--quick] [--intervals 100ms,20ms] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "netns-tests"))

import idle
import report
from agents import Cluster
from keepalived import find_binary
from netns import Process, Topology
from nodes import (
    VIP_ADDRESS,
    KeepalivedNode,
    Node,
    VipguardNode,
    release_vip,
    vip_holders,
)
from probe import Prober, ProbeReport

ROOT = Path(__file__).resolve().parent.parent
WATCHER = Path(__file__).resolve().parent / "vrrpwatch.py"
INTERVALS_MS = (1000, 100, 20)
CASES = ("crash", "link-down", "graceful")
IMPLS = ("vipguard", "keepalived")
MASTER, BACKUP = "lb1", "lb2"
MASTER_PRIORITY, BACKUP_PRIORITY = 150, 100
PROBE_RATE = 250.0
ANSWERS = 25  # answers from a host before it counts as serving (100 ms at 250 Hz)
IDLE_INTERVALS_MS = (1000, 100)  # the idle cost is measured at these advert intervals
HARD_LIMIT_S = 75 * 60  # the whole run, whatever happens


def say(text: str = "") -> None:
    print(text, flush=True)


def master_down_ms(interval_ms: float, priority: int = BACKUP_PRIORITY) -> float:
    return 3 * interval_ms + (256 - priority) * interval_ms / 256


@dataclass
class Sample:
    impl: str
    interval_ms: int
    case: str
    rep: int
    gap_ms: float
    """Longest interval between the send times of consecutive answered probes: the outage."""
    lost: int
    """Unanswered probes between the first and the last answered one (the outage's probes)."""
    takeover_ms: float
    """From the fault to the send time of the first probe the backup answered."""
    last_master_ms: float
    """From the send time of the master's last answered probe to the fault (probe phase)."""
    protocol_ms: float | None
    """On the wire (kernel timestamps at the client): from the master's last advert (graceful:
    its priority-0 advert) to the backup's first advert. Master_Down_Interval or Skew_Time plus
    the implementation's own latency, without the phase noise of the outage. None when the
    master's last advert was not the expected kind (priority 0 exactly for graceful)."""
    last_advert_priority: int | None
    load1: float
    """1-minute load average when the repetition ended (other work on the machine shows here)."""
    hosts: list[str]
    master_state_after: str | None
    sent: int


@dataclass
class Run:
    started: str
    seed: int
    """Seeds the random delay (0 to one advert interval) before each fault."""
    reps: int
    intervals_ms: list[int]
    machine: dict[str, str]
    samples: list[Sample] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    """Idle cost per implementation, interval and role (idle.IdleCost as dicts)."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0


class Broken(RuntimeError):
    """Something that is not noise: no failover, a node that will not start, ..."""


# --------------------------------------------------------------------------- the pair


class Pair:
    """A master (lb1) and a backup (lb2) of one implementation at one advert interval."""

    def __init__(self, bench: Bench, impl: str, interval_ms: int) -> None:
        self.bench, self.impl, self.interval_ms = bench, impl, interval_ms
        self.master = bench.node(impl, MASTER, MASTER_PRIORITY, interval_ms)
        self.backup = bench.node(impl, BACKUP, BACKUP_PRIORITY, interval_ms)

    @property
    def topology(self) -> Topology:
        return self.bench.topology

    def start(self) -> None:
        mdi_s = master_down_ms(self.interval_ms, MASTER_PRIORITY) / 1000
        self.master.start()
        self.master.wait_state("master", timeout=mdi_s + 3.0)
        self.backup.start()
        self.backup.wait_state("backup", timeout=3.0)
        self.settle()

    def settle(self) -> None:
        """The master rules alone: backup in backup, VIP on lb1 only, a few adverts later."""
        time.sleep(max(0.3, 2 * self.interval_ms / 1000))
        states = (self.master.state(), self.backup.state())
        holders = vip_holders(self.topology)
        if states != ("master", "backup") or holders != [MASTER]:
            raise Broken(f"{self.impl} pair not settled: states {states}, VIP on {holders}")

    def restart_master(self) -> None:
        self.master.start()
        self.wait_master_back()

    def wait_master_back(self) -> None:
        """After a restore: lb1 preempted, lb2 back to backup."""
        timeout = master_down_ms(self.interval_ms, MASTER_PRIORITY) / 1000 + 3.0
        self.master.wait_state("master", timeout=timeout)
        self.backup.wait_state("backup", timeout=timeout)
        self.settle()

    def stop(self) -> None:
        for node in (self.backup, self.master):
            node.close()
        for host in (MASTER, BACKUP):
            release_vip(self.topology, host)

    def recover(self) -> None:
        """After an error: back to a clean, settled pair (or raise)."""
        self.stop()
        for host in (MASTER, BACKUP):
            self.topology.link_up(host)
            self.topology.link_up(host, carrier=True)
        self.start()

    # --- the cases ------------------------------------------------------------------------

    def inject(self, case: str) -> None:
        if case == "crash":
            self.topology.link_down(MASTER, carrier=True)
            self.master.crash()
        elif case == "link-down":
            self.topology.link_down(MASTER)
        elif case == "graceful":
            self.master.terminate()
        else:
            raise ValueError(case)

    def restore(self, case: str) -> None:
        if case == "crash":
            release_vip(self.topology, MASTER)
            self.topology.link_up(MASTER, carrier=True)
            self.restart_master()
        elif case == "link-down":
            self.topology.link_up(MASTER)
            self.wait_master_back()
        else:  # graceful: measure() saw it exit
            self.restart_master()

    def measure(self, case: str, rep: int) -> Sample:
        budget = 4.0 + 2 * master_down_ms(self.interval_ms) / 1000
        watcher = self.bench.watch_adverts(budget + 8.0)
        try:
            # One advert of the master on record before the fault (it sets the protocol figure).
            watcher[0].wait_for_output(
                f"advert {self.topology.host(MASTER).ipv4} ",
                timeout=2 * self.interval_ms / 1000 + 2,
            )
            result, fault = self._probe(case, rep, budget)
        finally:
            adverts = self.bench.adverts(watcher)
        if case == "graceful":
            status = self.master.wait_stopped()
            if status != 0:
                raise Broken(f"{self.master} exited with {status} on SIGTERM")
        master_state = self.master.state()
        if result.hosts != (MASTER, BACKUP):
            raise Broken(
                f"unexpected answers: {self.impl} {self.interval_ms} ms {case} rep {rep}: "
                f"{result.summary()}"
            )
        sample = self._sample(case, rep, result, fault, master_state)
        self._protocol(sample, adverts)
        return sample

    def _protocol(self, sample: Sample, adverts: list[list[Any]]) -> None:
        """Master's last advert (graceful: priority 0) to the backup's first, on the wire."""
        master_ip, backup_ip = (self.topology.host(h).ipv4 for h in (MASTER, BACKUP))
        first = next((i for i, a in enumerate(adverts) if a[1] == backup_ip), None)
        if first is None:
            return
        last = [a for a in adverts[:first] if a[1] == master_ip]
        if not last:
            return
        sample.last_advert_priority = int(last[-1][3])
        if (sample.case == "graceful") == (sample.last_advert_priority == 0):
            sample.protocol_ms = round((adverts[first][0] - last[-1][0]) * 1000, 3)

    def _probe(self, case: str, rep: int, budget: float) -> tuple[ProbeReport, float]:
        run = self.bench.prober.start(VIP_ADDRESS, rate=PROBE_RATE, seconds=budget + 6.0)
        try:
            run.wait_for(MASTER, answers=ANSWERS, timeout=3.0)
            # A random phase: the fault falls anywhere in the advert cycle, not just after the
            # advert that preemption or the watcher's start lined it up with.
            time.sleep(self.bench.rng.uniform(0, self.interval_ms / 1000))
            fault = time.monotonic()
            self.inject(case)
            try:
                run.wait_for(BACKUP, answers=ANSWERS, timeout=budget)
            except TimeoutError:
                partial = run.stop()
                raise Broken(
                    f"no failover: {self.impl} {self.interval_ms} ms {case} rep {rep}: "
                    f"{partial.summary()}; lb1 {self.master.state()}, lb2 {self.backup.state()}"
                ) from None
            result = run.stop()
        finally:
            if run.process.poll() is None:
                run.process.stop()
        return result, fault

    def _sample(
        self, case: str, rep: int, result: ProbeReport, fault: float, master_state: str | None
    ) -> Sample:
        answered = [p for p in result.probes if p.replied is not None]
        first_backup = next(p for p in answered if p.host == BACKUP)
        last_master = max((p for p in answered if p.host == MASTER), key=lambda p: p.sent)
        return Sample(
            impl=self.impl,
            interval_ms=self.interval_ms,
            case=case,
            rep=rep,
            gap_ms=round(result.gap * 1000, 2),
            lost=result.lost - result.leading_lost - result.trailing_lost,
            takeover_ms=round((first_backup.sent - fault) * 1000, 2),
            last_master_ms=round((fault - last_master.sent) * 1000, 2),
            hosts=list(result.hosts),
            master_state_after=master_state,
            sent=result.sent,
            protocol_ms=None,
            last_advert_priority=None,
            load1=float(idle.loadavg().split()[0]),
        )

    # --- idle cost ------------------------------------------------------------------------

    def idle_cost(self, seconds: float) -> list[idle.IdleCost]:
        """CPU, wake-ups and memory of both nodes over ``seconds`` of idle operation."""
        nodes = {"master": self.master, "backup": self.backup}
        try:
            return idle.sample(nodes, self.interval_ms, seconds)
        except RuntimeError as error:  # its processes changed: not noise
            raise Broken(str(error)) from None


# --------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, topology: Topology, workdir: Path, keepalived: str, run: Run) -> None:
        self.topology, self.workdir, self.keepalived, self.run = topology, workdir, keepalived, run
        self.cluster = Cluster(topology, workdir)
        self.prober = Prober(topology)
        self._watches = 0
        self.rng = random.Random(run.seed)
        self.idle_seconds = idle.SECONDS

    def watch_adverts(self, seconds: float) -> tuple[Process, Path]:
        """Start recording adverts on the client (stopped by PID in :meth:`adverts`)."""
        self._watches += 1
        out = self.workdir / f"adverts-{self._watches:03d}.json"
        argv = [sys.executable, str(WATCHER), "eth0", "--out", str(out), "--seconds", f"{seconds}"]
        process = self.topology.popen("client", argv)
        process.wait_for_output("ready", timeout=5.0)
        return process, out

    def adverts(self, watcher: tuple[Process, Path]) -> list[list[Any]]:
        process, out = watcher
        process.stop()
        if not out.exists():
            raise Broken(f"advert watcher wrote nothing: {process.stderr()[-1000:]}")
        adverts: list[list[Any]] = json.loads(out.read_text())["adverts"]
        return adverts

    def node(self, impl: str, host: str, priority: int, interval_ms: int) -> Node:
        if impl == "vipguard":
            return VipguardNode(self.topology, self.cluster, host, priority, interval_ms)
        return KeepalivedNode(self.topology, host, priority, interval_ms, self.keepalived)

    def error(self, where: dict[str, Any], exc: BaseException, pair: Pair | None) -> None:
        entry = {**where, "error": f"{type(exc).__name__}: {exc}"}
        if pair is not None:
            entry["logs"] = {n.host: n.log()[-1500:] for n in (pair.master, pair.backup) if n.log()}
        if not isinstance(exc, Broken | TimeoutError):
            entry["traceback"] = traceback.format_exc()
        self.run.errors.append(entry)
        say(f"  ERROR {where}: {entry['error']}")

    def block(self, impl: str, interval_ms: int) -> None:
        """Every case and repetition of one implementation at one interval."""
        pair = Pair(self, impl, interval_ms)
        where: dict[str, Any] = {"impl": impl, "interval_ms": interval_ms}
        try:
            pair.start()
            if interval_ms in IDLE_INTERVALS_MS:
                for cost in pair.idle_cost(self.idle_seconds):
                    self.run.resources.append(asdict(cost))
                    say(f"  idle {idle.describe(cost)}")
            for case in CASES:
                for rep in range(1, self.run.reps + 1):
                    self.repetition(pair, case, rep)
        except Exception as exc:
            self.error({**where, "stage": "pair"}, exc, pair)
        finally:
            pair.stop()

    def repetition(self, pair: Pair, case: str, rep: int) -> None:
        where = {"impl": pair.impl, "interval_ms": pair.interval_ms, "case": case, "rep": rep}
        try:
            sample = pair.measure(case, rep)
        except Exception as exc:  # recorded; the pair is rebuilt and the run goes on
            self.error(where, exc, pair)
            pair.recover()
            return
        self.run.samples.append(sample)
        say(
            f"  {pair.impl:10} {pair.interval_ms:5} ms {case:9} #{rep}: "
            f"outage {sample.gap_ms:7.1f} ms, lost {sample.lost:4}, "
            f"takeover {sample.takeover_ms:7.1f} ms, last advert -> backup advert "
            f"{_ms(sample.protocol_ms)} ms, master after: {sample.master_state_after}"
        )
        try:
            pair.restore(case)
        except Exception as exc:
            self.error({**where, "stage": "restore"}, exc, pair)
            pair.recover()


def _ms(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:7.1f}"


def machine_facts(keepalived: str) -> dict[str, str]:
    def out(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        return (done.stdout + done.stderr).strip()

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return {
        "nproc": out(["nproc"]),
        "uname": out(["uname", "-srvmo"]),
        "cpu": cpu,
        "python": platform.python_version(),
        "keepalived": out([keepalived, "--version"]).splitlines()[0],
        "vipguard": out(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        "loadavg_start": idle.loadavg(),
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=None, help="repetitions per case (5)")
    parser.add_argument(
        "--quick", action="store_true", help="2 repetitions, no 1 s intervals: a few minutes"
    )
    parser.add_argument(
        "--intervals", default=None, help="advert intervals, e.g. 100ms,20ms (default: all)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault phases")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 5
    args.reps = max(1, min(args.reps, 50))
    if args.intervals:
        args.intervals_ms = [idle.parse_interval(v) for v in args.intervals.split(",")]
    else:
        args.intervals_ms = [i for i in INTERVALS_MS if not (args.quick and i >= 1000)]
    return args


def execute(args: argparse.Namespace, keepalived: str, run: Run) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="vgb-"))
    topology = Topology(workdir=workdir)
    say(f"topology {topology.tag} (namespaces {topology.tag}-*), work files in {workdir}")
    try:
        topology.build()
        bench = Bench(topology, workdir, keepalived, run)
        if args.quick:
            bench.idle_seconds = idle.QUICK_SECONDS
        bench.prober.serve(MASTER, BACKUP)
        for n, interval_ms in enumerate(args.intervals_ms):
            impls = IMPLS if n % 2 == 0 else IMPLS[::-1]  # alternate who goes first
            for impl in impls:
                say(f"\n== {impl}, adverts every {interval_ms} ms, {args.reps} reps per case")
                bench.block(impl, interval_ms)
    finally:
        problems = topology.teardown()
        shutil.rmtree(workdir, ignore_errors=True)
        for problem in problems:
            run.errors.append({"stage": "teardown", "error": problem})
            say(f"teardown problem: {problem}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if os.geteuid() != 0:
        say("bench/failover.py builds network namespaces: run it as root (make bench)")
        return 2
    keepalived = find_binary()
    if not keepalived:
        say("keepalived is not installed: apt-get install -y keepalived (or make bench)")
        return 2
    run = Run(
        started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(2**32),
        reps=args.reps,
        intervals_ms=list(args.intervals_ms),
        machine=machine_facts(keepalived),
    )
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(HARD_LIMIT_S)
    try:
        execute(args, keepalived, run)
    except Exception as exc:
        run.errors.append({"stage": "run", "error": f"{type(exc).__name__}: {exc}"})
        say(traceback.format_exc())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    run.duration_s = round(time.monotonic() - start, 1)
    run.machine["loadavg_end"] = idle.loadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    table = report.write(run_as_dict(run), args.out, quick=args.quick)
    say("\n" + table)
    say(f"written: {', '.join(str(args.out / f) for f in report.FILES)}")
    if run.errors:
        say(f"\n{len(run.errors)} error(s): see the Errors section of failover.md")
        return 1
    return 0


def _on_alarm(_sig: int, _frame: FrameType | None) -> None:
    raise TimeoutError(f"benchmark exceeded its hard limit of {HARD_LIMIT_S} s")


def run_as_dict(run: Run) -> dict[str, Any]:
    return asdict(run)


if __name__ == "__main__":
    sys.exit(main())
