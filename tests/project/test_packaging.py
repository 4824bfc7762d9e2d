"""Install like an operator and like a packager: `make install` gives a working command that
needs nothing from the checkout; `make install DESTDIR=...` stages a tree that runs once moved to
/ (checked by mounting it there in a private mount namespace); the manual pages, completions,
licence and pinned dependencies come with it; the systemd unit verifies and is hardened to an
exposure of 2.5 or less."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from prerequisites import need, need_root

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "vipguard.service"
STAGED_PATHS = ("opt/vipguard", "usr/local/bin", "usr/local/share")
UNIT_PATH = "etc/systemd/system/vipguard.service"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    destdir = tmp_path_factory.mktemp("destdir")
    subprocess.run(
        ["make", "-C", str(ROOT), "install", f"DESTDIR={destdir}"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return destdir


def test_unit_exposure_is_at_most_2_5() -> None:
    analyze = need("systemd-analyze", "systemd")
    out = subprocess.run(
        [analyze, "security", "--offline=true", str(UNIT)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    match = re.search(r"Overall exposure level for vipguard.service: (\d+\.\d)", out)
    assert match, out[-500:]
    assert float(match.group(1)) <= 2.5


def test_the_installed_unit_verifies(installed: Path, moved: Path) -> None:
    """As installed: its ExecStart and ExecReload programs and Documentation= pages exist."""
    analyze = need("systemd-analyze", "systemd")
    need("man", "man-db")
    run = in_place(moved, installed, f"{analyze} verify {moved / UNIT_PATH}")
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


def installed_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def test_no_staged_file_names_the_staging_tree_or_the_checkout(installed: Path) -> None:
    """Shebangs, activate scripts, pyvenv.cfg, bytecode and pip's records: all name /opt."""
    needles = (os.fsencode(installed), os.fsencode(ROOT))
    offenders = [
        str(path.relative_to(installed))
        for path in installed_files(installed)
        if any(needle in path.read_bytes() for needle in needles)
    ]
    assert offenders == []
    shebang = (installed / "opt/vipguard/bin/vipguard").read_text().splitlines()[0]
    assert shebang == "#!/opt/vipguard/bin/python"
    assert stale_record_rows(installed) == []


def stale_record_rows(root: Path) -> list[str]:
    """RECORD rows whose file is gone or whose hash no longer matches (pip checks them)."""
    stale = []
    for record in root.glob("opt/vipguard/lib/python3.*/site-packages/*.dist-info/RECORD"):
        for name, digest, _ in csv.reader(record.read_text().splitlines()):
            path = record.parent.parent / name
            if digest and (not path.exists() or digest != file_digest(path)):
                stale.append(name)
    return stale


def file_digest(path: Path) -> str:
    raw = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def in_place(tree: Path, hidden: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a private mount namespace where ``tree``'s /opt/vipguard and
    /usr/local/{bin,share} are mounted over the host's, and ``hidden`` is an empty directory."""
    mounts = [f"mount -t tmpfs vipguard-test {hidden}", "mount -t tmpfs vipguard-test /opt"]
    mounts.append("mkdir /opt/vipguard")
    mounts += [f"mount --bind {tree / path} /{path}" for path in STAGED_PATHS]
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-ec"]
    argv.append(" && ".join([*mounts, script]))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    run = subprocess.run  # from /, so that nothing of the checkout is on the path
    return run(argv, capture_output=True, text=True, timeout=60, env=env, cwd="/", check=False)


@pytest.fixture(scope="module")
def moved(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the staged tree somewhere else, as a package manager would unpack it."""
    need_root()
    need("unshare", "util-linux")
    copy = tmp_path_factory.mktemp("unpacked") / "root"
    shutil.copytree(installed, copy, symlinks=True)
    return copy


def test_the_staged_tree_runs_once_moved_to_its_place(installed: Path, moved: Path) -> None:
    code = "import vipguard.cli; print(vipguard.cli.main.callback.__code__.co_filename)"
    example = moved / "etc/vipguard/vipguard.toml.example"
    script = "; ".join(
        [
            "vipguard --version",
            f"vipguard check-config {example}",
            f"/opt/vipguard/bin/python -c '{code}'",
            ". /opt/vipguard/bin/activate && echo $VIRTUAL_ENV",
        ]
    )
    run = in_place(moved, installed, script)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "vipguard, version 0.1.0"
    assert "OK (1 instance: web@eth0 vrid 51)" in lines[1]
    assert re.fullmatch(r"/opt/vipguard/lib/python3\.\d+/site-packages/vipguard/cli\.py", lines[2])
    assert lines[3] == "/opt/vipguard"
    assert (moved / "usr/local/bin/vipguard").readlink() == Path("/opt/vipguard/bin/vipguard")
    assert (moved / UNIT_PATH).read_text() == UNIT.read_text()


def test_the_manual_pages_render_without_warnings_and_cover_every_command_and_key(
    installed: Path,
) -> None:
    from vipguard.cli import main
    from vipguard.config.reference import sections

    groff = need("groff", "groff-base")
    pages = {}
    for page in ("man8/vipguard.8", "man5/vipguard.toml.5"):
        path = installed / "usr/local/share/man" / page
        argv = [groff, "-ww", "-z", "-man", "-Tutf8", str(path)]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0 and run.stderr == "", run.stderr
        pages[page] = path.read_text().replace("\\-", "-")
    for name, command in main.commands.items():
        assert f".SS {name}" in pages["man8/vipguard.8"]
        options = [
            opt
            for param in command.params
            if param.param_type_name == "option"
            for opt in param.opts
        ]
        for option in options:
            assert option in pages["man8/vipguard.8"], (name, option)
    for section in sections():
        for key in section.keys:
            assert f"\\fB{key.name} (" in pages["man5/vipguard.toml.5"], (section.path, key.name)


def test_man_finds_the_pages_the_unit_documents_once_moved(installed: Path, moved: Path) -> None:
    need("man", "man-db")
    line = next(x for x in UNIT.read_text().splitlines() if x.startswith("Documentation="))
    pages = re.findall(r"man:([\w.]+)\((\d)\)", line)
    assert pages == [("vipguard", "8"), ("vipguard.toml", "5")]
    script = "; ".join(f"readlink -f $(man -w {section} {name})" for name, section in pages)
    run = in_place(moved, installed, script)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [
        "/usr/local/share/man/man8/vipguard.8",
        "/usr/local/share/man/man5/vipguard.toml.5",
    ]


def test_bash_completes_commands_and_options_once_moved(installed: Path, moved: Path) -> None:
    need("bash", "bash")
    complete = "COMP_WORDS=(vipguard {words}); COMP_CWORD={cword}; COMPREPLY=(); "
    complete += "_vipguard_completion vipguard; echo ${{COMPREPLY[*]}}"
    probes = [complete.format(words="st", cword=1), complete.format(words="status --j", cword=2)]
    source = ". /usr/local/share/bash-completion/completions/vipguard"
    run = in_place(moved, installed, f"bash -c '{source}; {'; '.join(probes)}'")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["status", "--json"]
    for other in ("zsh/site-functions/_vipguard", "fish/vendor_completions.d/vipguard.fish"):
        assert "_VIPGUARD_COMPLETE" in (installed / "usr/local/share" / other).read_text()


def test_the_unit_does_not_retry_a_bad_configuration(
    installed: Path, moved: Path, tmp_path: Path
) -> None:
    """systemd applies RestartPreventExitStatus= to the main process only, so the file is
    checked by the unit's ExecStart (`run`, exit status 2), not by an ExecStartPre."""
    lines = UNIT.read_text().splitlines()
    directives = dict(line.split("=", 1) for line in lines if re.match(r"\w+=", line))
    assert directives["RestartPreventExitStatus"] == "2"
    assert "ExecStartPre" not in directives
    bad = tmp_path / "vipguard.toml"
    bad.write_text('[[instance]]\nname = "web"\ninterface = "lo"\nvrid = 300\n')
    start = directives["ExecStart"].replace("/etc/vipguard/vipguard.toml", str(bad))
    run = in_place(moved, installed, start)
    assert run.returncode == 2, run.stderr
    assert f"{bad}:4: instance[0].vrid: 300 is outside 1..255" in run.stderr


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonical(name): version for name, version in pairs}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_constraints_pin_every_requirement_within_what_pyproject_allows() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pinned = pins()
    for text in [*project["dependencies"], *extras["test"], *extras["lint"]]:
        requirement = Requirement(text)
        version = pinned.get(canonical(requirement.name))
        assert version is not None, f"{requirement.name} is not in constraints.txt"
        assert requirement.specifier.contains(version), (text, version)


def test_make_install_installs_the_modules_of_the_checkout_and_no_other(installed: Path) -> None:
    site = next((installed / "opt/vipguard/lib").glob("python3.*/site-packages"))
    got = sorted(str(p.relative_to(site)) for p in (site / "vipguard").rglob("*.py"))
    want = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "vipguard").rglob("*.py"))
    assert got == want


def test_make_install_installs_exactly_the_pinned_versions(installed: Path) -> None:
    python = installed / "opt/vipguard/bin/python"
    argv = [str(python), "-m", "pip", "list", "--format=freeze", "--exclude", "pip"]
    listing = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    got = {canonical(n): v for n, v in (line.split("==") for line in listing.splitlines())}
    for tool in ("vipguard", "setuptools"):  # ours, and the venv's own installer
        got.pop(tool, None)
    pinned = pins()
    assert {name: pinned.get(name) for name in got} == got


def test_the_licence_matches_pyproject_and_ships_in_the_metadata(installed: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (project["license"], project["license-files"]) == ("Apache-2.0", ["LICENSE"])
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    site = next((installed / "opt/vipguard/lib").glob("python3.*/site-packages"))
    info = next(site.glob("vipguard-*.dist-info"))
    assert (info / "licenses" / "LICENSE").read_text() == text
    metadata = (info / "METADATA").read_text()
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata


def test_uninstall_removes_what_install_added_and_keeps_the_config_dir(installed: Path) -> None:
    subprocess.run(
        ["make", "-C", str(ROOT), "uninstall", f"DESTDIR={installed}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    left = sorted(str(p.relative_to(installed)) for p in installed.rglob("*") if p.is_file())
    assert left == []
    assert (installed / "etc/vipguard").is_dir()


# `make install` as root for real, in a private mount namespace where /etc is an overlay and
# /opt and /usr/local are empty: the host's files, users and groups are never touched (set -e
# stops the script before make runs if a mount fails).
REAL_INSTALL = """
set -e
mount -t tmpfs vipguard-test {work}
mkdir {work}/upper {work}/scratch
mount -t overlay vipguard-test -o lowerdir=/etc,upperdir={work}/upper,workdir={work}/scratch /etc
mount -t tmpfs vipguard-test /opt
mount -t tmpfs vipguard-test /usr/local
make -C {root} install >/dev/null
getent passwd vipguard | cut -d: -f6,7
stat -c '%U:%G %a' /etc/vipguard /etc/vipguard/vipguard.toml.example
vipguard check-config /etc/vipguard/vipguard.toml.example
man -w vipguard.toml
make -C {root} uninstall >/dev/null
getent passwd vipguard || echo no vipguard user
find /opt /usr/local -type f | wc -l
"""


def test_make_install_as_root_then_uninstall(tmp_path: Path) -> None:
    need_root()
    need("unshare", "util-linux")
    script = REAL_INSTALL.format(work=tmp_path, root=ROOT)
    run = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "/var/lib/vipguard:/usr/sbin/nologin",
        "root:vipguard 750",
        "root:vipguard 640",
        "/etc/vipguard/vipguard.toml.example: OK (1 instance: web@eth0 vrid 51)",
        "/usr/local/share/man/man5/vipguard.toml.5",
        "no vipguard user",
        "0",
    ]
