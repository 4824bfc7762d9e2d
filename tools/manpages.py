"""Write the manual pages vipguard(8) and vipguard.toml(5) from the code that defines them.

vipguard(8) walks the click command tree (every command, argument and option with its help
text), vipguard.toml(5) the configuration reference (every section and key with its type,
default and meaning, from ``vipguard.config.reference``). Nothing is written by hand twice: a new
option or key appears in the manual on the next ``make install``. ``make install`` runs this with
the installed venv's Python:

    /opt/vipguard/bin/python tools/manpages.py --out /usr/local/share/man
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from vipguard import __version__
from vipguard.cli import main as cli
from vipguard.config import reference

_FILES = (
    ("/etc/vipguard/vipguard.toml", "the configuration (vipguard.toml(5))"),
    ("/run/vipguard/control.sock", "the control socket of status, events, maintenance, reload"),
    ("/var/lib/vipguard", "durable state: advert sequence numbers, maintenance marks, drain files"),
    ("/etc/systemd/system/vipguard.service", "the hardened systemd unit"),
)
_EXIT_STATUS = (
    ("0", "success; for run, a graceful stop on SIGTERM or SIGINT"),
    ("1", "failure: the agent could not start (what it lacks is logged), or a command failed"),
    ("2", "an invalid configuration or command line; systemd does not restart the unit on it"),
    ("128+N", "run: stopped gracefully by signal N other than TERM and INT"),
)


def escape(text: str) -> str:
    """Text as roff reads it literally: backslashes, and a leading dot or quote on a line."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^(?=[.'])", "\\&", text, flags=re.MULTILINE)


def _header(title: str, section: int, summary: str) -> list[str]:
    # Reproducible builds set SOURCE_DATE_EPOCH; otherwise the page is dated today.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    day = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
        if epoch
        else datetime.datetime.now(datetime.UTC)
    )
    date = day.date().isoformat()
    return [
        f'.TH {title.upper()} {section} "{date}" "vipguard {__version__}" "vipguard"',
        ".SH NAME",
        f"{escape(title)} \\- {escape(summary)}",
    ]


def paragraphs(text: str) -> Iterator[str]:
    """A click help text as roff: blank lines part paragraphs, a ``\\b`` block keeps its lines."""
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and lines[0].strip() == "\b":
            yield ".PP"
            yield ".nf"
            yield from (escape(line) for line in lines[1:])
            yield ".fi"
        else:
            yield ".PP"
            yield escape(" ".join(line.strip() for line in lines))


def _tagged(tag: str, body: str) -> list[str]:
    return [".TP", f"\\fB{escape(tag)}\\fR", escape(body)]


def _usage(name: str, command: click.Command, context: click.Context) -> str:
    pieces = [f"\\fB{escape(name)}\\fR"]
    pieces += [escape(piece) for piece in command.collect_usage_pieces(context)]
    return " ".join(pieces)


def _options(command: click.Command, context: click.Context) -> list[str]:
    lines: list[str] = []
    for param in command.get_params(context):
        if not isinstance(param, click.Option):
            continue  # arguments are in the usage line and the help text
        record = param.get_help_record(context)
        if record is not None:
            lines += _tagged(*record)
    return lines


def _commands(group: click.Group, context: click.Context) -> Iterator[str]:
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=context)
        yield f".SS {escape(name)}"
        yield _usage(f"vipguard {name}", command, sub)
        yield from paragraphs(command.help or "")
        yield from _options(command, sub)


def vipguard_8() -> str:
    context = click.Context(cli, info_name="vipguard", **cli.context_settings)
    lines = _header("vipguard", 8, (cli.help or "").split("\n")[0].rstrip("."))
    lines += [".SH SYNOPSIS", _usage("vipguard", cli, context), ".SH DESCRIPTION"]
    lines += paragraphs(cli.help or "")
    lines += [".SH OPTIONS", *_options(cli, context)]
    lines += [".SH COMMANDS", *_commands(cli, context)]
    lines += [".SH EXIT STATUS", *_table(_EXIT_STATUS)]
    lines += [".SH FILES", *_table(_FILES)]
    lines += [".SH SEE ALSO", "vipguard.toml(5), systemd.service(5), keepalived(8)"]
    return "\n".join(lines) + "\n"


def _table(rows: Iterable[tuple[str, str]]) -> list[str]:
    return [line for tag, body in rows for line in _tagged(tag, body)]


def _key(key: reference.Key) -> list[str]:
    facts = [key.kind]
    if key.default is not None:
        facts.append(f"default {key.default}")
    return _tagged(f"{key.name} ({', '.join(facts)})", key.doc)


def vipguard_toml_5() -> str:
    lines = _header("vipguard.toml", 5, "configuration file of the vipguard agent")
    lines += [".SH DESCRIPTION", *paragraphs(reference.INTRODUCTION)]
    for section in reference.sections():
        lines += [f'.SH "{escape(section.title)}"', *paragraphs(section.doc)]
        for key in section.keys:
            lines += _key(key)
    lines += [".SH EXAMPLE", ".PP", ".nf", escape(reference.EXAMPLE.rstrip()), ".fi"]
    lines += [".SH SEE ALSO", "vipguard(8), keepalived.conf(5)"]
    return "\n".join(lines) + "\n"


PAGES = {"man8/vipguard.8": vipguard_8, "man5/vipguard.toml.5": vipguard_toml_5}


def write(out: Path) -> list[Path]:
    written = []
    for relative, render in PAGES.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render())
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="a man directory: man5/, man8/")
    for path in write(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
