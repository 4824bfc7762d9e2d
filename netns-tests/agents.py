"""Run vipguard agents (and keepalived) inside a :class:`netns.Topology` and watch their state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from netns import Process, Topology, wait_until

from vipguard.control_client import AgentUnavailable, request

Value = str | int | float | bool | Sequence[Any] | Mapping[str, Any]


def toml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def render_config(
    agent: Mapping[str, Value],
    instances: Sequence[Mapping[str, Any]],
    tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> str:
    """The TOML file: [agent], the instances, and other arrays of tables (``tracker``,
    ``sync_group``) given in ``tables``."""
    lines = ["[agent]", *(f"{k} = {toml_value(v)}" for k, v in agent.items())]
    arrays = {"instance": instances, **(tables or {})}
    for kind, items in arrays.items():
        for item in items:
            lines += ["", f"[[{kind}]]"]
            nested = {k: v for k, v in item.items() if isinstance(v, Mapping)}
            lines += [f"{k} = {toml_value(v)}" for k, v in item.items() if k not in nested]
            for name, table in nested.items():
                lines += [f"[{kind}.{name}]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


class Agent:
    """One vipguard agent process in one namespace."""

    def __init__(
        self,
        cluster: Cluster,
        host: str,
        config: Path,
        socket: Path,
        wrapper: Sequence[str] = (),
        tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.cluster, self.host, self.config, self.socket = cluster, host, config, socket
        self.tables = tables  # trackers and sync groups, kept by rewrite()
        self.wrapper = list(wrapper)  # e.g. setpriv or env in front of the agent
        self.process: Process | None = None

    def argv(self) -> list[str]:
        return [
            *self.wrapper,
            sys.executable,
            "-m",
            "vipguard",
            "run",
            "--config",
            str(self.config),
        ]

    def refused(self, timeout: float = 10.0) -> str:
        """Start an agent that must refuse to run: its exit status 1 and its log."""
        process = self.cluster.topology.popen(self.host, self.argv())
        status = process.wait(timeout)
        assert status == 1, f"agent exited with {status}: {process.stderr()[-2000:]}"
        return process.stderr()

    def start(self) -> Agent:
        self.process = self.cluster.topology.popen(self.host, self.argv())
        wait_until(self._ready, 10, what=f"agent on {self.host} answering on {self.socket}")
        return self

    def _ready(self) -> bool:
        assert self.process
        if self.process.poll() is not None:
            raise RuntimeError(f"agent on {self.host} exited: {self.process.stderr()[-2000:]}")
        try:
            return bool(request(self.socket, "ping", 1.0).get("ok"))
        except AgentUnavailable:
            return False

    def status(self) -> dict[str, Any]:
        return request(self.socket, "status", 2.0)

    def instance(self, name: str) -> dict[str, Any]:
        for item in self.status()["instances"]:
            if item["name"] == name:
                return item
        raise KeyError(name)

    def state(self, name: str = "web") -> str:
        return str(self.instance(name)["state"])

    def wait_state(self, state: str, name: str = "web", timeout: float = 5.0) -> float:
        """Seconds until ``name`` is in ``state`` (polled over the control socket)."""
        return wait_until(
            lambda: self.state(name) == state,
            timeout,
            interval=0.01,
            what=f"{self.host} {name} {state}",
        )

    def wait_following(self, address: str, name: str = "web", timeout: float = 5.0) -> float:
        """Seconds until ``name`` has heard the master at ``address`` (a backup reaches
        Backup at start, before it has heard any advert)."""

        def following() -> bool:
            master = self.instance(name)["master"]
            return master is not None and master["address"] == address

        what = f"{self.host} {name} following {address}"
        return wait_until(following, timeout, interval=0.01, what=what)

    def rewrite(self, instances: Sequence[Mapping[str, Any]]) -> None:
        """Replace the agent's configuration file (for a reload)."""
        settings = {
            "control_socket": str(self.socket),
            "state_dir": str(self.config.parent / self.host),
        }
        self.config.write_text(render_config(settings, instances, self.tables))

    def reload(self) -> tuple[int, str]:
        """`vipguard reload` against this agent: (exit status, output)."""
        argv = [sys.executable, "-m", "vipguard", "reload", "--socket", str(self.socket)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        return done.returncode, done.stdout + done.stderr

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.process
        self.process.signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.process.wait(5)

    def stop(self) -> int:
        assert self.process
        return self.process.stop()

    def log(self) -> str:
        return self.process.stderr() if self.process else ""


class Cluster:
    """Writes configs and starts agents; the topology's teardown stops every process."""

    def __init__(self, topology: Topology, workdir: Path) -> None:
        self.topology, self.workdir = topology, workdir

    def agent(
        self,
        host: str,
        instances: Sequence[Mapping[str, Any]],
        wrapper: Sequence[str] = (),
        tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        **settings: Value,
    ) -> Agent:
        socket = self.workdir / f"{host}.sock"
        agent_settings = {"control_socket": str(socket), "state_dir": str(self.workdir / host)}
        agent_settings.update(settings)
        config = self.workdir / f"{host}.toml"
        config.write_text(render_config(agent_settings, instances, tables))
        return Agent(self, host, config, socket, wrapper, tables)

    def start(self, host: str, instances: Sequence[Mapping[str, Any]]) -> Agent:
        return self.agent(host, instances).start()


def settled_pair(
    cluster: Cluster, lb1: Mapping[str, Any], lb2: Mapping[str, Any]
) -> tuple[Agent, Agent]:
    """lb1 (with instance ``lb1``) master and lb2 backup of instance "web"."""
    first = cluster.start("lb1", [lb1])
    second = cluster.start("lb2", [lb2])
    first.wait_state("master")
    second.wait_state("backup")
    second.wait_following("192.0.2.11")
    return first, second


def drain_tracker(cluster: Cluster, value: int, **overrides: Any) -> tuple[Path, dict[str, Any]]:
    """A file tracker "drain" (100 ms, rise and fall 1) and its file, holding ``value``."""
    path = cluster.workdir / "drain"
    path.write_text(f"{value}\n")
    tracker = {"name": "drain", "file": str(path), "interval": "100ms", "rise": 1, "fall": 1}
    return path, tracker | overrides


def web(priority: int, **overrides: Any) -> dict[str, Any]:
    """The usual test instance: VRID 51, 100 ms adverts, one IPv4 VIP."""
    instance: dict[str, Any] = {
        "name": "web",
        "interface": "eth0",
        "vrid": 51,
        "priority": priority,
        "advert_interval": "100ms",
        "vips": ["192.0.2.100/24"],
    }
    instance.update(overrides)
    return instance


def master_down_ms(priority: int, interval_ms: float = 100.0) -> float:
    return 3 * interval_ms + (256 - priority) * interval_ms / 256


def skew_ms(priority: int, interval_ms: float = 100.0) -> float:
    return (256 - priority) * interval_ms / 256


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
