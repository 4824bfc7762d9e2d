"""What each signal does to the agent. No signal that would end the process may skip the
handover: every catchable signal whose default action terminates is given a decision here.

- TERM, INT: graceful stop (priority 0, VIPs kept until a peer holds them), exit 0.
- HUP: reload the configuration.
- USR1: a status dump to the log (what `vipguard status` shows); USR2: the counters. keepalived
  dumps to files in /tmp on these; the unit's PrivateTmp would hide those, the journal does not.
- PIPE: ignored (a reader that went away is an error on that write, not a reason to stop).
- Every other one (QUIT, ABRT, ALRM, VTALRM, PROF, IO, PWR, XCPU, XFSZ, STKFLT, SYS, TRAP, the
  real-time signals): logged by name, then the same graceful stop, exit 128 + the number so that
  systemd (Restart=on-failure) starts a fresh agent.
- SEGV, BUS, FPE, ILL: left at their default. Raised for a faulting instruction, a handler that
  returns only runs it again; the process is broken, so it crashes like on SIGKILL: the peer takes
  over after Master_Down_Interval and the restarted agent removes the VIPs left behind.

Signals whose default action does not end the process (CHLD, CONT, URG, WINCH; the stop
signals TSTP, TTIN, TTOU) and the uncatchable KILL and STOP are left alone.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import logs


class Action(enum.Enum):
    STOP = "graceful_stop"
    RELOAD = "reload"
    STATUS_DUMP = "status_dump"
    STATS_DUMP = "stats_dump"
    IGNORE = "ignore"
    CRASH = "default"  # not handled: see the module's docstring


# Default actions from signal(7): ignore (CHLD, CONT, URG, WINCH) or stop (the others).
_NOT_TERMINATING = frozenset(
    {
        signal.SIGCHLD,
        signal.SIGCONT,
        signal.SIGURG,
        signal.SIGWINCH,
        signal.SIGSTOP,
        signal.SIGTSTP,
        signal.SIGTTIN,
        signal.SIGTTOU,
    }
)
_UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})
_PROGRAM_FAULTS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL})
_CHOSEN = {
    signal.SIGTERM: Action.STOP,
    signal.SIGINT: Action.STOP,
    signal.SIGHUP: Action.RELOAD,
    signal.SIGUSR1: Action.STATUS_DUMP,
    signal.SIGUSR2: Action.STATS_DUMP,
    signal.SIGPIPE: Action.IGNORE,
}
# The stops an operator or systemd asks for: exit 0. Any other stop signal exits 128 + N.
_REQUESTED_STOPS = frozenset({signal.SIGTERM, signal.SIGINT})


def table() -> dict[int, Action]:
    """Every catchable signal of this platform whose default action ends the process (the
    real-time ones included), and what the agent does with it."""
    terminating = signal.valid_signals() - _NOT_TERMINATING - _UNCATCHABLE
    return {
        int(number): _CHOSEN.get(number, Action.CRASH if number in _PROGRAM_FAULTS else Action.STOP)
        for number in sorted(terminating)
    }


def name(number: int) -> str:
    """``SIGQUIT``; the real-time signals as ``SIGRTMIN+3`` (they have no names of their own)."""
    if signal.SIGRTMIN < number < signal.SIGRTMAX:
        return f"SIGRTMIN+{number - signal.SIGRTMIN}"
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_status(number: int) -> int:
    """The agent's exit status after a graceful stop on ``number``."""
    return 0 if number in _REQUESTED_STOPS else 128 + number


@dataclass(frozen=True, slots=True)
class Actions:
    """What the agent does for each kind of signal; ``stop`` gets the signal's number."""

    stop: Callable[[int], None]
    reload: Callable[[], None]
    dump_status: Callable[[], None]
    dump_stats: Callable[[], None]


def install(loop: asyncio.AbstractEventLoop, actions: Actions) -> None:
    """Handle every signal of ``table()`` as it says, from the event loop."""
    for number, action in table().items():
        if action is Action.IGNORE:
            signal.signal(number, signal.SIG_IGN)
        elif action is not Action.CRASH:
            loop.add_signal_handler(number, _handle, number, action, actions)


def _handle(number: int, action: Action, actions: Actions) -> None:
    if action is Action.STOP:
        level = logging.INFO if number in _REQUESTED_STOPS else logging.WARNING
        logs.event("stop_requested", level, signal=name(number), action=action.value)
        actions.stop(number)
    elif action is Action.RELOAD:
        actions.reload()
    elif action is Action.STATUS_DUMP:
        actions.dump_status()
    elif action is Action.STATS_DUMP:
        actions.dump_stats()


def dump_status(answer: dict[str, Any]) -> None:
    """USR1: the status answer (what `vipguard status` shows) as one line for the agent and one
    per instance."""
    instances = answer.get("instances", [])
    agent = {key: value for key, value in answer.items() if key != "instances"}
    logs.event("status_dump", instances=len(instances), **agent)
    for instance in instances:
        fields = {key: value for key, value in instance.items() if key != "name"}
        logs.event("status_dump_instance", instance=instance["name"], **fields)


def dump_stats(answer: dict[str, Any]) -> None:
    """USR2: the counters of the status answer, one line for the agent and one per instance."""
    instances = answer.get("instances", [])
    hooks = answer.get("hooks", {}).get("outcomes", {})
    unknown = answer.get("unknown_vrid_packets", 0)
    logs.event("stats_dump", instances=len(instances), unknown_vrid_packets=unknown, hooks=hooks)
    for instance in instances:
        logs.event(
            "stats_dump_instance",
            instance=instance["name"],
            state=instance["state"],
            **instance["counters"],
        )
