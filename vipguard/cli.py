"""The ``vipguard`` command. Heavy modules are imported inside commands so that every command
starts fast."""

from __future__ import annotations

import click

from . import __version__


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
