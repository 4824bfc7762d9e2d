"""Make a venv built in a staging tree run from its final place.

``make install DESTDIR=/stage`` builds the venv at ``/stage/opt/vipguard``; a package manager
then copies the tree to ``/opt/vipguard``. A venv names its own path in its scripts' shebangs, in
``activate*`` and ``pyvenv.cfg``, and compiled bytecode names the source files it came from;
pip also records the checkout it installed from (``direct_url.json``). This rewrites the text
files, recompiles the bytecode as if it lived at the final path, drops the checkout's record and
keeps each distribution's RECORD hashes true, so no file of the tree names the staging path or
the checkout. With the final path equal to the staging path only the last two steps matter.

Run it with the venv's own Python, so that the bytecode matches the interpreter that will load it:
``STAGED/bin/python tools/relocate_venv.py STAGED FINAL``.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import csv
import hashlib
from pathlib import Path

# Text files that pip and venv write with the venv's absolute path in them.
_TEXT_PLACES = ("bin/*", "pyvenv.cfg")


def rewrite_text(staged: Path, final: str) -> list[Path]:
    """Replace the staging path with the final one in scripts and pyvenv.cfg; the files changed."""
    old, new = str(staged).encode(), final.encode()
    changed = []
    for pattern in _TEXT_PLACES:
        for path in sorted(staged.glob(pattern)):
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if b"\0" in data or old not in data:
                continue
            path.write_bytes(data.replace(old, new))
            changed.append(path)
    return changed


def drop_direct_urls(staged: Path) -> list[Path]:
    """Remove pip's note of where each distribution was installed from (the build checkout)."""
    notes = sorted(staged.glob("lib/python*/site-packages/*.dist-info/direct_url.json"))
    for note in notes:
        note.unlink()
    return notes


def _digest(path: Path) -> str:
    raw = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _refreshed(row: list[str], path: Path) -> list[str]:
    """A RECORD row for a file that changed: its new hash and size, if the row had any."""
    return [row[0], _digest(path), str(path.stat().st_size)] if row[1] else row


def refresh_records(staged: Path, touched: list[Path]) -> None:
    """Rewrite RECORD rows of changed files and drop rows of removed ones."""
    touched_set = {path.resolve() for path in touched}
    for record in staged.glob("lib/python*/site-packages/*.dist-info/RECORD"):
        site = record.parent.parent
        with record.open(newline="") as stream:
            rows = list(csv.reader(stream))
        kept = []
        for row in rows:
            path = (site / row[0]).resolve()
            if path not in touched_set:
                kept.append(row)
            elif path.exists():
                kept.append(_refreshed(row, path))
        if kept != rows:
            with record.open("w", newline="") as stream:
                csv.writer(stream, lineterminator="\n").writerows(kept)


def recompile(staged: Path, final: str) -> None:
    """Compile every module so that tracebacks and ``__file__`` of cached code name FINAL."""
    ok = compileall.compile_dir(
        staged / "lib",
        quiet=1,
        force=True,
        stripdir=str(staged),
        prependdir=final,
        workers=0,
    )
    if not ok:
        raise SystemExit(f"compiling the modules under {staged / 'lib'} failed")


def relocate(staged: Path, final: str) -> None:
    touched = rewrite_text(staged, final) + drop_direct_urls(staged)
    refresh_records(staged, touched)
    recompile(staged, final)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("staged", type=Path, help="where the venv is now, e.g. /stage/opt/vipguard")
    parser.add_argument("final", help="where it will run, e.g. /opt/vipguard")
    arguments = parser.parse_args()
    relocate(arguments.staged.absolute(), arguments.final)


if __name__ == "__main__":
    main()
