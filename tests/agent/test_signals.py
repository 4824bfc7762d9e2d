"""Which signal does what to the agent: every signal whose default action would end the process
is in the table, each with a decision (the namespace test checks the agent acts on it)."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys

import pytest

from vipguard.agent import logs, signals
from vipguard.agent.signals import Action

PR_SET_DUMPABLE = 4


def _default_action(number: int) -> str:
    """What this platform's kernel does with ``number`` at SIG_DFL: "terminate", "stop" or
    "ignore", found out in a forked child that sends it to itself."""
    pid = os.fork()
    if pid == 0:  # the child: no core dump, the signal at its default, unblocked
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
            signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
            os.kill(os.getpid(), number)  # delivered before kill() returns
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, os.WUNTRACED)
    if os.WIFSTOPPED(status):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "stop"
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == number
        return "terminate"
    assert os.WEXITSTATUS(status) == 0
    return "ignore"


def _terminating_here() -> set[int]:
    catchable = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
    return {number for number in catchable if _default_action(number) == "terminate"}


def test_the_table_covers_every_catchable_signal_that_would_end_the_process() -> None:
    assert set(signals.table()) == _terminating_here()


def test_the_keepalived_habits_and_the_lifecycle_signals_do_what_the_docs_say() -> None:
    table = signals.table()
    assert table[signal.SIGTERM] is Action.STOP
    assert table[signal.SIGINT] is Action.STOP
    assert table[signal.SIGHUP] is Action.RELOAD
    assert table[signal.SIGUSR1] is Action.STATUS_DUMP
    assert table[signal.SIGUSR2] is Action.STATS_DUMP
    assert table[signal.SIGPIPE] is Action.IGNORE
    for number in (signal.SIGQUIT, signal.SIGALRM, signal.SIGXCPU, signal.SIGPWR, signal.SIGSYS):
        assert table[number] is Action.STOP
    for number in range(signal.SIGRTMIN, signal.SIGRTMAX + 1):
        assert table[number] is Action.STOP
    # A real fault re-runs the faulting instruction after a handler returns: left at default.
    for number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL):
        assert table[number] is Action.CRASH


def test_signal_names_include_the_real_time_ones() -> None:
    assert signals.name(signal.SIGQUIT) == "SIGQUIT"
    assert signals.name(signal.SIGRTMIN) == "SIGRTMIN"
    assert signals.name(signal.SIGRTMIN + 3) == "SIGRTMIN+3"
    assert signals.name(signal.SIGRTMAX) == "SIGRTMAX"


def test_only_sigterm_and_sigint_exit_zero_after_their_graceful_stop() -> None:
    assert signals.exit_status(signal.SIGTERM) == 0
    assert signals.exit_status(signal.SIGINT) == 0
    assert signals.exit_status(signal.SIGQUIT) == 128 + signal.SIGQUIT  # systemd restarts it


@pytest.mark.parametrize("number", [signal.SIGQUIT, signal.SIGALRM, signal.SIGRTMIN + 1])
def test_a_process_with_the_handlers_installed_stops_gracefully_on_each(number: int) -> None:
    """In a real interpreter: the handler runs (it logs the signal and stops the loop),
    nothing dies of the signal, USR1, USR2 and PIPE come first and do not stop it."""
    script = f"""
import asyncio, os, signal
from vipguard.agent import logs, signals
logs.setup("text")
async def main():
    stopped = asyncio.Event()
    def stop(number):
        print("stop", number, flush=True); stopped.set()
    actions = signals.Actions(stop=stop, reload=lambda: print("reload", flush=True),
        dump_status=lambda: print("status", flush=True),
        dump_stats=lambda: print("stats", flush=True))
    signals.install(asyncio.get_running_loop(), actions)
    for number in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE, signal.SIGHUP, {number}):
        os.kill(os.getpid(), number)
        await asyncio.sleep(0)
    await asyncio.wait_for(stopped.wait(), 5)
asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == ["status", "stats", "reload", f"stop {number}"]
    assert f"event=stop_requested signal={signals.name(number)}" in done.stderr
    assert "action=graceful_stop" in done.stderr


def test_key_value_lines_spell_out_nested_values_with_dotted_keys() -> None:
    record = logs.LOGGER.makeRecord(
        "vipguard",
        20,
        __file__,
        1,
        "status_dump",
        (),
        None,
        extra={
            "fields": {
                "priority": {"base": 150, "faults": []},
                "vips": [{"address": "192.0.2.100/24", "bound": True}],
                "peers": ["192.0.2.12", "192.0.2.13"],
            }
        },
    )
    line = logs.KeyValueFormatter().format(record)
    assert line == (
        'level=info event=status_dump priority.base=150 priority.faults=""'
        " vips.0.address=192.0.2.100/24 vips.0.bound=True peers=192.0.2.12,192.0.2.13"
    )


def test_the_readme_and_run_help_say_what_each_signal_does() -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from vipguard.cli import main

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("- Signals (`systemctl kill") :][:2000]
    named = {signals.name(n) for n in signals.table() if "+" not in signals.name(n)}
    for signal_name in named - {"SIGRTMIN", "SIGRTMAX"}:
        assert signal_name.removeprefix("SIG") in section, signal_name
    assert "SIGRTMIN..SIGRTMAX" in section
    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    chosen = [n for n, a in signals.table().items() if a not in (Action.STOP, Action.CRASH)]
    for number in [*chosen, signal.SIGSEGV, signal.SIGTERM]:
        assert signals.name(number) in help_text, signals.name(number)
