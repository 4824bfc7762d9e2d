"""The configuration file: TOML, read once into frozen, validated values.

:func:`load` returns a complete :class:`Config` or raises :class:`ConfigError` with every problem
it found, each naming the file, the key path, the line where it can be found and what would be
valid, so an operator fixes a file in one pass. The only I/O is reading the file and the
``secret_file`` keys it names, and looking up the programs and users that trackers and notify
hooks name (a hook that cannot run is a silent failure; better to refuse the file).

The package: ``reader`` (the problem type, typed reads of a table, durations, shared field
readers) and ``locate`` (the line of each key path) serve every section; ``sections`` is the seam
a section plugs into; one module per top-level section (``agent``, ``instances`` with
``addressing``, ``auth`` and ``notify``, ``trackers`` with ``commands``, ``sync_groups``);
``model`` is the whole :class:`Config`. A new top-level section is a module that defines a
:class:`Section` and one entry in :data:`SECTIONS`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .addressing import Vip
from .agent import (
    AGENT,
    DEFAULT_CONTROL_SOCKET,
    DEFAULT_METRICS,
    DEFAULT_STATE_DIR,
    LOG_FORMATS,
    LOG_LEVELS,
    MAX_SOCKET_PATH,
    AgentSettings,
)
from .auth import decode_secret
from .instances import (
    INSTANCES,
    MAX_ANNOUNCE_COUNT,
    MAX_ANNOUNCE_INTERVAL,
    MAX_PREEMPT_DELAY,
    MIN_ANNOUNCE_REFRESH,
    AnnounceSettings,
    InstanceConfig,
)
from .locate import LineIndex
from .model import Config
from .notify import (
    DEFAULT_NOTIFY_TIMEOUT,
    MAX_NOTIFY_TIMEOUT,
    MIN_NOTIFY_TIMEOUT,
    NotifyConfig,
)
from .reader import (
    MAX_INTERFACE_NAME,
    ConfigError,
    Context,
    Problem,
    by_line,
    format_duration,
    parse_duration,
    syntax_problem,
)
from .sections import Document, Read, Section
from .sync_groups import SYNC_GROUPS, SyncGroup
from .trackers import (
    COMM_LENGTH,
    MAX_TRACK_WEIGHT,
    MAX_TRACKER_COUNT,
    MAX_TRACKER_TIME,
    MIN_TRACKER_INTERVAL,
    MIN_TRACKER_TIMEOUT,
    TRACKERS,
    Check,
    FileCheck,
    HttpCheck,
    InterfaceCheck,
    ProcessCheck,
    Rhythm,
    ScriptCheck,
    TcpCheck,
    TrackerConfig,
    TrackRef,
)

# Every top-level section, in the order "valid keys here" lists them. A new section: its module
# defines a Section, and one line here.
SECTIONS: tuple[Section[Any, Any], ...] = (
    AGENT,
    INSTANCES,
    TRACKERS,
    SYNC_GROUPS,
)

DEFAULT_PATH = Path("/etc/vipguard/vipguard.toml")
_LineIndex = LineIndex  # its name when it was private to the single module; the tests use it


def load(path: str | os.PathLike[str] = DEFAULT_PATH) -> Config:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError([Problem(str(path), "", None, f"cannot read: {reason}")]) from None
    except UnicodeDecodeError as error:
        message = f"not UTF-8 text (byte {error.start}); TOML files are UTF-8"
        raise ConfigError([Problem(str(path), "", None, message)]) from None
    return parse(text, path)


def parse(
    text: str,
    path: str | os.PathLike[str] = "vipguard.toml",
    sections: Sequence[Section[Any, Any]] = SECTIONS,
) -> Config:
    """Validate ``text`` as if read from ``path`` (relative ``secret_file`` paths are taken
    relative to ``path``'s directory), with the top-level ``sections``."""
    path = Path(path)
    byte_order_mark = text.startswith(_BOM)
    text = text.removeprefix(_BOM)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([syntax_problem(str(path), str(error), text)]) from None
    context = Context(str(path), path.parent, LineIndex(text), [])
    if byte_order_mark:
        context.warnings.append(Problem(str(path), "", 1, _bom_message(path), warning=True))
    config = _config(Document(context, data, sections), path)
    if config is None or context.problems:
        raise ConfigError(sorted(context.problems, key=by_line))
    return dataclasses.replace(config, warnings=tuple(sorted(context.warnings, key=by_line)))


def _config(document: Document, path: Path) -> Config | None:
    """The Config, if every section could be read without a problem."""
    reads = document.read_all()
    if any(read.value is None for _, read in reads):
        return None
    # Any: each value has its section's type, which the section's attribute of Config declares.
    attributes: dict[str, Any] = {
        section.attribute: read.value for section, read in reads if section.attribute
    }
    others = tuple((section.key, read.value) for section, read in reads if not section.attribute)
    return Config(path, **attributes, sections=others)


# Notepad and other Windows editors start UTF-8 files with U+FEFF. TOML does not allow it, but
# the text is unambiguous: refusing an invisible character would only stop the agent.
_BOM = "\ufeff"


def _bom_message(path: Path) -> str:
    return (
        "the file starts with a UTF-8 byte order mark (the bytes EF BB BF that some Windows"
        " editors add), which TOML does not allow; it was ignored. Remove it:"
        f" sed -i '1s/^\\xEF\\xBB\\xBF//' {path}"
    )


__all__ = [
    "COMM_LENGTH",
    "DEFAULT_CONTROL_SOCKET",
    "DEFAULT_METRICS",
    "DEFAULT_NOTIFY_TIMEOUT",
    "DEFAULT_PATH",
    "DEFAULT_STATE_DIR",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MAX_ANNOUNCE_COUNT",
    "MAX_ANNOUNCE_INTERVAL",
    "MAX_INTERFACE_NAME",
    "MAX_NOTIFY_TIMEOUT",
    "MAX_PREEMPT_DELAY",
    "MAX_SOCKET_PATH",
    "MAX_TRACKER_COUNT",
    "MAX_TRACKER_TIME",
    "MAX_TRACK_WEIGHT",
    "MIN_ANNOUNCE_REFRESH",
    "MIN_NOTIFY_TIMEOUT",
    "MIN_TRACKER_INTERVAL",
    "MIN_TRACKER_TIMEOUT",
    "SECTIONS",
    "AgentSettings",
    "AnnounceSettings",
    "Check",
    "Config",
    "ConfigError",
    "Document",
    "FileCheck",
    "HttpCheck",
    "InstanceConfig",
    "InterfaceCheck",
    "NotifyConfig",
    "Problem",
    "ProcessCheck",
    "Read",
    "Rhythm",
    "ScriptCheck",
    "Section",
    "SyncGroup",
    "TcpCheck",
    "TrackRef",
    "TrackerConfig",
    "Vip",
    "_LineIndex",
    "decode_secret",
    "format_duration",
    "load",
    "parse",
    "parse_duration",
]
