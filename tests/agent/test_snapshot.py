"""One snapshot, two views: `vipguard status` and `/metrics` render the same immutable snapshot,
taken on the event loop (a scrape in the metrics thread asks the loop for it); agent code reads
the time only through the agent's clock; no agent module imports the runtime."""

from __future__ import annotations

import ast
import asyncio
import re
import threading
from pathlib import Path

from kernel_fake import OWNER, FakeKernel, instance, running, write_config
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from vipguard.agent.metrics import AgentCollector
from vipguard.agent.runtime import Agent
from vipguard.agent.snapshot import AgentSnapshot
from vipguard.agent.status import answer

ROOT = Path(__file__).resolve().parents[2]
INSTANCES = OWNER + instance("api", 52, "priority = 90", vips='"192.0.2.101/24"')
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def render(source: AgentCollector) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(source)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


def test_status_and_metrics_agree_on_one_snapshot(kernel: FakeKernel, tmp_path: Path) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24")
    agent = Agent(write_config(tmp_path, INSTANCES), kernel.adapters())

    async def scenario() -> tuple[AgentSnapshot, dict[str, object]]:
        async with running(agent, kernel):
            await kernel.until(lambda: kernel.netlink.holds("eth0", "192.0.2.100/24"))
            status = agent.status({})
            assert agent.snapshots.latest is not None
            return agent.snapshots.latest, status

    snapshot, status = asyncio.run(scenario())
    assert status == answer(snapshot)  # the status answer is the snapshot it published
    got = render(AgentCollector(lambda: snapshot))
    instances = status["instances"]
    assert isinstance(instances, list) and [i["name"] for i in instances] == ["web", "api"]
    for shown in instances:
        labels = {"name": shown["name"], "interface": "eth0", "family": "ipv4"}
        labels["vrid"] = str(shown["vrid"])

        def metric(name: str, labels: dict[str, str] = labels, **extra: str) -> float:
            return got[(f"vipguard_instance_{name}", frozenset({**labels, **extra}.items()))]

        assert metric("state", state=shown["state"]) == 1
        assert metric("priority_base") == shown["priority"]["base"]
        assert metric("priority_effective") == shown["priority"]["effective"]
        assert metric("adverts_sent_total") == shown["counters"]["adverts_out"]
        assert metric("adverts_received_total") == shown["counters"]["adverts_in"]
        assert metric("announcements_total") == shown["counters"]["announcements"]
        assert metric("maintenance") == int(shown["maintenance"])
        since = metric("seconds_since_transition")
        assert abs(since - shown["seconds_in_state"]) < 0.001
        mdi = metric("master_down_interval_seconds")
        assert round(mdi * 1000, 1) == shown["master_down_interval_ms"]
    assert [i["state"] for i in instances] == ["master", "backup"]


def test_a_scrape_in_another_thread_renders_a_snapshot_taken_on_the_event_loop(
    kernel: FakeKernel,
    tmp_path: Path,
) -> None:
    kernel.netlink.add_link("eth0", "192.0.2.11/24")
    agent = Agent(write_config(tmp_path, INSTANCES), kernel.adapters())
    taken_in: list[int] = []
    take = agent.snapshot

    def recorded() -> AgentSnapshot:
        taken_in.append(threading.get_ident())
        return take()

    agent.snapshots._take = recorded

    async def scenario() -> Samples:
        async with running(agent, kernel):
            await kernel.until(lambda: kernel.netlink.holds("eth0", "192.0.2.100/24"))
            taken_in.clear()
            collector = AgentCollector(lambda: agent.snapshots.fresh(5.0))
            return await asyncio.to_thread(render, collector)

    loop_thread = threading.get_ident()
    got = asyncio.run(scenario())
    assert taken_in == [loop_thread]  # the metrics thread only asked for it
    web = {"name": "web", "interface": "eth0", "family": "ipv4", "vrid": "51"}
    assert got[("vipguard_instance_state", frozenset({**web, "state": "master"}.items()))] == 1


CLOCK_READS = re.compile(
    r"\btime\.(monotonic|time|perf_counter|monotonic_ns|time_ns)\b"
    r"|^\s*(import time\b|from time import)"
    r"|\bdatetime\.(now|utcnow)\b",
    re.MULTILINE,
)


def test_agent_code_reads_the_time_only_through_the_agents_clock() -> None:
    # io/clock.py is the one place that reads the clocks; the agent is handed one.
    found = [
        f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}: {match.group()}"
        for path in sorted((ROOT / "vipguard" / "agent").rglob("*.py"))
        for text in [path.read_text()]
        for match in CLOCK_READS.finditer(text)
    ]
    assert found == [], "read the time through the injected clock (vipguard/io/clock.py)"


def test_the_clock_check_finds_a_direct_read() -> None:
    assert CLOCK_READS.search("x = 1\nstarted = time.monotonic()\n")
    assert CLOCK_READS.search("import time\n")
    assert not CLOCK_READS.search("now = self.clock.now().monotonic\nloop.time()\n")


def test_no_agent_module_imports_the_runtime() -> None:
    """The runtime composes the others; an import back (even a type-only one) is a cycle."""
    importing = []
    for path in sorted((ROOT / "vipguard" / "agent").rglob("*.py")):
        if path.name == "runtime.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(name.endswith("runtime") for name in names):
                importing.append(path.name)
    assert importing == []
