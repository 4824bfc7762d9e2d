"""The command line: clear errors without an agent, fast start-up, status rendering."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
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


def test_the_status_path_imports_nothing_heavy(tmp_path: Path) -> None:
    """`vipguard status` must answer fast: no event loop, netlink or crypto on its path."""
    code = (
        "import sys\nfrom vipguard.cli import main\n"
        f"sys.argv = ['vipguard', 'status', '--socket', {str(tmp_path / 'x.sock')!r}]\n"
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
