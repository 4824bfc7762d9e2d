"""Log lines journald understands: syslog priority prefixes when stderr is the journal, RFC 3339
timestamps in JSON lines, the level from `[agent] log_level` or `run --log-level`."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

from vipguard.agent import logs
from vipguard.cli import main
from vipguard.config import ConfigError, parse

LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]


@pytest.fixture
def stderr_file(tmp_path: Path) -> Iterator[IO[str]]:
    with (tmp_path / "stderr").open("w+") as stream:
        yield stream
    logs.setup("text")  # back to the real stderr for the other tests


def _journal_of(stream: IO[str]) -> dict[str, str]:
    status = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}


def _emit_each_level(stream: IO[str], log_format: str, environ: dict[str, str]) -> list[str]:
    logs.setup(log_format, logging.DEBUG, stream=stream, environ=environ)
    for level in LEVELS:
        logs.event("tick", level, n=level)
    stream.flush()
    stream.seek(0)
    return stream.read().splitlines()


def test_lines_to_the_journal_carry_syslog_priorities(stderr_file: IO[str]) -> None:
    lines = _emit_each_level(stderr_file, "text", _journal_of(stderr_file))
    assert lines == [
        "<7>level=debug event=tick n=10",
        "<6>level=info event=tick n=20",
        "<4>level=warning event=tick n=30",
        "<3>level=error event=tick n=40",
        "<2>level=critical event=tick n=50",
    ]


@pytest.mark.parametrize(
    "environ",
    [{}, {"JOURNAL_STREAM": "8:12345"}, {"JOURNAL_STREAM": "junk"}, {"JOURNAL_STREAM": ""}],
    ids=["unset", "another-stream", "junk", "empty"],
)
def test_lines_elsewhere_are_plain(stderr_file: IO[str], environ: dict[str, str]) -> None:
    lines = _emit_each_level(stderr_file, "text", environ)
    assert lines[1] == "level=info event=tick n=20"
    assert not any(line.startswith("<") for line in lines)


def test_a_journal_stream_inherited_by_a_redirected_stderr_is_not_the_journal(
    stderr_file: IO[str], tmp_path: Path
) -> None:
    with (tmp_path / "other").open("w") as other:
        lines = _emit_each_level(stderr_file, "text", _journal_of(other))
    assert lines[0] == "level=debug event=tick n=10"


RFC3339_MS_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.mark.parametrize("journal", [False, True])
def test_json_lines_carry_an_rfc3339_utc_timestamp_with_milliseconds(
    stderr_file: IO[str], journal: bool
) -> None:
    before = datetime.now(UTC)
    lines = _emit_each_level(stderr_file, "json", _journal_of(stderr_file) if journal else {})
    after = datetime.now(UTC)
    assert lines[2].startswith("<4>{" if journal else "{")
    entry = json.loads(lines[2].removeprefix("<4>"))
    assert list(entry) == ["time", "level", "event", "n"]
    assert RFC3339_MS_UTC.fullmatch(entry["time"]), entry
    stamp = datetime.fromisoformat(entry["time"])
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= stamp <= after
    assert entry["level"] == "warning" and entry["event"] == "tick"


def test_debug_is_a_cheap_check_at_info(stderr_file: IO[str]) -> None:
    logs.setup("text", logging.INFO, stream=stderr_file, environ={})
    assert not logs.debugging()
    logs.setup("text", logging.DEBUG, stream=stderr_file, environ={})
    assert logs.debugging()


# ------------------------------------------------------------------ the level's configuration

INSTANCE = '[[instance]]\nname = "web"\ninterface = "eth0"\nvrid = 51\nvips = ["192.0.2.100/24"]\n'


def test_log_level_is_an_agent_setting_that_defaults_to_info() -> None:
    assert parse(INSTANCE, "v.toml").agent.log_level == "info"
    text = '[agent]\nlog_level = "debug"\n' + INSTANCE
    assert parse(text, "v.toml").agent.log_level == "debug"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"verbose"', "'verbose' is not one of debug, info, warning, error"),
        ('"debgu"', "'debgu' is not one of debug, info, warning, error; did you mean 'debug'?"),
        ("7", "expected a string, got the integer 7"),
    ],
)
def test_a_bad_log_level_is_refused_with_the_valid_ones(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(f"[agent]\nlog_level = {value}\n" + INSTANCE, "v.toml")
    (problem,) = raised.value.problems
    assert "agent.log_level" in str(problem) and message in str(problem), problem


def test_run_explains_log_level() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert "--log-level [debug|info|warning|error]" in result.output
    assert "overrides [agent] log_level" in " ".join(result.output.split())


def _run_agent(tmp_path: Path, config_level: str | None, *options: str) -> str:
    """`vipguard run` on an interface that does not exist: it logs its start, then refuses.
    As root it runs in a network namespace of its own (nothing of the host's is looked at)."""
    level = f'log_level = "{config_level}"\n' if config_level else ""
    config = tmp_path / "v.toml"
    config.write_text(
        textwrap.dedent(f"""\
        [agent]
        control_socket = "{tmp_path / "c.sock"}"
        state_dir = "{tmp_path / "state"}"
        metrics = ""
        """)
        + level
        + INSTANCE.replace('"eth0"', '"vgnone0"')
    )
    argv = [sys.executable, "-m", "vipguard", "run", "--config", str(config), *options]
    if os.geteuid() == 0 and shutil.which("unshare"):
        argv = ["unshare", "--net", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1, done.stderr
    assert "event=startup_failed" in done.stderr and "Traceback" not in done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("config_level", "options", "debug"),
    [
        (None, (), False),
        ("debug", (), True),
        ("debug", ("--log-level", "info"), False),
        ("info", ("--log-level", "debug"), True),
        ("error", (), False),
    ],
)
def test_the_command_line_level_overrides_the_configured_one(
    tmp_path: Path, config_level: str | None, options: tuple[str, ...], debug: bool
) -> None:
    log = _run_agent(tmp_path, config_level, *options)
    assert ("level=debug event=agent_starting" in log) == debug, log
    assert ("level=info event=agent_stopped" in log) == (config_level != "error" or debug), log
