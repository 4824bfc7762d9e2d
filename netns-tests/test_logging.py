"""A real agent's log: syslog priority prefixes when its stderr is the journal's stream (as
systemd sets it up: JOURNAL_STREAM names stderr's device and inode), debug lines only when
`[agent] log_level = "debug"` asks for them."""

from __future__ import annotations

from agents import Cluster, web

# What systemd does for a unit whose stderr is the journal, with a file in place of the socket.
AS_IF_JOURNAL = [
    "sh",
    "-c",
    'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"',
    "journal-stream",
]


def test_debug_lines_and_journal_priorities_from_a_real_pair(cluster: Cluster) -> None:
    lb1 = cluster.agent("lb1", [web(150)], wrapper=AS_IF_JOURNAL).start()
    lb2 = cluster.agent("lb2", [web(100)], log_level="debug").start()
    lb1.wait_state("master")
    lb2.wait_state("backup")
    lb2.wait_following("192.0.2.11")
    assert lb1.stop() == 0
    lb2.wait_state("master", timeout=2)
    journal = lb1.log().splitlines()
    assert journal and all(line[:3] in ("<6>", "<4>", "<3>") for line in journal), journal
    assert "<6>level=info event=agent_started" in lb1.log()
    assert "level=debug" not in lb1.log()  # info by default
    plain = lb2.log()
    assert plain.startswith("level=debug event=agent_starting"), plain[:300]
    for event in ("master_heard", "state_detail", "kernel_event", "bind_done"):
        assert f"level=debug event={event} " in plain, event
    heard = [line for line in plain.splitlines() if "event=master_heard" in line]
    assert "source=192.0.2.11" in heard[0] and "priority=150" in heard[0], heard
    assert len(heard) < 5, heard  # once per change of master, not once per advert
