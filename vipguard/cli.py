"""The ``vipguard`` command. Heavy modules are imported inside commands so that every command
starts fast."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from . import __version__

if TYPE_CHECKING:
    from .config import Config
    from .control_client import ResponseStream


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vipguard")
def main() -> None:
    """High-availability agent for Linux load balancers (VRRP-compatible VIP failover).

    Each load-balancer host runs `vipguard run` (the systemd unit does): the hosts elect one
    owner of each virtual IP with VRRPv2/v3 adverts that keepalived and FRR understand, and the
    owner binds the VIPs and announces them. The other commands check a configuration file or
    talk to the running agent over its control socket.
    """


@main.command()
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="How many random fault schedules to run.",
)
@click.option(
    "--first", type=click.IntRange(min=0), default=0, show_default=True, help="The first seed."
)
@click.option("--seed", type=click.IntRange(min=0), help="Run one seed and print its timeline.")
@click.option("--sync", is_flag=True, help="With --seed: that seed's sync-group schedule.")
@click.option("--demo", is_flag=True, help="Run the scripted two-router failover and explain it.")
def simulate(seeds: int, first: int, seed: int | None, sync: bool, demo: bool) -> None:
    """Run the protocol core in virtual time, without a network.

    Random schedules of crashes, restarts, partitions, loss and priority changes are checked
    against the protocol's invariants, then the same with hosts that run a front and a back
    router in one sync group; a failing seed prints its timeline.
    """
    from . import sim

    if demo:
        raise SystemExit(sim.demo())
    argv = ["--seeds", str(seeds), "--first", str(first)]
    if seed is not None:
        argv = ["--seed", str(seed), *(["--sync"] if sync else [])]
    raise SystemExit(sim.main(argv))


DEFAULT_CONFIG = "/etc/vipguard/vipguard.toml"


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The TOML configuration file.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Log events at this level and above; overrides [agent] log_level (default info)."
    " debug adds state-change detail, rejected packets one by one, kernel address and link"
    " events, tracker checks, VIP bind/release timing and control requests.",
)
def run(config_path: str, log_level: str | None) -> None:
    """Run the agent in the foreground (systemd starts it like this).

    Refuses to start on an invalid configuration, listing every problem (exit status 2), and
    before touching any interface without what it needs (CAP_NET_RAW, CAP_NET_ADMIN, writable
    control-socket and state directories): one startup_failed line saying what to grant, exit
    status 1. SIGTERM or SIGINT stop it gracefully: masters advertise priority 0 and release
    their VIPs once a peer holds them.

    \b
    Other signals:
      SIGHUP          reload the configuration (like `vipguard reload`)
      SIGUSR1         log a status dump (what `vipguard status` shows)
      SIGUSR2         log the counters
      SIGPIPE         ignored
      SIGSEGV, SIGBUS, SIGFPE, SIGILL
                      a crash (core dump); the peer takes over after Master_Down_Interval
      any other       that would end the process (SIGQUIT, SIGALRM, SIGRTMIN+N ...): logged,
                      then the same graceful stop, exit status 128 + N
    """
    import asyncio
    import logging

    from .agent import logs
    from .agent.runtime import Agent

    config = _load_or_exit(config_path)
    level = log_level or config.agent.log_level
    logs.setup(config.agent.log_format, getattr(logging, level.upper()))

    async def serve() -> int:
        agent = Agent(config)
        agent.install_signal_handlers()
        return await agent.run()

    raise SystemExit(asyncio.run(serve()))  # a refused start-up was logged: exit status 1


def _load_or_exit(path: str) -> Config:
    """The validated configuration, or every problem on stderr and exit status 2."""
    from .config import ConfigError, load

    try:
        return load(path)
    except ConfigError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(2) from None


def _ask(
    socket_path: str | None,
    config_path: str | None,
    command: str,
    timeout: float = 3.0,
    **fields: Any,
) -> dict[str, Any]:
    """The running agent's answer to ``command``; a clear message (no traceback) without one."""
    from pathlib import Path

    from .control_client import request

    path = Path(_control_socket(socket_path, config_path))
    with _agent_errors():
        return request(path, command, timeout=timeout, **fields)


def _subscribe(socket_path: str | None, config_path: str | None, **fields: Any) -> ResponseStream:
    """The agent's event stream; raises AgentRefused from an agent without one."""
    from pathlib import Path

    from .control_client import AgentUnavailable, stream

    path = Path(_control_socket(socket_path, config_path))
    try:
        return stream(path, "events", **fields)
    except AgentUnavailable as error:
        raise click.ClickException(str(error)) from None


@contextlib.contextmanager
def _agent_errors() -> Iterator[None]:
    """No agent, a broken connection or a refused stream: one clear line, no traceback."""
    from .control_client import AgentRefused, AgentUnavailable

    try:
        yield
    except AgentUnavailable as error:
        raise click.ClickException(str(error)) from None
    except AgentRefused as error:
        raise click.ClickException(f"the agent refused: {error}") from None


@contextlib.contextmanager
def _until_interrupted() -> Iterator[None]:
    """For commands that run until stopped: Ctrl-C, or a reader that goes away (``| head``),
    ends them quietly with status 0."""
    try:
        yield
    except KeyboardInterrupt:
        raise SystemExit(0) from None
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that says nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None


def _control_socket(socket_path: str | None, config_path: str | None) -> str:
    if socket_path:
        return socket_path
    if config_path:
        from .config import ConfigError, load

        try:
            return str(load(config_path).agent.control_socket)
        except ConfigError as error:
            raise click.ClickException(f"{config_path}: {error.problems[0]}") from None
    from .control_client import DEFAULT_SOCKET

    return str(DEFAULT_SOCKET)


def _agent_options(command: Callable[..., None]) -> Callable[..., None]:
    """--socket and --config: how a command finds the running agent."""
    command = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="Find the control socket in this configuration file.",
    )(command)
    return click.option(
        "--socket", "socket_path", type=click.Path(), help="The agent's control socket."
    )(command)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer (for scripts).")
@click.option(
    "--watch",
    is_flag=True,
    help="Keep showing it: refreshed on every event and at least every --interval seconds"
    " (with --json, one JSON line per refresh); Ctrl-C stops.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="With --watch: the longest time between two refreshes, in seconds.",
)
@_agent_options
def status(
    as_json: bool, watch: bool, interval: float, socket_path: str | None, config_path: str | None
) -> None:
    """Show each instance: state, priority, trackers, VIPs, master, timers, last transition,
    counters."""
    import json

    from .status_view import render

    if not watch:
        answer = _status(socket_path, config_path)
        click.echo(json.dumps(answer, indent=2) if as_json else render(answer))
        return
    with _until_interrupted():
        _watch(socket_path, config_path, as_json, interval)


def _status(socket_path: str | None, config_path: str | None) -> dict[str, Any]:
    answer = _ask(socket_path, config_path, "status")
    if not answer.get("ok"):
        raise click.ClickException(f"the agent refused: {answer.get('error')}")
    return answer


CLEAR_SCREEN = "\033[H\033[2J"


def _watch(
    socket_path: str | None, config_path: str | None, as_json: bool, interval: float
) -> None:
    """Re-render the status on every event (a burst counts once) and every ``interval``."""
    from .control_client import AgentRefused

    try:  # subscribe before the first status so that no change falls in between
        events = _subscribe(socket_path, config_path)
    except AgentRefused:  # an agent without an event stream: poll
        events = None
    tty = not as_json and sys.stdout.isatty()
    try:
        while True:
            _show_status(_status(socket_path, config_path), as_json, tty)
            _wait_for_change(events, interval)
    finally:
        if events is not None:
            events.close()


def _show_status(answer: dict[str, Any], as_json: bool, tty: bool) -> None:
    import json
    import time

    from .status_view import render

    if as_json:
        click.echo(json.dumps(answer))
    elif tty:
        footer = f"{time.strftime('%H:%M:%S')}, watching (Ctrl-C stops)"
        click.echo(f"{CLEAR_SCREEN}{render(answer)}\n\n{footer}")
    else:
        click.echo(render(answer) + "\n")


def _wait_for_change(events: ResponseStream | None, interval: float) -> None:
    """Until an event comes (and the rest of its burst), or ``interval`` passes."""
    import time

    if events is None:
        time.sleep(interval)
        return
    with _agent_errors():
        if events.read(timeout=interval) is not None:
            while events.read(timeout=0.05) is not None:
                pass
    if events.ended:
        raise click.ClickException("the agent closed the event stream (stopping?)")


@main.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print each event as one JSON line (for jq, scripts)."
)
@click.option("--backlog", is_flag=True, help="Start with the agent's recent events.")
@_agent_options
def events(as_json: bool, backlog: bool, socket_path: str | None, config_path: str | None) -> None:
    """Print the agent's events as they happen, until Ctrl-C.

    State changes, hook results and the like: one readable line each (local time, instance,
    event, details), or with --json the agent's JSON objects, one per line, flushed at once.
    Exits 1 when the agent closes the stream (it is stopping).
    """
    import json

    from .status_view import render_event

    with (
        _until_interrupted(),
        _agent_errors(),
        _subscribe(socket_path, config_path, backlog=backlog) as stream,
    ):
        for event in stream:
            click.echo(json.dumps(event) if as_json else render_event(event))
    raise click.ClickException("the agent closed the event stream (stopping?)")


@main.command()
@click.argument("mode", type=click.Choice(["on", "off"]))
@click.argument("instance", required=False)
@_agent_options
def maintenance(
    mode: str, instance: str | None, socket_path: str | None, config_path: str | None
) -> None:
    """Hand VIPs to a peer for maintenance (on), or rejoin the election (off).

    INSTANCE names one instance (with the other members of its sync group, which share its
    state); without it, every instance.

    on: a master hands its VIPs to a peer without loss (make-before-break: the peer holds them
    before this node lets go); the instance then stays out of the election, across agent
    restarts too, until maintenance is turned off.

    off: restores normal election: the instance competes with its usual priority again.
    """
    from .status_view import render_maintenance

    fields = {"on": mode == "on", "instance": instance}
    answer = _ask(socket_path, config_path, "maintenance", timeout=30.0, **fields)
    if not answer.get("ok"):
        click.echo(f"maintenance refused: {answer.get('error')}", err=True)
        raise SystemExit(1)
    click.echo(render_maintenance(answer))


@main.command("check-config")
@click.argument("file", type=click.Path(), default=DEFAULT_CONFIG)
def check_config(file: str) -> None:
    """Validate a configuration FILE (default /etc/vipguard/vipguard.toml) without running it.

    Prints a one-line summary when it is valid, and any warnings (valid, but probably not what
    was meant) on stderr; otherwise prints every problem, one per line, on stderr and exits with
    status 2.
    """
    config = _load_or_exit(file)
    for warning in config.warnings:
        click.echo(str(warning), err=True)
    click.echo(f"{file}: OK ({config.summary()})")


@main.command()
@_agent_options
def reload(socket_path: str | None, config_path: str | None) -> None:
    """Make the running agent re-read its configuration file (like SIGHUP).

    Unchanged instances keep their state and VIPs; changed ones are reconfigured in place;
    removed ones hand over gracefully. An invalid file is refused with its problems (exit 2)
    and the running configuration stays.
    """

    answer = _ask(socket_path, config_path, "reload", timeout=30.0)
    if not answer.get("ok"):
        click.echo(f"reload refused: {answer.get('error')}", err=True)
        for problem in answer.get("problems", []):
            click.echo(f"  {problem}", err=True)
        raise SystemExit(2)
    for warning in answer.get("warnings", []):
        click.echo(warning, err=True)
    for key in ("kept", "changed", "added", "removed"):
        click.echo(f"{key:8} {', '.join(answer.get(key, [])) or '-'}")
