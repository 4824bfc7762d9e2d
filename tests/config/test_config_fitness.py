"""Node fitness in the configuration: [[tracker]] tables, an instance's track references and
notify hooks, and [[sync_group]] tables. Every rule reports the right key, line and message."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from ipaddress import IPv6Address
from pathlib import Path

import pytest
from test_config import EXAMPLES, INSTANCE, assert_problem, config, line_of, only, problems

from vipguard.config import (
    FileCheck,
    HttpCheck,
    InterfaceCheck,
    NotifyConfig,
    ProcessCheck,
    Rhythm,
    ScriptCheck,
    SyncGroup,
    TcpCheck,
    TrackerConfig,
    TrackRef,
    load,
)

KINDS = "a tracker checks exactly one of: interface, file, script, tcp, http, process, pidfile"
WEIGHTS = "0: Fault while the tracker is down; others move the priority"
NO_SUCH_PROGRAM = "vipguard-test-no-such-program"
NOT_TCP = 'is not an IP address and port such as "127.0.0.1:8080" or "[::1]:8080"'
URL = "'http://127.0.0.1:8080/healthz'"
HTTP_ONLY = f"give an http:// or https:// URL like {URL}"
COMMAND = '["/usr/local/bin/check-proxy", "--quick"]'
EMPTY_COMMAND = f"is empty: give the program and its arguments, like {COMMAND}"


@pytest.fixture
def program(tmp_path: Path) -> Callable[..., Path]:
    """Makes a script in tmp_path: executable unless ``mode`` says otherwise."""

    def make(name: str = "check", mode: int = 0o755) -> Path:
        path = tmp_path / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(mode)
        return path

    return make


def instance(name: str, vrid: int, extra: str = "") -> str:
    vips = f'vips = ["192.0.2.{vrid}/24"]'
    return f'[[instance]]\nname = "{name}"\ninterface = "eth0"\nvrid = {vrid}\n{vips}\n{extra}'


def tracker(body: str, name: str = "t") -> str:
    return f'[[tracker]]\nname = "{name}"\n{body}\n'


def with_tracker(body: str) -> str:
    """INSTANCE and one tracker named "t" with ``body``."""
    return INSTANCE + tracker(body)


# --------------------------------------------------------------------------- a valid file


def full_example(check: Path, notify: Path) -> str:
    # Trackers come after the instances: references are resolved once all trackers are read.
    return (
        instance(
            "front",
            51,
            'track = ["proxy", { tracker = "uplink", weight = -50 }, { tracker = "drain" },'
            ' "check", "api"]\n'
            "[instance.notify]\n"
            f'master = ["{notify}", "master"]\n'
            f"any = \"{shlex.quote(str(notify))} 'any state'\"\n"
            'timeout = "2s"\n',
        )
        + instance("back", 52, 'track = ["proxy"]\n')
        + '[[sync_group]]\nname = "lb"\ninstances = ["front", "back"]\n'
        + tracker(
            'http = "https://127.0.0.1:8443"\nexpect_status = [200, 204]\nverify_tls = false\n'
            'interval = "250ms"',
            "proxy",
        )
        + tracker('interface = "eth1"\nweight = -10', "uplink")
        + tracker('file = "/run/vipguard/drain"\nweight = -100', "drain")
        + tracker(
            f'script = "{check} --quick \'a b\'"\nuser = "nobody"\n'
            'interval = "5s"\nrise = 1\nfall = 5',
            "check",
        )
        + tracker('tcp = "[::1]:8080"\ninterval = "2s"\ntimeout = "3s"\nweight = 20', "api")
    )


def test_a_full_example(program: Callable[..., Path]) -> None:
    check, notify = program("check"), program("notify")
    loaded = config(full_example(check, notify))
    assert loaded.trackers == (
        TrackerConfig(
            "proxy",
            HttpCheck("https://127.0.0.1:8443/", (200, 204), verify_tls=False),
            Rhythm(interval=0.25, timeout=0.25, rise=2, fall=3),
        ),
        TrackerConfig("uplink", InterfaceCheck("eth1"), Rhythm(1.0, 1.0, 2, 3), -10),
        TrackerConfig("drain", FileCheck(Path("/run/vipguard/drain")), Rhythm(), -100),
        TrackerConfig(
            "check",
            ScriptCheck((str(check), "--quick", "a b"), user="nobody"),
            Rhythm(interval=5.0, timeout=1.0, rise=1, fall=5),
        ),
        TrackerConfig("api", TcpCheck(IPv6Address("::1"), 8080), Rhythm(2.0, 3.0, 2, 3), 20),
    )
    front, back = loaded.instances
    assert front.track == (
        TrackRef("proxy", 0),
        TrackRef("uplink", -50),
        TrackRef("drain", -100),
        TrackRef("check", 0),
        TrackRef("api", 20),
    )
    assert back.track == (TrackRef("proxy", 0),)
    assert (front.notify, back.notify) == (
        NotifyConfig(
            (("master", (str(notify), "master")), ("any", (str(notify), "any state"))), 2.0
        ),
        None,
    )
    assert loaded.sync_groups == (SyncGroup("lb", ("front", "back")),)
    assert loaded.sync_group_of("back") == loaded.sync_groups[0]
    assert loaded.tracker("api").check == TcpCheck(IPv6Address("::1"), 8080)


def test_notify_runs_the_state_command_then_any(program: Callable[..., Path]) -> None:
    notify = program("notify")
    notify_table = "[instance.notify]\n" + "".join(
        f'{key} = ["{notify}", "{key}"]\n' for key in ("any", "fault", "master")
    )
    (web,) = config(instance("web", 51, notify_table)).instances
    assert web.notify is not None
    assert web.notify.timeout == 10.0
    assert web.notify.for_state("master") == ((str(notify), "master"), (str(notify), "any"))
    assert web.notify.for_state("backup") == ((str(notify), "any"),)


def test_defaults_without_fitness() -> None:
    loaded = config(INSTANCE)
    assert (loaded.trackers, loaded.sync_groups) == ((), ())
    assert (loaded.instances[0].track, loaded.instances[0].notify) == ((), None)


@pytest.mark.parametrize(
    ("interval", "timeout"), [('"10ms"', 0.01), ('"999ms"', 0.999), ('"1s"', 1.0), ("60", 1.0)]
)
def test_the_default_timeout_is_the_interval_up_to_1s(interval: str, timeout: float) -> None:
    text = with_tracker(f'interface = "eth0"\ninterval = {interval}')
    assert config(text).trackers[0].rhythm.timeout == timeout


def test_an_http_url_keeps_its_path_and_query() -> None:
    text = with_tracker('http = "http://[::1]:8080/health?full=1"')
    assert config(text).trackers[0].check == HttpCheck("http://[::1]:8080/health?full=1")


@pytest.mark.parametrize(
    ("line", "missing"), [("", 0), ("missing = 3", 3), ('missing = "down"', None)]
)
def test_what_a_missing_file_reads_as(line: str, missing: int | None) -> None:
    text = with_tracker(f'file = "/var/lib/vipguard/drain"\n{line}')
    assert config(text).trackers[0].check == FileCheck(Path("/var/lib/vipguard/drain"), missing)


@pytest.mark.parametrize(
    ("line", "check"),
    [
        ('process = "haproxy"', ProcessCheck(name="haproxy")),
        ('pidfile = "/run/haproxy.pid"', ProcessCheck(pidfile=Path("/run/haproxy.pid"))),
    ],
)
def test_a_process_tracker_by_name_or_by_pidfile(line: str, check: ProcessCheck) -> None:
    assert config(with_tracker(line)).trackers[0].check == check


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'process = "/usr/sbin/haproxy"',
            "'/usr/sbin/haproxy' is a path; give the process name as /proc/PID/comm shows it,"
            " like 'haproxy' (or track its pidfile)",
        ),
        (
            'process = "haproxy-ingress-controller"',
            "'haproxy-ingress-controller' is longer than the 15 characters the kernel keeps of"
            " a process name (/proc/PID/comm): write 'haproxy-ingress'",
        ),
        ('process = ""', "is empty: give the process name, like 'haproxy'"),
        (
            'pidfile = "haproxy.pid"',
            "'haproxy.pid' is relative; write an absolute path (like '/run/haproxy.pid')",
        ),
    ],
)
def test_bad_process_trackers(line: str, message: str) -> None:
    text = with_tracker(line)
    key = line.partition(" = ")[0]
    assert_problem(only(text), f"tracker[0].{key}", line_of(text, line), message)


def test_missing_is_an_integer_or_down() -> None:
    text = with_tracker('file = "/var/lib/vipguard/drain"\nmissing = "up"')
    message = (
        "'up' is not a value for a missing file: give an integer (it reads as that"
        ' number; default 0) or "down" (a missing file is a failed check)'
    )
    assert_problem(only(text), "tracker[0].missing", line_of(text, "missing ="), message)


def test_missing_is_for_file_trackers_only() -> None:
    text = with_tracker('tcp = "127.0.0.1:80"\nmissing = 0')
    message = "applies to file trackers only; this tracker checks tcp"
    assert_problem(only(text), "tracker[0].missing", line_of(text, "missing ="), message)


VOLATILE = ("/run", "/var/run", "/tmp", "/dev/shm")  # emptied by a stop of the unit or a reboot


def test_the_examples_keep_operator_files_where_a_restart_leaves_them() -> None:
    """A drain file in /run/vipguard (the unit's RuntimeDirectory) is deleted by every
    `systemctl stop`, so a restart would undo the drain."""
    for path in sorted(EXAMPLES.rglob("*.toml")):
        for tracker in load(path).trackers:
            if isinstance(tracker.check, FileCheck):
                where = tracker.check.path
                assert not any(where.is_relative_to(v) for v in VOLATILE), (path, where)
                assert where.is_relative_to("/var/lib/vipguard"), (path, where)  # StateDirectory
    example = (EXAMPLES / "fitness.toml").read_text()
    assert "/run/vipguard/drain" not in example
    assert "survives" in example  # the example says why the file lives there


def test_the_fitness_example() -> None:
    loaded = load(EXAMPLES / "fitness.toml")
    kinds = {tracker.name: type(tracker.check) for tracker in loaded.trackers}
    assert kinds == {
        "proxy": HttpCheck,
        "uplink": InterfaceCheck,
        "drain": FileCheck,
        "conntrack": ScriptCheck,
        "haproxy": ProcessCheck,
    }
    assert [tracker.weight for tracker in loaded.trackers] == [0, -50, -100, -20, 0]
    front, back = loaded.instances
    assert TrackRef("conntrack", -40) in front.track
    assert TrackRef("conntrack", -20) in back.track
    assert front.notify is not None and front.notify.for_state("master")
    assert loaded.sync_groups == (SyncGroup("lb", ("front", "back")),)


# --------------------------------------------------------------------------- track references


def test_an_unknown_tracker_suggests_the_close_one() -> None:
    text = INSTANCE + 'track = ["proxi"]\n' + tracker('interface = "eth1"', "proxy")
    text += tracker('interface = "eth2"', "uplink")
    assert_problem(
        only(text),
        "instance[0].track[0]",
        line_of(text, "track ="),
        "'proxi' names no [[tracker]]; did you mean 'proxy'? (trackers: proxy, uplink)",
    )


def test_an_unknown_tracker_in_a_table_lists_the_trackers() -> None:
    text = INSTANCE + 'track = [{ tracker = "nginx", weight = 5 }]\n'
    text += tracker('interface = "eth1"', "proxy")
    assert_problem(
        only(text),
        "instance[0].track[0].tracker",
        line_of(text, "track ="),
        "'nginx' names no [[tracker]] (trackers: proxy)",
    )


def test_a_tracker_reference_without_trackers() -> None:
    text = INSTANCE + 'track = ["proxy"]\n'
    assert_problem(
        only(text),
        "instance[0].track[0]",
        line_of(text, "track ="),
        "'proxy' names no [[tracker]] (there are none in this file)",
    )


def test_a_tracker_listed_twice_in_one_instance() -> None:
    text = INSTANCE + 'track = [\n  "proxy",\n  { tracker = "proxy", weight = 5 },\n]\n'
    text += tracker('interface = "eth1"', "proxy")
    assert_problem(
        only(text),
        "instance[0].track[1]",
        line_of(text, "weight = 5"),
        "'proxy' is tracked twice (also track[0]); list it once",
    )


@pytest.mark.parametrize(
    ("item", "key", "message"),
    [
        (
            '{ tracker = "proxy", weight = -254 }',
            "track[0].weight",
            f"-254 is outside -253..253 ({WEIGHTS})",
        ),
        ("{ weight = 5 }", "track[0].tracker", "missing: give the name of a [[tracker]]"),
        (
            '{ tracker = "proxy", wieght = 5 }',
            "track[0].wieght",
            "unknown key 'wieght'; did you mean 'weight'?",
        ),
        (
            "7",
            "track[0]",
            "expected a tracker name or a table, like"
            ' ["proxy", { tracker = "uplink", weight = -50 }], got the integer 7',
        ),
    ],
)
def test_bad_track_entries(item: str, key: str, message: str) -> None:
    text = INSTANCE + f"track = [{item}]\n" + tracker('interface = "eth1"', "proxy")
    assert_problem(only(text), f"instance[0].{key}", line_of(text, "track ="), message)


def test_an_invalid_tracker_is_reported_once_not_at_every_reference() -> None:
    text = INSTANCE + 'track = ["proxy"]\n' + tracker('http = "ftp://127.0.0.1/"', "proxy")
    assert only(text).key == "tracker[0].http"


# --------------------------------------------------------------------------- tracker kinds


def test_a_tracker_without_a_check() -> None:
    text = with_tracker("weight = 5")
    assert_problem(
        only(text),
        "tracker[0]",
        line_of(text, "[[tracker]]"),
        f'{KINDS}; give one, like http = "http://127.0.0.1/healthz"',
    )


def test_a_tracker_with_two_checks() -> None:
    text = with_tracker('http = "http://127.0.0.1/"\ntcp = "127.0.0.1:80"')
    assert_problem(
        only(text),
        "tracker[0].tcp",
        line_of(text, "tcp ="),
        f"{KINDS}; this one has http and tcp: write a [[tracker]] for each",
    )


@pytest.mark.parametrize(
    ("body", "key", "applies", "kind"),
    [
        ('tcp = "127.0.0.1:80"\nexpect_status = [200]', "expect_status", "http", "tcp"),
        ('http = "http://127.0.0.1/"\nuser = "nobody"', "user", "script", "http"),
        ('file = "/run/drain"\nverify_tls = false', "verify_tls", "http", "file"),
    ],
)
def test_a_key_for_another_kind(body: str, key: str, applies: str, kind: str) -> None:
    text = with_tracker(body)
    message = f"applies to {applies} trackers only; this tracker checks {kind}"
    assert_problem(only(text), f"tracker[0].{key}", line_of(text, f"{key} ="), message)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("weight = 254", f"254 is outside -253..253 ({WEIGHTS})"),
        ("rise = 0", "0 is outside 1..100 (successes in a row to come up)"),
        ("fall = 101", "101 is outside 1..100 (failures in a row to go down)"),
        ('interval = "5ms"', "'5ms' is outside 10ms..3600s"),
        ('interval = "2h"', "'2h' is outside 10ms..3600s"),
        ("timeout = 0", "0 is outside 1ms..3600s"),
        ('timeout = "61m"', "'61m' is outside 1ms..3600s"),
        (
            'interface = "eth0:1"',
            "'eth0:1' is not an interface name (':' belongs to address labels)",
        ),
        (
            'file = "run/drain"',
            "'run/drain' is relative; write an absolute path (like '/var/lib/vipguard/drain')",
        ),
        ('tcp = "localhost:80"', f"'localhost:80' {NOT_TCP}"),
        ('tcp = "::1:80"', f"'::1:80' {NOT_TCP}"),
        ('tcp = "127.0.0.1:0"', f"'127.0.0.1:0' {NOT_TCP}"),
        ('tcp = "127.0.0.1:65536"', f"'127.0.0.1:65536' {NOT_TCP}"),
        ('tcp = "127.0.0.1:+80"', f"'127.0.0.1:+80' {NOT_TCP}"),
        ('tcp = "127.0.0.1"', f"'127.0.0.1' {NOT_TCP}"),
        ('http = "ftp://127.0.0.1/x"', f"'ftp://127.0.0.1/x' has the scheme 'ftp'; {HTTP_ONLY}"),
        ('http = "127.0.0.1/x"', f"'127.0.0.1/x' has no scheme; {HTTP_ONLY}"),
        (
            'http = "http:///healthz"',
            f"'http:///healthz' has no host or port 0; write a URL like {URL}",
        ),
        (
            'http = "http://127.0.0.1:99999/"',
            "'http://127.0.0.1:99999/' is not a valid URL (Port out of range 0-65535);"
            f" write one like {URL}",
        ),
    ],
)
def test_bad_tracker_values(line: str, message: str) -> None:
    key = line.partition(" = ")[0]
    kind = "" if key in ("interface", "file", "tcp", "http") else 'interface = "eth0"\n'
    text = with_tracker(kind + line)
    assert_problem(only(text), f"tracker[0].{key}", line_of(text, line), message)


@pytest.mark.parametrize(
    ("statuses", "key", "message"),
    [
        ("[200, 600]", "expect_status[1]", "600 is not an HTTP status (100..599)"),
        (
            '["200"]',
            "expect_status[0]",
            "expected an integer, got the string '200' (write 200 without quotes)",
        ),
        ("[]", "expect_status", "is empty: give the statuses that mean up, like [200, 204]"),
        ("200", "expect_status", "expected an array, got the integer 200"),
    ],
)
def test_bad_expect_status(statuses: str, key: str, message: str) -> None:
    text = with_tracker(f'http = "http://127.0.0.1/"\nexpect_status = {statuses}')
    assert_problem(only(text), f"tracker[0].{key}", line_of(text, "expect_status"), message)


def test_duplicate_tracker_names() -> None:
    text = with_tracker('interface = "eth1"') + tracker('interface = "eth2"')
    assert_problem(
        only(text),
        "tracker[1].name",
        line_of(text, 'name = "t"', 1),
        "'t' is already the name of tracker[0]; each [[tracker]] needs a name of its own",
    )


def test_a_tracker_name_follows_the_instance_name_rules() -> None:
    text = INSTANCE + tracker('interface = "eth1"', "my proxy")
    assert_problem(
        only(text),
        "tracker[0].name",
        line_of(text, "my proxy"),
        "'my proxy' must be non-empty and made of letters, digits, '_', '.', '-'",
    )


def test_a_single_tracker_table() -> None:
    text = INSTANCE + '[tracker]\nname = "t"\ninterface = "eth1"\n'
    assert_problem(
        only(text),
        "tracker",
        line_of(text, "[tracker]"),
        "expected [[tracker]] tables (double brackets), got a single table",
    )


# --------------------------------------------------------------------------- scripts and hooks


def test_a_script_as_an_array(program: Callable[..., Path]) -> None:
    check = program()
    text = with_tracker(f'script = ["{check}", "--host", "a b"]')
    assert config(text).trackers[0].check == ScriptCheck((str(check), "--host", "a b"))


def test_a_relative_script_in_an_array() -> None:
    text = with_tracker(f'script = ["{NO_SUCH_PROGRAM}", "--quick"]')
    assert_problem(
        only(text),
        "tracker[0].script[0]",
        line_of(text, "script ="),
        f"'{NO_SUCH_PROGRAM}' is not an absolute path; write the program's full path,"
        f" like '/usr/local/bin/{NO_SUCH_PROGRAM}'",
    )


def test_a_relative_script_string_suggests_the_program_on_the_path() -> None:
    found = shutil.which("sh")
    assert found is not None
    text = with_tracker('script = "sh -c true"')
    assert_problem(
        only(text),
        "tracker[0].script",
        line_of(text, "script ="),
        f"'sh' is not an absolute path; write the program's full path, like '{found}'",
    )


def test_a_missing_script(tmp_path: Path) -> None:
    missing = tmp_path / "check-proxy"
    text = with_tracker(f'script = ["{missing}"]')
    assert_problem(
        only(text),
        "tracker[0].script[0]",
        line_of(text, "script ="),
        f"{missing} does not exist; install it or correct the path",
    )


def test_a_script_that_is_not_executable(program: Callable[..., Path]) -> None:
    plain = program("plain", 0o644)
    text = with_tracker(f'script = "{plain} --quick"')
    assert_problem(
        only(text),
        "tracker[0].script",
        line_of(text, "script ="),
        f"{plain} is not executable; run: chmod +x {plain}",
    )


def test_a_script_that_is_a_directory(tmp_path: Path) -> None:
    text = with_tracker(f'script = ["{tmp_path}"]')
    message = f"{tmp_path} is not a file; name the program to run"
    assert_problem(only(text), "tracker[0].script[0]", line_of(text, "script ="), message)


@pytest.mark.parametrize(
    ("value", "key", "message"),
    [
        ("[]", "script", EMPTY_COMMAND),
        ('""', "script", EMPTY_COMMAND),
        ('["/bin/sh", 1]', "script[1]", "expected a string, got the integer 1"),
        (
            """'/bin/sh -c "true'""",
            "script",
            """'/bin/sh -c "true' cannot be split into arguments (No closing quotation);"""
            " check the quotes",
        ),
        ("7", "script", f"expected a command like {COMMAND} (or one string), got the integer 7"),
    ],
)
def test_bad_commands(value: str, key: str, message: str) -> None:
    text = with_tracker(f"script = {value}")
    assert_problem(only(text), f"tracker[0].{key}", line_of(text, "script ="), message)


def test_an_unknown_user(program: Callable[..., Path]) -> None:
    text = with_tracker(f'script = ["{program()}"]\nuser = "vipguard-test-nobody"')
    assert_problem(
        only(text),
        "tracker[0].user",
        line_of(text, "user ="),
        "no such user 'vipguard-test-nobody' on this host; name an existing user",
    )


def test_notify_commands_are_checked_like_scripts(program: Callable[..., Path]) -> None:
    notify = program()
    table = f'[instance.notify]\nmaster = ["{notify}"]\nbackup = "{NO_SUCH_PROGRAM} backup"\n'
    text = instance("web", 51, table)
    problem = only(text)
    assert (problem.key, problem.line) == ("instance[0].notify.backup", line_of(text, "backup"))
    assert problem.message.startswith(f"'{NO_SUCH_PROGRAM}' is not an absolute path")


def test_a_notify_hook_may_run_as_another_user(program: Callable[..., Path]) -> None:
    hook = program("reload-proxy")
    table = (
        "[instance.notify]\n"
        f'master = {{ command = ["{hook}", "haproxy"], user = "root" }}\n'
        f'any = "{hook} log"\n'
    )
    (web,) = config(instance("web", 51, table)).instances
    assert web.notify == NotifyConfig(
        (("master", (str(hook), "haproxy")), ("any", (str(hook), "log"))),
        users=(("master", "root"),),
    )
    assert (web.notify.user_of("master"), web.notify.user_of("any")) == ("root", None)


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ('{ user = "root" }', "master.command", "missing: give the program and its arguments"),
        (
            '{ command = "/bin/true", user = "no-such-user-vipguard" }',
            "master.user",
            "no such user 'no-such-user-vipguard' on this host; name an existing user",
        ),
        (
            '{ command = "/bin/true", group = "root" }',
            "master.group",
            "unknown key 'group'; valid keys here: command, user",
        ),
    ],
)
def test_bad_notify_hook_tables(entry: str, key: str, message: str) -> None:
    text = instance("web", 51, f"[instance.notify]\nmaster = {entry}\n")
    problem = only(text)
    assert problem.key == f"instance[0].notify.{key}"
    assert problem.message.startswith(message), problem.message


@pytest.mark.parametrize(
    ("lines", "key", "fragment", "message"),
    [
        (
            'timeout = "5s"',
            "notify",
            "[instance.notify]",
            "has no command: give at least one of master, backup, fault, maintenance, any",
        ),
        (
            'any = ["/bin/sh"]\ntimeout = "50ms"',
            "notify.timeout",
            "timeout",
            "'50ms' is outside 100ms..600s",
        ),
        (
            'any = ["/bin/sh"]\ntimeout = "11m"',
            "notify.timeout",
            "timeout",
            "'11m' is outside 100ms..600s",
        ),
        (
            'stop = ["/bin/sh"]',
            "notify.stop",
            "stop",
            "unknown key 'stop'; valid keys here: master, backup, fault, maintenance, any, timeout",
        ),
    ],
)
def test_bad_notify_tables(lines: str, key: str, fragment: str, message: str) -> None:
    text = instance("web", 51, f"[instance.notify]\n{lines}\n")
    problem = problems(text)[-1]
    assert_problem(problem, f"instance[0].{key}", line_of(text, fragment), message)


# --------------------------------------------------------------------------- sync groups

THREE = instance("front", 51) + instance("back", 52) + instance("admin", 53)


def sync_group(name: str, members: str) -> str:
    return f'[[sync_group]]\nname = "{name}"\ninstances = {members}\n'


@pytest.mark.parametrize(
    ("members", "key", "message"),
    [
        (
            '["front", "frnt"]',
            "instances[1]",
            "'frnt' names no [[instance]]; did you mean 'front'? (instances: front, back, admin)",
        ),
        ('["front"]', "instances", "has 1; a sync group joins two or more instances"),
        ('["front", "back", "front"]', "instances[2]", "'front' is listed twice"),
        ('["front", 2]', "instances[1]", "expected an instance name, got the integer 2"),
    ],
)
def test_bad_sync_groups(members: str, key: str, message: str) -> None:
    text = THREE + sync_group("lb", members)
    assert_problem(only(text), f"sync_group[0].{key}", line_of(text, "instances ="), message)


def test_an_instance_in_two_sync_groups() -> None:
    text = THREE + sync_group("lb", '["front", "back"]') + sync_group("ops", '["admin", "back"]')
    assert_problem(
        only(text),
        "sync_group[1].instances[1]",
        line_of(text, "instances =", 1),
        "'back' is already in sync_group[0] ('lb'); an instance joins one sync group at most",
    )


def test_duplicate_sync_group_names() -> None:
    text = THREE + sync_group("lb", '["front", "back"]') + sync_group("lb", '["admin"]')
    found = problems(text)
    assert [(problem.key, problem.line) for problem in found] == [
        ("sync_group[1].name", line_of(text, 'name = "lb"', 1)),
        ("sync_group[1].instances", line_of(text, "instances =", 1)),
    ]
    assert found[0].message == (
        "'lb' is already the name of sync_group[0]; each [[sync_group]] needs a name of its own"
    )


def test_a_sync_group_without_instances() -> None:
    text = THREE + '[[sync_group]]\nname = "lb"\n'
    assert_problem(
        only(text),
        "sync_group[0].instances",
        line_of(text, "[[sync_group]]"),
        'missing: give the names of two or more instances, like ["front", "back"]',
    )


# --------------------------------------------------------------------------- the whole file


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("track_script", "use track = [...] naming [[tracker]] tables"),
        ("track_interface", "use track = [...] naming [[tracker]] tables"),
        ("notify_master", "use [instance.notify] master = [...]"),
        ("notify_fault", "use [instance.notify] fault = [...]"),
    ],
)
def test_keepalived_fitness_names_get_a_hint(key: str, hint: str) -> None:
    text = instance("web", 51, f'{key} = ["x"]\n')
    assert_problem(
        only(text), f"instance[0].{key}", line_of(text, key), f"unknown key '{key}'; {hint}"
    )


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("vrrp_script", "use a [[tracker]] with script = [...]"),
        ("vrrp_sync_group", "use a [[sync_group]] with name = ... and instances = [...]"),
    ],
)
def test_keepalived_top_level_names_get_a_hint(key: str, hint: str) -> None:
    text = f"[{key}]\n" + INSTANCE
    assert_problem(only(text), key, 1, f"unknown key '{key}'; {hint}")


def test_every_problem_at_once(program: Callable[..., Path]) -> None:
    text = (
        instance("front", 51, 'track = ["proxi"]\n')
        + instance("back", 52)
        + sync_group("lb", '["front", "bak"]')
        + tracker('http = "gopher://127.0.0.1/"\nuser = "nobody"', "proxy")
        + tracker('file = "drain"\nweight = 300', "drain")
    )
    assert [problem.key for problem in problems(text)] == [
        "instance[0].track[0]",
        "sync_group[0].instances[1]",
        "tracker[0].http",
        "tracker[0].user",
        "tracker[1].file",
        "tracker[1].weight",
    ]
