"""The command line: clear errors without an agent, fast start-up, status rendering."""

from __future__ import annotations

import copy
import json
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vipguard.cli import main

HEAVY = ("asyncio", "pyroute2", "cryptography", "prometheus_client", "scapy", "vipguard.agent")


def test_status_without_an_agent_says_so_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--socket", str(tmp_path / "none.sock")])
    assert result.exit_code == 1
    assert "no vipguard agent" in result.output
    assert str(tmp_path / "none.sock") in result.output
    assert "Traceback" not in result.output


def test_status_finds_the_socket_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "vipguard.toml"
    sock = tmp_path / "agent.sock"
    config.write_text(
        f'[agent]\ncontrol_socket = "{sock}"\n[[instance]]\nname = "web"\ninterface = "eth0"\n'
        'vrid = 51\nvips = ["192.0.2.100/24"]\n'
    )
    result = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert result.exit_code == 1
    assert str(sock) in result.output


@pytest.mark.parametrize(
    "command", [["status"], ["status", "--watch"], ["events"], ["maintenance", "on", "web"]]
)
def test_the_status_path_imports_nothing_heavy(tmp_path: Path, command: list[str]) -> None:
    """`vipguard status` (and its kin) must answer fast: no event loop, netlink or crypto."""
    argv = ["vipguard", *command, "--socket", str(tmp_path / "x.sock")]
    code = (
        "import sys\nfrom vipguard.cli import main\n"
        f"sys.argv = {argv!r}\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY[:5]!r}"
        " or m.startswith('vipguard.agent')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


STATUS: dict[str, Any] = {
    "ok": True,
    "pid": 4242,
    "config": "/etc/vipguard/vipguard.toml",
    "unknown_vrid_packets": 0,
    "instances": [
        {
            "name": "web",
            "interface": "eth0",
            "vmac": None,
            "family": "ipv4",
            "vrid": 51,
            "version": 3,
            "state": "backup",
            "seconds_in_state": 3725.2,
            "priority": {
                "base": 150,
                "effective": 130,
                "contributions": {"weight": -20},
                "faults": [],
            },
            "source": "192.0.2.12",
            "mode": "multicast",
            "peers": [],
            "vips": [{"address": "192.0.2.100/24", "bound": False}],
            "master": {"address": "192.0.2.11", "priority": 200, "self": False},
            "advert_interval_ms": 100,
            "master_advert_interval_ms": 100,
            "master_down_interval_ms": 350.8,
            "checksum": "rfc9568",
            "auth": "enforce",
            "last_transition": {"from": "initialize", "to": "backup", "reason": "startup"},
            "counters": {
                "adverts_in": 37251,
                "adverts_out": 0,
                "send_errors": 0,
                "transitions": 1,
                "announcements": 0,
                "rejected": {"auth_bad_hmac": 3},
            },
        }
    ],
}


@pytest.fixture
def fake_agent(tmp_path: Path) -> Iterator[Path]:
    """A control socket answering one canned status (a thread; stopped at teardown)."""
    path = tmp_path / "agent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(5)

    def answer() -> None:
        with server, server.accept()[0] as conn:
            request = json.loads(conn.makefile().readline())
            assert request == {"command": "status"}
            conn.sendall(json.dumps(STATUS).encode() + b"\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield path
    thread.join(5)


def test_status_renders_every_part_an_operator_needs(fake_agent: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--socket", str(fake_agent)])
    assert result.exit_code == 0, result.output
    text = result.output
    for expected in (
        "web: BACKUP  (eth0, ipv4, VRID 51, VRRPv3, multicast)",
        "priority      130  (base 150, weight -20)",
        "vips          192.0.2.100/24 (not bound)",
        "master        192.0.2.11 (priority 200)",
        "master down 350.8 ms",
        "in state      1h02m05s",
        "last change   initialize -> backup (startup)",
        "auth enforce",
        "adverts       in 37251, out 0",
        "rejected      auth_bad_hmac 3",
    ):
        assert expected in text, expected


def test_status_json_is_the_agents_answer(fake_agent: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--json", "--socket", str(fake_agent)])
    assert result.exit_code == 0
    assert json.loads(result.output) == STATUS


Respond = Callable[[dict[str, Any]], Iterator[dict[str, Any]]]


class FakeAgent:
    """A control socket served by threads: each connection gets the lines ``respond`` yields
    for its request (a generator may block to hold a stream open). Requests are recorded."""

    def __init__(self, path: Path, respond: Respond) -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._respond = respond
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(8)
        self._server.settimeout(0.05)
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._converse, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _converse(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as lines:
            request = json.loads(lines.readline())
            self.requests.append(request)
            for item in self._respond(request):
                connection.sendall(json.dumps(item).encode() + b"\n")

    def count(self, command: str) -> int:
        return sum(1 for request in self.requests if request["command"] == command)

    def close(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._server.close()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Callable[[Respond], FakeAgent]]:
    started: list[FakeAgent] = []

    def start(respond: Respond) -> FakeAgent:
        started.append(FakeAgent(tmp_path / "agent.sock", respond))
        return started[-1]

    yield start
    for fake in started:
        fake.close()


def until(condition: Callable[[], bool], stopping: threading.Event) -> None:
    """Block a fake agent's reply until ``condition`` holds (bounded; ends at teardown)."""
    for _ in range(500):
        if condition() or stopping.wait(0.01):
            return


HEADER = {"ok": True, "stream": True, "last_seq": 6}
EVENTS: list[dict[str, Any]] = [
    {
        "seq": 7,
        "time": 1795630923.123,
        "event": "state_changed",
        "instance": "web",
        "interface": "eth0",
        "family": "ipv4",
        "old": "backup",
        "new": "master",
        "reason": "master_down_timer_expired",
        "priority": 150,
    },
    {
        "seq": 8,
        "time": 1795630923.456,
        "event": "hook_finished",
        "instance": "web",
        "state": "master",
        "hook": "master",
        "command": "/etc/vipguard/notify master.sh",
        "outcome": "ok",
        "exit_code": 0,
        "duration_ms": 12.5,
    },
]


def stream_events(_: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield HEADER
    yield from EVENTS


def test_events_prints_one_readable_line_per_event(agent: Callable[[Respond], FakeAgent]) -> None:
    fake = agent(stream_events)
    result = CliRunner().invoke(main, ["events", "--socket", str(fake.path)])
    stamps = [datetime.fromtimestamp(e["time"]).isoformat(timespec="milliseconds") for e in EVENTS]
    assert result.output.splitlines()[:2] == [
        f"{stamps[0]} web state_changed backup→master reason=master_down_timer_expired"
        " priority=150 interface=eth0 family=ipv4",
        f"{stamps[1]} web hook_finished state=master hook=master"
        ' command="/etc/vipguard/notify master.sh" outcome=ok exit_code=0 duration_ms=12.5',
    ]
    assert "the agent closed the event stream" in result.output  # the agent went away: exit 1
    assert result.exit_code == 1
    assert fake.requests == [{"command": "events", "backlog": False}]


def test_events_json_prints_the_agents_objects_and_can_ask_for_the_backlog(
    agent: Callable[[Respond], FakeAgent],
) -> None:
    fake = agent(stream_events)
    result = CliRunner().invoke(main, ["events", "--json", "--backlog", "--socket", str(fake.path)])
    assert [json.loads(line) for line in result.output.splitlines()[:2]] == EVENTS
    assert fake.requests == [{"command": "events", "backlog": True}]


def refuse(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield {"ok": False, "error": f"unknown command {request['command']!r}; known: ping, status"}


def test_events_from_an_agent_without_a_stream_says_so(
    agent: Callable[[Respond], FakeAgent],
) -> None:
    fake = agent(refuse)
    result = CliRunner().invoke(main, ["events", "--socket", str(fake.path)])
    assert result.exit_code == 1
    assert "the agent refused: unknown command 'events'" in result.output
    assert "Traceback" not in result.output


def test_events_flushes_each_line_and_ctrl_c_exits_quietly(
    agent: Callable[[Respond], FakeAgent],
) -> None:
    def held_open(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield HEADER
        yield EVENTS[0]
        fake.stopping.wait(10)  # an idle stream, as between two failovers

    fake = agent(held_open)
    command = [sys.executable, "-m", "vipguard", "events", "--json", "--socket", str(fake.path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 10)
        assert readable, "no line within 10 s: not flushed?"
        assert json.loads(process.stdout.readline()) == EVENTS[0]
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=10)
    assert process.returncode == 0
    assert errors == b""


def answer_status(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The canned status with a counter that tells refreshes apart."""
    answer = copy.deepcopy(STATUS)
    answer["instances"][0]["counters"]["adverts_in"] = len(changes)
    changes.append(answer)
    return answer


def test_status_watch_refreshes_on_each_event(agent: Callable[[Respond], FakeAgent]) -> None:
    answers: list[dict[str, Any]] = []

    def respond(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if request["command"] == "status":
            yield answer_status(answers)
            return
        yield HEADER
        until(lambda: fake.count("status") == 1, fake.stopping)
        yield EVENTS[0]  # a failover: the watcher asks for the status again
        until(lambda: fake.count("status") == 2, fake.stopping)

    fake = agent(respond)
    argv = ["status", "--watch", "--json", "--interval", "30", "--socket", str(fake.path)]
    result = CliRunner().invoke(main, argv)
    assert [json.loads(line) for line in result.output.splitlines()[:2]] == answers
    assert [r["command"] for r in fake.requests] == ["events", "status", "status"]
    assert "the agent closed the event stream" in result.output
    assert result.exit_code == 1


def test_status_watch_refreshes_at_least_every_interval(
    agent: Callable[[Respond], FakeAgent],
) -> None:
    def respond(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if request["command"] == "status":
            yield STATUS
            return
        yield HEADER  # and not one event
        until(lambda: fake.count("status") >= 3, fake.stopping)

    fake = agent(respond)
    argv = ["status", "--watch", "--interval", "0.1", "--socket", str(fake.path)]
    result = CliRunner().invoke(main, argv)
    assert result.output.count("web: BACKUP") >= 3
    assert "\033[2J" not in result.output  # not a terminal: no screen clearing


def test_status_watch_polls_an_agent_without_an_event_stream(
    agent: Callable[[Respond], FakeAgent],
) -> None:
    def respond(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if request["command"] != "status":
            yield from refuse(request)
        elif fake.count("status") < 3:
            yield STATUS
        else:
            yield {"ok": False, "error": "stopping"}

    fake = agent(respond)
    argv = ["status", "--watch", "--interval", "0.1", "--socket", str(fake.path)]
    result = CliRunner().invoke(main, argv)
    assert result.output.count("web: BACKUP") == 2
    assert "the agent refused: stopping" in result.output
    assert result.exit_code == 1


def test_maintenance_on_an_instance_prints_what_the_agent_did(
    agent: Callable[[Respond], FakeAgent],
) -> None:
    def respond(_: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield {
            "ok": True,
            "instances": [
                {
                    "name": "web",
                    "state": "backup",
                    "maintenance": True,
                    "handover": {"reason": "maintenance", "peer": None},
                },
                {
                    "name": "db",
                    "state": "maintenance",
                    "maintenance": True,
                    "handover": None,
                    "master": "192.0.2.12",
                },
            ],
        }

    fake = agent(respond)
    result = CliRunner().invoke(main, ["maintenance", "on", "web", "--socket", str(fake.path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "web: maintenance on, state backup, handing over: maintenance,"
        " waiting for a peer to take over",
        "db: maintenance on, state maintenance, master now 192.0.2.12",
    ]
    assert fake.requests == [{"command": "maintenance", "on": True, "instance": "web"}]


def test_maintenance_refused_prints_the_error_and_exits_1(
    agent: Callable[[Respond], FakeAgent],
) -> None:
    def respond(_: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield {"ok": False, "error": "no instance 'mail'; instances: db, web"}

    fake = agent(respond)
    result = CliRunner().invoke(main, ["maintenance", "off", "--socket", str(fake.path)])
    assert result.exit_code == 1
    assert "maintenance refused: no instance 'mail'; instances: db, web" in result.output
    assert fake.requests == [{"command": "maintenance", "on": False, "instance": None}]


def test_status_shows_maintenance_trackers_sync_group_and_hooks() -> None:
    from vipguard.status_view import render

    answer = copy.deepcopy(STATUS)
    answer["hooks"] = {"running": ["web"], "queued": 2, "outcomes": {"failed": 1, "ok": 12}}
    answer["instances"][0].update(
        maintenance=True,
        handover={"reason": "maintenance", "peer": "192.0.2.11"},
        sync_group={"name": "pair", "members": ["web", "db"], "held": True},
        trackers=[
            {
                "name": "proxy",
                "kind": "http",
                "up": True,
                "value": None,
                "weight": 0,
                "contribution": 0,
                "fault": False,
                "detail": "HTTP 200",
                "latency_ms": 1.23,
            },
            {
                "name": "uplink",
                "kind": "interface",
                "up": False,
                "value": None,
                "weight": -20,
                "contribution": -20,
                "fault": False,
                "detail": "",
                "latency_ms": None,
            },
            {"name": "disk", "kind": "script", "up": None, "weight": 0, "fault": True},
        ],
    )
    text = render(answer)
    for expected in (
        "hooks: failed 1, ok 12; running web; queued 2",
        "  maintenance   ON",
        "  handover      maintenance, to 192.0.2.11",
        "  sync group    pair (web, db), held in backup by a member",
        "  tracker proxy (http): up, weight 0, contribution 0 — HTTP 200 in 1.2 ms",
        "  tracker uplink (interface): down, weight -20, contribution -20",
        "  tracker disk (script): unknown (FAULT), weight 0, contribution 0",
    ):
        assert expected in text.splitlines(), expected
