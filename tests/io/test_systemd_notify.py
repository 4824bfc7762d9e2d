"""sd_notify: datagrams reach the socket systemd names; the watchdog pings at half its timeout."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from vipguard.io.systemd import Notifier


def test_ready_watchdog_and_stopping_reach_the_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
        assert notifier.ready("2 virtual routers running")
        assert notifier.watchdog()
        assert notifier.stopping()
        received = [server.recv(1024).decode() for _ in range(3)]
    assert received == ["READY=1\nSTATUS=2 virtual routers running", "WATCHDOG=1", "STOPPING=1"]
    assert notifier.watchdog_interval == 1.0


def test_abstract_socket_names_are_understood() -> None:
    name = f"vipguard-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).notify("READY=1")
        assert server.recv(64) == b"READY=1"


def test_without_systemd_nothing_is_sent_and_no_watchdog_runs() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert notifier.watchdog_interval is None


def test_a_watchdog_meant_for_another_process_is_ignored() -> None:
    environ = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    assert Notifier(environ).watchdog_interval is None
