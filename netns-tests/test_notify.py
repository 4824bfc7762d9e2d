"""Notify hooks and the event stream on the real kernel: every transition runs its hooks in
order, with instance, state, priority, reason and family, and `vipguard events` sees the same
sequence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agents import Cluster, drain_tracker, web
from netns import wait_until

from vipguard.control_client import stream

pytestmark = pytest.mark.netns_timeout(60)


def recorder(log: Path, tag: str) -> list[str]:
    """A hook command appending "<tag> <its five arguments>" to ``log``."""
    return ["/bin/sh", "-c", f'echo {tag} "$@" >> {log}', "hook"]


def hook_lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def transitions_seen(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["new"], str(e["priority"]), e["reason"]) for e in events if e["event"] == "state_changed"
    ]


def test_hooks_run_in_order_with_the_right_arguments_and_events_agree(
    cluster: Cluster, tmp_path: Path
) -> None:
    log = cluster.workdir / "hooks.log"
    drain, tracker = drain_tracker(cluster, 0, interval="50ms")
    notify = {
        "master": recorder(log, "to-master"),
        "backup": recorder(log, "to-backup"),
        "fault": recorder(log, "to-fault"),
        "any": recorder(log, "any"),
    }
    instance = web(150, track=["drain"], notify=notify)
    lb1 = cluster.agent("lb1", [instance], tables={"tracker": [tracker]}).start()
    events = stream(lb1.socket, "events", backlog=True)
    lb1.wait_state("master", timeout=3)
    drain.write_text("1\n")  # weight 0: a non-zero value is a fault
    lb1.wait_state("fault", timeout=2)
    drain.write_text("0\n")
    lb1.wait_state("master", timeout=3)
    lb1.stop()

    seen: list[dict[str, Any]] = []
    for event in events:  # ends when the agent closes the stream
        seen.append(event)
    expected = [
        ("backup", "startup"),
        ("master", "master_down_timer_expired"),
        ("fault", "fault"),
        ("backup", "fault_cleared"),
        ("master", "master_down_timer_expired"),
        ("initialize", "shutdown"),
    ]
    transitions = transitions_seen(seen)
    assert [(state, reason) for state, _, reason in transitions] == expected
    lines = hook_lines(log)
    want = []
    for state, priority, reason in transitions:
        own = {"master", "backup", "fault"}
        if state in own:
            want.append([f"to-{state}", "web", state, priority, reason, "ipv4"])
        want.append(["any", "web", state, priority, reason, "ipv4"])
    assert lines == want  # strictly in order, the state's own hook before the generic one
    finished = [e for e in seen if e["event"] == "hook_finished"]
    assert len(finished) == len(want) and {e["outcome"] for e in finished} == {"ok"}
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)
    values = [(e["tracker"], e["value"]) for e in seen if e["event"] == "tracker_changed"]
    assert values == [("drain", 0), ("drain", 1), ("drain", 0)]  # first result, fault, clear


def test_a_dual_stack_instance_hooks_get_its_name_and_the_family_apart(cluster: Cluster) -> None:
    log = cluster.workdir / "hooks.log"
    variables = "$VIPGUARD_INSTANCE,$VIPGUARD_FAMILY,$VIPGUARD_STATE"
    hook = ["/bin/sh", "-c", f'echo "$@" {variables} >> {log}', "hook"]
    vips = ["192.0.2.100/24", "2001:db8::100/64"]
    lb1 = cluster.start("lb1", [web(150, version=3, vips=vips, notify={"master": hook})])
    for family in ("ipv4", "ipv6"):
        lb1.wait_state("master", name=f"web/{family}", timeout=5)  # the routers keep their names
    wait_until(lambda: len(hook_lines(log)) == 2, 5, what="both routers' master hooks")
    reason = "master_down_timer_expired"
    assert sorted(hook_lines(log)) == [
        ["web", "master", "150", reason, "ipv4", "web,ipv4,master"],
        ["web", "master", "150", reason, "ipv6", "web,ipv6,master"],
    ]
    lb1.stop()


def test_a_failing_or_hanging_hook_never_changes_vrrp(cluster: Cluster) -> None:
    notify = {"any": ["/bin/sh", "-c", "sleep 30"], "master": ["/bin/false"], "timeout": "200ms"}
    lb1 = cluster.start("lb1", [web(150, notify=notify)])
    lb2 = cluster.start("lb2", [web(100)])
    lb1.wait_state("master", timeout=3)
    lb2.wait_state("backup")
    wait_until(lambda: lb1.status()["hooks"]["outcomes"].get("timeout", 0) >= 2, 5, what="hooks")
    outcomes = lb1.status()["hooks"]["outcomes"]
    assert outcomes.get("failed", 0) >= 1
    assert lb1.instance("web")["counters"]["transitions"] == 2  # startup, master: nothing else
    assert lb2.state() == "backup"


def test_the_events_command_prints_json_lines(cluster: Cluster) -> None:
    lb1 = cluster.start("lb1", [web(150)])
    lb1.wait_state("master", timeout=3)
    argv = [sys.executable, "-m", "vipguard", "events", "--json", "--socket", str(lb1.socket)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as cli:
        try:
            lb1.stop()  # the shutdown transition reaches the stream, then it ends
            out, err = cli.communicate(timeout=10)
        finally:
            cli.kill()
    assert cli.returncode == 1  # the stream ended because the agent stopped: said on stderr
    lines = [line for line in out.splitlines() if line.strip()]
    assert any('"reason": "shutdown"' in line for line in lines), out
    assert "closed the event stream" in err
