"""Every section and key of the configuration file, with its type, default and meaning.

vipguard.toml(5) is generated from it (``tools/manpages.py``, run by ``make install``), and
``tests/config/test_config_reference.py`` holds it to the readers: each section lists exactly
the keys its reader accepts, so a key is never read without being documented, nor documented
unread.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    kind: str
    doc: str
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    path: str  # where the keys sit: "agent", "instance", "instance.auth", "instance.vips[]"
    title: str
    doc: str
    keys: tuple[Key, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)


INTRODUCTION = """\
vipguard reads one TOML file, by default /etc/vipguard/vipguard.toml, at start and on reload
(vipguard reload, systemctl reload vipguard or SIGHUP). vipguard check-config FILE lists every
problem with its line, key path and what would be valid, and exits with status 2; the agent
refuses an invalid file the same way, and a reload keeps the running configuration.

Durations are strings with a unit: "20ms", "1.5s", "2m", "1h". Paths are absolute. Commands
(script trackers, notify hooks) are an array of strings, or one string split like a shell would
(without expansion); the program must exist when the file is checked.

Examples of complete files are installed beside the configuration (vipguard.toml.example) and
in the examples/ directory of the source."""

# A complete file for one node of a pair (the other has priority 100); tests parse it.
EXAMPLE = """\
[agent]
control_socket = "/run/vipguard/control.sock"
state_dir = "/var/lib/vipguard"

[[tracker]]
name = "proxy"
http = "http://127.0.0.1:8404/healthz"
weight = 0

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
priority = 150
advert_interval = "100ms"
vips = ["192.0.2.100/24", "2001:db8::100/64"]
track = ["proxy"]

[instance.notify]
master = ["/usr/bin/logger", "-t", "vipguard", "web is master here"]
"""

_DURATION = "duration"
_BOOL = "boolean"
_PATH = "absolute path"
_COMMAND = "command or { command, user }"

AGENT = Section(
    "agent",
    "[agent]",
    "Settings of the agent process. They are read at start; a reload does not change them.",
    (
        Key(
            "control_socket",
            _PATH,
            "The Unix socket that status, events, maintenance and reload talk to (at most"
            " 107 bytes). A lock file beside it keeps a second agent from starting.",
            '"/run/vipguard/control.sock"',
        ),
        Key(
            "state_dir",
            _PATH,
            "Durable state: advert sequence numbers of authenticated instances and"
            " maintenance marks, kept across restarts and reboots.",
            '"/var/lib/vipguard"',
        ),
        Key(
            "log_format",
            '"text" or "json"',
            "One event per line on stderr: key=value pairs, or JSON objects with an RFC 3339"
            " UTC time.",
            '"text"',
        ),
        Key(
            "log_level",
            '"debug", "info", "warning" or "error"',
            "The lowest level logged; vipguard run --log-level overrides it.",
            '"info"',
        ),
        Key(
            "realtime_priority",
            "integer 0..99",
            "A SCHED_FIFO priority for the agent, for advert intervals of 20 ms and less;"
            " 0 leaves the normal scheduler.",
            "0",
        ),
        Key(
            "metrics",
            '"address:port" or ""',
            'Where Prometheus metrics are served (/metrics); IPv6 as "[::1]:9650"; "" serves'
            " none. Binding every address is a warning: the metrics name instances, states"
            " and priorities.",
            '"127.0.0.1:9650"',
        ),
    ),
)

INSTANCE = Section(
    "instance",
    "[[instance]]",
    "A virtual router: the VIPs that one node of the pair holds at a time. An instance with"
    " IPv4 and IPv6 VIPs runs one router per family (VRRPv3 requires it); unicast peers,"
    " unicast_source and multicast_group apply to their own family.",
    (
        Key("name", "string", "Unique name of the instance, used in logs, status and hooks."),
        Key("interface", "interface name", "The interface that carries the VIPs and adverts."),
        Key("vrid", "integer 1..255", "The virtual router id, the same on every node."),
        Key(
            "priority",
            "integer 1..255",
            "This node's priority; the highest wins. 255 is the address owner.",
            "100",
        ),
        Key("version", "2 or 3", "VRRPv2 (RFC 3768, IPv4 only) or VRRPv3 (RFC 5798).", "3"),
        Key(
            "advert_interval",
            _DURATION,
            "Time between adverts: whole seconds 1s..255s for VRRPv2, multiples of 10ms up to"
            " 40.95s for VRRPv3. A backup takes over after about three intervals of silence.",
            '"1s"',
        ),
        Key("preempt", _BOOL, "Take over from a master of lower priority.", "true"),
        Key(
            "preempt_delay",
            _DURATION,
            "A backup that hears a master of lower priority waits this long before taking"
            " over from it (at most 1000s).",
            '"0s"',
        ),
        Key(
            "accept",
            _BOOL,
            "RFC 5798 Accept_Mode. Recorded, not enforced: a master accepts traffic to its"
            " VIPs either way.",
            "false",
        ),
        Key(
            "vips",
            "array of addresses or tables",
            'The VIPs with their prefix length, like "192.0.2.100/24", or tables'
            " { address, label } (below); at most 255 per family. A VIP without a prefix"
            " length is bound as /32 or /128, with a warning.",
        ),
        Key(
            "unicast_source",
            "IP address",
            "The source address of unicast adverts (default: the interface's primary address"
            " of the family).",
        ),
        Key(
            "unicast_peers",
            "array of IP addresses",
            "Send adverts to these hosts instead of the multicast group, for networks without"
            " multicast; list the other nodes only.",
        ),
        Key(
            "multicast_group",
            "multicast address",
            "Override the group adverts go to (default 224.0.0.18, ff02::12).",
        ),
        Key(
            "checksum",
            '"auto", "pseudo-header" or "rfc9568"',
            "The VRRPv3-over-IPv4 checksum form. auto accepts both, sends the pseudo-header form"
            " (keepalived's, FRR's) until a peer is heard using RFC 9568's, then sends what it"
            " hears.",
            '"auto"',
        ),
        Key(
            "use_vmac",
            _BOOL,
            "Carry the VIPs on a macvlan vrrp.VRID (vrrp6.VRID) with the RFC 5798 virtual MAC,"
            " up only while master. Under the systemd unit it needs a drop-in with"
            " ProtectKernelTunables=no and ProcSubset=all.",
            "false",
        ),
        Key("announce", "table", "Gratuitous ARP and unsolicited NA on becoming master (below)."),
        Key("auth", "table", "HMAC authentication of adverts (below)."),
        Key(
            "track",
            "array of names or tables",
            'Trackers this instance depends on: a name, like "proxy", or { tracker, weight }'
            " to override the tracker's weight for this instance (below).",
        ),
        Key("notify", "table", "Commands run on state changes (below)."),
    ),
)

VIP = Section(
    "instance.vips[]",
    "VIP tables in vips",
    "A VIP written as a table gives it an address label.",
    (
        Key("address", "address with prefix", 'The VIP, like "192.0.2.101/24".'),
        Key(
            "label",
            "string",
            'An IPv4 address label, like "eth0:web": it starts with the interface name and has'
            " at most 15 characters.",
        ),
    ),
)

ANNOUNCE = Section(
    "instance.announce",
    "[instance.announce]",
    "How a new master tells its neighbours where the VIPs are now.",
    (
        Key("count", "integer 1..100", "Announcements per VIP on becoming master.", "5"),
        Key("interval", _DURATION, "Time between them (20ms..1s).", '"20ms"'),
        Key(
            "refresh",
            _DURATION,
            "Announce again this often while master (0 for never, else at least 1s).",
            '"0s"',
        ),
    ),
)

AUTH = Section(
    "instance.auth",
    "[instance.auth]",
    "HMAC-SHA-256 tags on adverts, with replay protection. Roll out in three steps, each"
    " without a lost advert: receive-only everywhere, then permissive, then enforce.",
    (
        Key("keys", "array of tables", "The keys, each { id, secret } or { id, secret_file }."),
        Key("active_key", "integer 1..255", "The id of the key that signs sent adverts."),
        Key(
            "mode",
            '"receive-only", "permissive" or "enforce"',
            "receive-only checks tags it gets but sends none; permissive sends tags and still"
            " accepts adverts without one; enforce refuses them.",
            '"enforce"',
        ),
        Key(
            "anti_replay",
            '"time" or "monotonic"',
            "time stamps adverts with the wall clock (start the agent with the clock"
            " synchronised); monotonic uses sequence numbers kept in state_dir.",
            '"time"',
        ),
        Key(
            "time_window",
            _DURATION,
            "With anti_replay = time: the oldest advert accepted, in whole seconds 1..300"
            " (default three advert intervals, at least 5s).",
        ),
    ),
)

AUTH_KEY = Section(
    "instance.auth.keys[]",
    "Keys in auth.keys",
    "One key of an instance; give exactly one of secret and secret_file.",
    (
        Key("id", "integer 1..255", "The key id that adverts carry."),
        Key("secret", "string", 'The key: "hex:" and hex digits, or ASCII; 32..64 bytes.'),
        Key(
            "secret_file",
            "path",
            "A file holding the key, relative to the configuration's directory. It must be"
            " owned by root, group vipguard, mode 0640 (or owned by the user running the"
            " agent, mode 0600).",
        ),
    ),
)

TRACK = Section(
    "instance.track[]",
    "Tables in track",
    "A tracked tracker with a weight of its own for this instance.",
    (
        Key("tracker", "string", "The name of a [[tracker]]."),
        Key("weight", "integer -253..253", "Overrides the tracker's weight.", "its weight"),
    ),
)

NOTIFY = Section(
    "instance.notify",
    "[instance.notify]",
    "Commands run after the instance changes state (VIPs bound or released), with five"
    " arguments: the instance name, the new state, the priority, the reason and the family"
    " (ipv4 or ipv6), also as VIPGUARD_INSTANCE, VIPGUARD_STATE, VIPGUARD_PRIORITY,"
    " VIPGUARD_REASON and VIPGUARD_FAMILY. One router's hooks run one at a time, in order; a"
    " failing hook never changes the election.",
    (
        Key("master", _COMMAND, "Run on becoming master."),
        Key("backup", _COMMAND, "Run on becoming backup."),
        Key("fault", _COMMAND, "Run on entering fault."),
        Key("maintenance", _COMMAND, "Run on entering maintenance."),
        Key("any", _COMMAND, "Run on every change, after the state's own hook."),
        Key(
            "timeout", _DURATION, "A hook still running after this is killed (0.1s..600s).", '"10s"'
        ),
    ),
)

HOOK = Section(
    "instance.notify.*",
    "Hook tables in notify",
    "A hook written as a table runs as another user; under the systemd unit that needs the"
    " CAP_SETUID and CAP_SETGID drop-in.",
    (
        Key("command", "command", "The program and its arguments."),
        Key("user", "user name", "The user the command runs as."),
    ),
)

TRACKER = Section(
    "tracker",
    "[[tracker]]",
    "A check of this node's fitness, run on a rhythm, with rise/fall hysteresis: rise"
    " successes in a row bring it up, fall failures in a row take it down; until its first"
    " result it counts as down. Each tracker checks exactly one of interface, file, script,"
    " tcp, http, process and pidfile. Its weight says what it does to an instance: 0 puts the"
    " instance in fault while the tracker is down; a positive weight is added to the priority"
    " while it is up; a negative one while it is down.",
    (
        Key("name", "string", "Unique name, used by instances' track."),
        Key("interface", "interface name", "Up while the interface's link is up (not polled)."),
        Key(
            "file",
            _PATH,
            "Reads an integer from the file, multiplied by the weight (a drain switch); keep it"
            " in /var/lib/vipguard, which survives restarts.",
        ),
        Key(
            "missing",
            'integer or "down"',
            'file only: how a missing file reads; "down" makes it a failed check.',
            "0",
        ),
        Key("script", "command", "Runs the command; exit status 0 is a success."),
        Key("user", "user name", "script only: the user the script runs as."),
        Key("tcp", '"address:port"', "A TCP connection that completes is a success."),
        Key("http", "URL", "An http:// or https:// GET answered with an expected status."),
        Key("expect_status", "array of integers", "http only: statuses that mean up.", "[200]"),
        Key("verify_tls", _BOOL, "http only: check the server's certificate.", "true"),
        Key(
            "process",
            "process name",
            "Up while a process of this name (as /proc/PID/comm shows it, at most 15"
            " characters) runs; under the systemd unit it needs ProtectProc=default.",
        ),
        Key(
            "pidfile",
            _PATH,
            "Up while the process whose PID the file holds runs; an exit is seen at once.",
        ),
        Key("interval", _DURATION, "Time between checks (10ms..1h).", '"1s"'),
        Key(
            "timeout",
            _DURATION,
            "A check taking longer fails (1ms..1h).",
            "the interval, at most 1s",
        ),
        Key("rise", "integer 1..100", "Successes in a row to come up.", "2"),
        Key("fall", "integer 1..100", "Failures in a row to go down.", "3"),
        Key("weight", "integer -253..253", "The default weight for instances tracking it.", "0"),
    ),
)

SYNC_GROUP = Section(
    "sync_group",
    "[[sync_group]]",
    "Instances that change state together: when one must leave master (fault, lower"
    " priority, maintenance), the others follow, so both sides of a load balancer stay on one"
    " node.",
    (
        Key("name", "string", "Unique name of the group."),
        Key("instances", "array of instance names", "Two or more instances, each in one group."),
    ),
)

SECTIONS = (
    AGENT,
    INSTANCE,
    VIP,
    ANNOUNCE,
    AUTH,
    AUTH_KEY,
    TRACK,
    NOTIFY,
    HOOK,
    TRACKER,
    SYNC_GROUP,
)


def sections() -> tuple[Section, ...]:
    return SECTIONS


def section(path: str) -> Section:
    for candidate in SECTIONS:
        if candidate.path == path:
            return candidate
    raise KeyError(path)
