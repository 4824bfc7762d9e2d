"""Results of bench/failover.py: the markdown table, the raw samples (JSON) and the plot (PNG)."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import idle
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FILES = ("failover.md", "failover.json", "failover.png")
CASES = ("crash", "link-down", "graceful")
IMPLS = ("vipguard", "keepalived")
COLOURS = {"vipguard": "#1f77b4", "keepalived": "#ff7f0e"}

DEFINITIONS = {
    "crash": (
        "the master host dies: its cable is pulled (its bridge port goes down: nothing more from "
        "it reaches the wire, it sees carrier loss), then every process of the implementation on "
        "it gets SIGKILL (the whole process group: keepalived's parent and VRRP child at once). "
        "Timed from the cable pull. Restored by removing the VIP the dead node left, plugging the "
        "cable back and restarting the node, which preempts."
    ),
    "link-down": (
        "the master's eth0 is set administratively down (`ip link set eth0 down`); the node keeps "
        "running. Restored by setting it up again (the master preempts)."
    ),
    "graceful": (
        "SIGTERM to the master: it advertises priority 0 and the backup takes over after "
        "Skew_Time. keepalived removes its VIP at once (clients meet nobody until the backup "
        "announces); vipguard keeps serving it until the backup has taken over and announced "
        "(make-before-break), then releases it. Restored by restarting it."
    ),
}


def interval_label(ms: int) -> str:
    return f"{ms // 1000} s" if ms % 1000 == 0 else f"{ms} ms"


def _num(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def _triple(values: Sequence[float], fmt: Any = _num) -> str:
    if not values:
        return "–"
    return " / ".join(fmt(v) for v in (min(values), statistics.median(values), max(values)))


def _int_like(x: float) -> str:
    return f"{x:g}"


def bound_ms(case: str, interval_ms: float) -> float:
    skew = (256 - 100) * interval_ms / 256  # the backup has priority 100
    return skew if case == "graceful" else 3 * interval_ms + skew


def summarise(samples: list[dict[str, Any]], intervals: list[int]) -> list[dict[str, Any]]:
    rows = []
    for interval in intervals:
        for case in CASES:
            row: dict[str, Any] = {"interval_ms": interval, "case": case}
            row["bound_ms"] = round(bound_ms(case, interval), 1)
            for impl in IMPLS:
                chosen = [
                    s
                    for s in samples
                    if (s["impl"], s["interval_ms"], s["case"]) == (impl, interval, case)
                ]
                row[impl] = {
                    "n": len(chosen),
                    "gap_ms": [s["gap_ms"] for s in chosen],
                    "lost": [s["lost"] for s in chosen],
                    "takeover_ms": [s["takeover_ms"] for s in chosen],
                    "protocol_ms": [s["protocol_ms"] for s in chosen if s["protocol_ms"]],
                }
            vg, ka = row["vipguard"]["gap_ms"], row["keepalived"]["gap_ms"]
            row["ratio"] = (
                statistics.median(vg) / statistics.median(ka)
                if vg and ka and statistics.median(ka) > 0
                else None
            )
            rows.append(row)
    return rows


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "–"


def outage_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| adverts | case | protocol bound (ms) | vipguard outage (ms) min / median / max "
        "| keepalived outage (ms) min / median / max | vipguard / keepalived (median outage) "
        "| vipguard lost probes | keepalived lost probes "
        "| last advert → backup's advert (ms, median) vipguard / keepalived | n |"
    )
    lines = [head, "|" + "---|" * 10]
    for row in rows:
        vg, ka = row["vipguard"], row["keepalived"]
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "–"
        lines.append(
            f"| {interval_label(row['interval_ms'])} | {row['case']} | {_num(row['bound_ms'])} "
            f"| {_triple(vg['gap_ms'])} | {_triple(ka['gap_ms'])} | {ratio} "
            f"| {_triple(vg['lost'], _int_like)} | {_triple(ka['lost'], _int_like)} "
            f"| {_median(vg['protocol_ms'])} / {_median(ka['protocol_ms'])} "
            f"| {vg['n']} + {ka['n']} |"
        )
    return "\n".join(lines)


def markdown(run: dict[str, Any], rows: list[dict[str, Any]], quick: bool) -> str:
    m = run["machine"]
    reps = run["reps"]
    mode = " (`--quick`: 2 repetitions, no 1 s intervals)" if quick else ""
    out = [
        "# Failover benchmark: vipguard vs keepalived",
        "",
        f"- Date: {run['started']}; run took {run['duration_s']:.0f} s{mode}",
        f"- Machine: `nproc` = {m['nproc']}; `uname -srvmo` = {m['uname']}; CPU: {m['cpu']}",
        f"- vipguard {m['vipguard']} (Python {m['python']}); {m['keepalived']} (Debian)",
        f"- Load average (1/5/15 min) at start: {m.get('loadavg_start', '?')}; "
        f"at end: {m.get('loadavg_end', '?')}",
        f"- {reps} repetitions per case; advert intervals: "
        + ", ".join(interval_label(i) for i in run["intervals_ms"]),
        "",
        "Setup: network namespaces on one bridge (lb1 192.0.2.11, lb2 192.0.2.12, client "
        "192.0.2.50). Each implementation fails over to its own kind: a vipguard pair, then a "
        "keepalived pair, on the same topology in the same run. VRRPv3 over IPv4, VRID 51, VIP "
        "192.0.2.100/24; master lb1 priority 150, backup lb2 priority 100, preemption on; "
        'vipguard with `checksum = "pseudo-header"` (keepalived\'s default), so both put the '
        "same adverts on the wire. A UDP responder runs on both load balancers and a client "
        "probes the VIP at 250 Hz (4 ms resolution). Each repetition waits for 25 answers from "
        "the master, waits a random 0 to 1 advert interval (so the fault falls anywhere in the "
        "advert cycle; seed in failover.json), injects the fault, waits for 25 answers from "
        "the backup.",
        "",
        "- **outage**: the longest interval between the send times of consecutive answered "
        "probes. **lost probes**: unanswered probes between the first and the last answer. "
        "**protocol bound**: Master_Down_Interval of the backup (3 × interval + Skew_Time) for "
        "crash and link-down, Skew_Time ((256 − 100) / 256 × interval) for graceful; the "
        "outage adds the announcement (gratuitous ARP) and the probe period. "
        "**last advert → backup's advert**: on the wire, at the client (kernel receive "
        "timestamps), from the master's last advert (graceful: its priority-0 advert) to the "
        "backup's first advert: the protocol's timer plus each implementation's own latency, "
        "free of the outage's phase noise (where in the advert cycle the fault fell spreads the "
        "outage over one interval: from Master_Down_Interval − interval to Master_Down_Interval "
        "for crash and link-down).",
    ]
    out += [f"- **{case}**: {text}" for case, text in DEFINITIONS.items()]
    out += ["", "## Outage per case", "", outage_table(rows), ""]
    out += [
        "## Idle cost at 1 s and 100 ms adverts",
        "",
        f"Each pair settled, then sampled over {_idle_seconds(run)}. " + idle.METHOD,
        "",
        idle.table(run["resources"]),
        "",
    ]
    if run["errors"]:
        out += ["## Errors", ""]
        for e in run["errors"]:
            where = ", ".join(
                f"{k}={e[k]}" for k in ("impl", "interval_ms", "case", "rep", "stage") if k in e
            )
            out.append(f"- {where}: {e['error']}")
        out.append("")
    out.append("Raw samples: `failover.json`; plot: `failover.png`. Reproduce: `make bench`.")
    return "\n".join(out) + "\n"


def plot(rows: list[dict[str, Any]], intervals: list[int], path: Path) -> None:
    fig = Figure(figsize=(4.2 * max(1, len(intervals)), 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(1, len(intervals)), squeeze=False)[0]
    width = 0.36
    for ax, interval in zip(axes, intervals, strict=False):
        mine = [r for r in rows if r["interval_ms"] == interval]
        for i, row in enumerate(mine):
            ax.hlines(row["bound_ms"], i - 0.45, i + 0.45, colors="grey", linestyles="dashed", lw=1)
            for j, impl in enumerate(IMPLS):
                gaps = row[impl]["gap_ms"]
                if not gaps:
                    continue
                x = i + (j - 0.5) * width
                med = statistics.median(gaps)
                ax.bar(
                    x,
                    med,
                    width * 0.9,
                    color=COLOURS[impl],
                    alpha=0.75,
                    label=impl if i == 0 and ax is axes[0] else None,
                )
                ax.errorbar(
                    x,
                    med,
                    yerr=[[med - min(gaps)], [max(gaps) - med]],
                    fmt="none",
                    ecolor="black",
                    capsize=3,
                    lw=1,
                )
                offsets = [(k - (len(gaps) - 1) / 2) * width * 0.12 for k in range(len(gaps))]
                ax.scatter([x + o for o in offsets], gaps, s=9, color="black", zorder=3)
        ax.set_xticks(range(len(mine)), [r["case"] for r in mine])
        ax.set_title(f"adverts every {interval_label(interval)}")
        ax.set_ylabel("client outage (ms)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].plot([], [], color="grey", ls="dashed", lw=1, label="protocol bound")
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")
    fig.suptitle("Failover outage, median bar, min–max whiskers, samples as dots (250 Hz probe)")
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write(run: dict[str, Any], out: Path, quick: bool) -> str:
    """Write the three files into ``out``; return the outage table (for printing)."""
    rows = summarise(run["samples"], run["intervals_ms"])
    _write(out / "failover.json", json.dumps({**run, "summary": rows}, indent=1) + "\n")
    _write(out / "failover.md", markdown(run, rows, quick))
    plot(rows, run["intervals_ms"], out / "failover.png")
    return outage_table(rows) + "\n\n" + idle.table(run["resources"])


def _idle_seconds(run: dict[str, Any]) -> str:
    seconds = sorted({r["seconds"] for r in run["resources"]})
    return f"{seconds[0]:.0f} s" if seconds else "(not measured)"
