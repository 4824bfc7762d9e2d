"""The ``vipguard`` command. Heavy modules are imported inside commands so that every command
starts fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from . import __version__

if TYPE_CHECKING:
    from .config import Config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vipguard")
def main() -> None:
    """High-availability agent for Linux load balancers (VRRP-compatible VIP failover)."""


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
@click.option("--demo", is_flag=True, help="Run the scripted two-router failover and explain it.")
def simulate(seeds: int, first: int, seed: int | None, demo: bool) -> None:
    """Run the protocol core in virtual time, without a network.

    Random schedules of crashes, restarts, partitions, loss and priority changes are checked
    against the protocol's invariants; a failing seed prints its timeline.
    """
    from . import sim

    if demo:
        raise SystemExit(sim.demo())
    argv = ["--seeds", str(seeds), "--first", str(first)]
    if seed is not None:
        argv = ["--seed", str(seed)]
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
    default="info",
    show_default=True,
)
def run(config_path: str, log_level: str) -> None:
    """Run the agent in the foreground (systemd starts it like this).

    Refuses to start on an invalid configuration, listing every problem. SIGTERM or SIGINT stop
    it gracefully: masters advertise priority 0 and release their VIPs.
    """
    import asyncio
    import logging

    from .agent import logs
    from .agent.runtime import Agent, StartupError

    config = _load_or_exit(config_path)
    logs.setup(config.agent.log_format, getattr(logging, log_level.upper()))

    async def serve() -> int:
        agent = Agent(config)
        agent.install_signal_handlers()
        return await agent.run()

    try:
        status = asyncio.run(serve())
    except StartupError as error:
        logs.event("startup_failed", logging.ERROR, error=str(error))
        raise SystemExit(1) from None
    raise SystemExit(status)


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
    socket_path: str | None, config_path: str | None, command: str, timeout: float = 3.0
) -> dict[str, Any]:
    """The running agent's answer to ``command``; a clear message (no traceback) without one."""
    from pathlib import Path

    from .control_client import AgentUnavailable, request

    path = Path(_control_socket(socket_path, config_path))
    try:
        return request(path, command, timeout=timeout)
    except AgentUnavailable as error:
        raise click.ClickException(str(error)) from None


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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer (for scripts).")
@click.option("--socket", "socket_path", type=click.Path(), help="The agent's control socket.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Find the control socket in this configuration file.",
)
def status(as_json: bool, socket_path: str | None, config_path: str | None) -> None:
    """Show each instance: state, priority, VIPs, master, timers, last transition, counters."""
    import json

    from .status_view import render

    answer = _ask(socket_path, config_path, "status")
    if not answer.get("ok"):
        raise click.ClickException(f"the agent refused: {answer.get('error')}")
    click.echo(json.dumps(answer, indent=2) if as_json else render(answer))


@main.command("check-config")
@click.argument("file", type=click.Path(), default=DEFAULT_CONFIG)
def check_config(file: str) -> None:
    """Validate a configuration FILE (default /etc/vipguard/vipguard.toml) without running it.

    Prints a one-line summary when it is valid; otherwise prints every problem, one per line, on
    stderr and exits with status 2.
    """
    config = _load_or_exit(file)
    click.echo(f"{file}: OK ({config.summary()})")


@main.command()
@click.option("--socket", "socket_path", type=click.Path(), help="The agent's control socket.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Find the control socket in this configuration file.",
)
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
    for key in ("kept", "changed", "added", "removed"):
        click.echo(f"{key:8} {', '.join(answer.get(key, [])) or '-'}")
