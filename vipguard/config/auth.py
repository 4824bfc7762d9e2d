"""``[instance.auth]``: keepalived's auth_hmac keys (inline or in a ``secret_file``), the
active key, the mode and the anti-replay window."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from ..keyfiles import read_key_file, service_user_problem
from ..proto.auth import (
    MAX_KEY_LENGTH,
    MAX_TIME_WINDOW,
    MIN_KEY_LENGTH,
    AntiReplay,
    AuthConfig,
    AuthKey,
    AuthMode,
    default_time_window,
)
from ..proto.errors import ProtocolUsageError
from .reader import Table, describe, show

_AUTH_KEYS = ("keys", "active_key", "mode", "anti_replay", "time_window")
_KEY_KEYS = ("id", "secret", "secret_file")
_KEY_EXAMPLE = '[{ id = 1, secret = "hex:…" }]'


def read_auth(table: Table, interval_cs: int | None) -> AuthConfig | None:
    section = table.table("auth", _AUTH_KEYS)
    if section is None:
        return None
    keys, ids = _auth_keys(section)
    active = section.integer("active_key", 1, 255, "key ids are 1..255", None)
    if ids and active is not None and active not in ids:
        known = ", ".join(str(key_id) for key_id in ids)
        section.report("active_key", f"{active} names no key (key ids: {known})")
        active = None
    mode = section.choice("mode", [mode.value for mode in AuthMode], AuthMode.ENFORCE.value)
    anti_replay = section.choice("anti_replay", [a.value for a in AntiReplay], "time")
    window = _time_window(section, interval_cs)
    if keys is None or active is None or mode is None or anti_replay is None or window is None:
        return None
    try:
        return AuthConfig(keys, active, AuthMode(mode), AntiReplay(anti_replay), window)
    except ProtocolUsageError as error:
        section.report("keys", str(error))
        return None


def _time_window(section: Table, interval_cs: int | None) -> int | None:
    default = default_time_window(interval_cs or 100)
    seconds = section.duration("time_window", Fraction(default))
    if seconds is None:
        return None
    if seconds.denominator != 1 or not 1 <= seconds <= MAX_TIME_WINDOW:
        shown = show(section.data["time_window"])
        section.report("time_window", f"{shown} is not a whole number of seconds in 1..300")
        return None
    return int(seconds)


def _auth_keys(section: Table) -> tuple[tuple[AuthKey, ...] | None, list[int]]:
    """The keys if all are valid, and every key id that could be read."""
    items = section.need("keys", list, f"an array of keys, like {_KEY_EXAMPLE}")
    if not items:
        if items is not None:
            section.report("keys", f"is empty: give at least one key, like {_KEY_EXAMPLE}")
        return None, []
    keys: list[AuthKey] = []
    ids: list[int] = []
    for index, item in enumerate(items):
        key_id, key = _auth_key(section, f"keys[{index}]", item)
        if key_id is not None and key_id in ids:
            section.report(f"keys[{index}].id", f"key id {key_id} is listed twice")
            continue
        ids += [] if key_id is None else [key_id]
        keys += [] if key is None else [key]
    return (tuple(keys) if len(keys) == len(items) else None), ids


def _auth_key(section: Table, key: str, item: object) -> tuple[int | None, AuthKey | None]:
    if not isinstance(item, dict):
        section.report(key, f"expected a table like {_KEY_EXAMPLE[1:-1]}, got {describe(item)}")
        return None, None
    entry = Table(section.context, section.key(key), item, _KEY_KEYS)
    key_id = entry.integer("id", 1, 255, "key ids are 1..255", None)
    secret = _secret(entry)
    if key_id is None or secret is None:
        return key_id, None
    return key_id, AuthKey(key_id, secret)


def _secret(entry: Table) -> bytes | None:
    """The key bytes from ``secret`` or ``secret_file``; messages never quote a secret."""
    if ("secret" in entry.data) == ("secret_file" in entry.data):
        entry.report("secret", "give exactly one of secret or secret_file")
        return None
    name = "secret" if "secret" in entry.data else "secret_file"
    value = entry.optional(name, str)
    if value is None:
        return None
    try:
        if name == "secret_file":
            value = _read_secret_file(entry, entry.context.base_dir / value)
        return decode_secret(value)
    except ValueError as error:
        entry.report(name, str(error))
        return None


def _read_secret_file(entry: Table, path: Path) -> str:
    text = read_key_file(path)
    problem = service_user_problem(path)
    if problem is not None:
        entry.warn("secret_file", problem)
    return text


def decode_secret(text: str) -> bytes:
    """``hex:<digits>`` or raw ASCII, 32..64 bytes once decoded."""
    if text.startswith("hex:"):
        try:
            secret = bytes.fromhex(text[4:])
        except ValueError:
            raise ValueError("'hex:' must be followed by pairs of hex digits") from None
    elif text.isascii():
        secret = text.encode("ascii")
    else:
        raise ValueError("a raw secret must be ASCII; write other bytes as hex:<digits>")
    if not MIN_KEY_LENGTH <= len(secret) <= MAX_KEY_LENGTH:
        size = f"{len(secret)} byte{'' if len(secret) == 1 else 's'}"
        raise ValueError(
            f"the key is {size}; keys are 32..64 bytes (64..128 digits after 'hex:'); "
            "make one with: openssl rand -hex 32"
        )
    return secret
