"""`make demo`: a load-balancer pair failing over, in network namespaces on this machine.

Builds a bridge with three hosts (lb1, lb2, client; documentation addresses only), starts a
vipguard agent on each load balancer (HMAC-authenticated VRRPv3 at 100 ms adverts, VIP
192.0.2.100), probes the VIP from the client at 250 Hz, then: shows both agents' status, pulls
lb1's cable and kills its agent (the host "dies"), reports the client's outage against the
protocol's bound, brings lb1 back (it preempts), puts it into maintenance and out again, stops it
gracefully, and tears everything down. Maintenance and the graceful stop hand the VIP over
make-before-break: the client loses no probe.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agents import Agent, Cluster, master_down_ms, web
from netns import Topology
from probe import Prober, ProbeRun

VIP = "192.0.2.100"
KEY = "hex:" + "00112233445566778899aabbccddeeff" * 2
AUTH = {"keys": [{"id": 1, "secret": KEY}], "active_key": 1}


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, 74 - len(text)))


def show_status(agent: Agent) -> None:
    argv = [sys.executable, "-m", "vipguard", "status", "--socket", str(agent.socket)]
    started = time.monotonic()
    output = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
    took_ms = (time.monotonic() - started) * 1000
    say(f"$ vipguard status   # on {agent.host}, answered in {took_ms:.0f} ms")
    for line in output.splitlines():
        say("  " + line)


def run_cli(agent: Agent, *args: str) -> None:
    argv = [sys.executable, "-m", "vipguard", *args, "--socket", str(agent.socket)]
    output = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    say(f"$ vipguard {' '.join(args)}   # on {agent.host}")
    for line in output.splitlines():
        say("  " + line)


def lossless(run: ProbeRun, what: str) -> None:
    """A make-before-break handover: the client must not lose a single probe."""
    report = run.stop()
    lost = report.lost - report.leading_lost - report.trailing_lost
    verdict = "lossless as promised" if lost == 0 else "LOST PROBES"
    say(f"client: {report.summary()}")
    say(f"{what}: {lost} probes lost, longest gap {report.gap * 1000:.0f} ms; {verdict}")


def outage(run: ProbeRun, what: str, protocol_ms: float, margin_ms: float) -> None:
    """The client's longest gap against the protocol's bound plus the issue's margin (probe
    period, announcement and scheduling on a loaded machine)."""
    report = run.stop()
    bound_ms = protocol_ms + margin_ms
    verdict = "within" if report.gap * 1000 <= bound_ms else "OVER"
    say(f"client: {report.summary()}")
    say(
        f"{what}: outage {report.gap * 1000:.0f} ms, {report.lost} probes lost;"
        f" {verdict} the bound of {bound_ms:.0f} ms ({protocol_ms:.0f} + {margin_ms:.0f})"
    )


def run_demo(topology: Topology, workdir: Path) -> None:
    cluster, probe = Cluster(topology, workdir), Prober(topology)
    heading("two load balancers and a client on one bridge (network namespaces)")
    for host in ("lb1", "lb2", "client"):
        say(f"  {host:7} namespace {topology.host(host).ns:14} {topology.host(host).ipv4}/24")
    lb1 = cluster.start("lb1", [web(150, auth=AUTH)])
    lb2 = cluster.start("lb2", [web(100, auth=AUTH)])
    say(f"\nconfiguration of lb1 ({lb1.config}):")
    say("".join("  " + line + "\n" for line in lb1.config.read_text().splitlines()))
    lb1.wait_state("master")
    lb2.wait_state("backup")
    probe.serve("lb1", "lb2")
    heading("steady state: lb1 (priority 150) holds the VIP, lb2 (100) stands by")
    show_status(lb1)
    show_status(lb2)

    heading("lb1 dies: its cable is pulled and its agent killed")
    run = probe.start(VIP, seconds=30)
    run.wait_for("lb1", answers=50)
    topology.link_down("lb1", carrier=True)
    lb1.kill(signal.SIGKILL)
    lb2.wait_state("master", timeout=3)
    run.wait_for("lb2", answers=50, timeout=3)
    outage(run, "crash failover", master_down_ms(100), 150)
    show_status(lb2)

    heading("lb1 comes back and preempts; lb2 serves until lb1 has announced the VIP")
    topology.link_up("lb1", carrier=True)
    run = probe.start(VIP, seconds=30)
    run.wait_for("lb2", answers=50)
    lb1.start()
    lb1.wait_state("master", timeout=5)
    run.wait_for("lb1", answers=50, timeout=3)
    outage(run, "preemption", master_down_ms(100), 150)

    heading("maintenance on lb1: it hands the VIP to lb2 before letting go of it")
    run = probe.start(VIP, seconds=30)
    run.wait_for("lb1", answers=50)
    run_cli(lb1, "maintenance", "on")
    run.wait_for("lb2", answers=50, timeout=3)
    lossless(run, "maintenance handover")
    show_status(lb1)
    heading("maintenance off: lb1 rejoins the election and preempts")
    run_cli(lb1, "maintenance", "off")
    lb1.wait_state("master", timeout=5)

    heading("lb1 stops gracefully (SIGTERM): priority 0, but it serves until lb2 has announced")
    run = probe.start(VIP, seconds=30)
    run.wait_for("lb1", answers=50)
    lb1.stop()
    run.wait_for("lb2", answers=50, timeout=3)
    lossless(run, "graceful handover")
    show_status(lb2)


def main() -> int:
    if os.geteuid() != 0:
        say("make demo builds network namespaces: run it as root")
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="vgdemo-"))
    topology = Topology(workdir=workdir)
    try:
        topology.build()
        run_demo(topology, workdir)
    finally:
        problems = topology.teardown()
        shutil.rmtree(workdir, ignore_errors=True)
        heading("torn down: namespaces deleted, processes stopped")
        for problem in problems:
            say(f"  teardown problem: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
