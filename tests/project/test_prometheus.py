"""The Prometheus rules and the Grafana dashboard in examples/prometheus, checked by promtool:
the rules parse, their unit tests (tests/project/prometheus/alerts-test.yml: two pairs sharing
a name and VRID) pass, the example scrape config is valid, and every query is scoped to one job
and pair."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prerequisites import need

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "prometheus"
RULES = EXAMPLES / "alerts.yml"
RULE_TESTS = Path(__file__).resolve().parent / "prometheus" / "alerts-test.yml"
SCRAPE_CONFIG = EXAMPLES / "prometheus.yml"
DASHBOARD = EXAMPLES / "grafana-dashboard.json"
# A metric name in PromQL, with its {matchers} if it has any.
SELECTOR = re.compile(r"\b(vipguard_\w+|up)\b(\{[^}]*\})?")


@pytest.fixture(scope="module")
def promtool() -> str:
    return need("promtool", "prometheus")


def run(promtool: str, *args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_alert_rules_are_valid(promtool: str) -> None:
    result = run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_pass_their_unit_tests(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_unit_tests_catch_rules_that_compare_pairs_with_each_other(
    promtool: str, tmp_path: Path
) -> None:
    """The fleet bug put back (routers grouped by name, VRID and family only) fails the tests."""
    fleet_blind = RULES.read_text().replace("by (pair, ", "by (")
    assert fleet_blind != RULES.read_text()
    (tmp_path / "examples" / "prometheus").mkdir(parents=True)
    (tmp_path / "tests" / "project" / "prometheus").mkdir(parents=True)
    (tmp_path / "examples" / "prometheus" / "alerts.yml").write_text(fleet_blind)
    shutil.copy(RULE_TESTS, tmp_path / "tests" / "project" / "prometheus")
    result = run(
        promtool, "test", "rules", "tests/project/prometheus/alerts-test.yml", cwd=tmp_path
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "VipguardSuspectedDualMaster" in output
    assert "VipguardNoMaster" in output


def test_the_example_scrape_config_is_valid_and_labels_every_target_with_its_pair(
    promtool: str,
) -> None:
    result = run(promtool, "check", "config", SCRAPE_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    text = SCRAPE_CONFIG.read_text()
    assert "job_name: vipguard" in text
    assert text.count("targets:") == text.count("pair:") >= 2


def test_every_rule_selects_the_vipguard_job() -> None:
    """One `sed 's/job="vipguard"/job="lb"/'` renames the job everywhere: no rule reads
    another job's series."""
    expressions = re.findall(r"^\s+expr: (.*)$", RULES.read_text(), flags=re.MULTILINE)
    assert len(expressions) >= 9
    for expression in expressions:
        selectors = SELECTOR.findall(expression)
        assert selectors, expression
        for metric, matchers in selectors:
            assert 'job="vipguard"' in matchers, f"{metric} in {expression}"


def dashboard() -> dict[str, object]:
    data: dict[str, object] = json.loads(DASHBOARD.read_text())
    return data


def panel_expressions() -> list[tuple[str, str]]:
    panels = dashboard()["panels"]
    assert isinstance(panels, list)
    return [(panel["title"], target["expr"]) for panel in panels for target in panel["targets"]]


def test_the_dashboard_filters_by_job_pair_and_instance() -> None:
    templating = dashboard()["templating"]
    assert isinstance(templating, dict)
    variables = {variable["name"]: variable for variable in templating["list"]}
    assert {"datasource", "job", "pair", "instance"} <= variables.keys()
    assert "$job" in variables["pair"]["definition"]
    assert "$pair" in variables["instance"]["definition"]
    for name in ("pair", "instance"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    for title, expression in panel_expressions():
        for metric, matchers in SELECTOR.findall(expression):
            for matcher in ('job="$job"', 'pair=~"$pair"', 'instance=~"$instance"'):
                assert matcher in matchers, f"panel {title!r}: {metric} lacks {matcher}"


def test_the_dashboard_counts_masters_per_pair() -> None:
    counts = [e for _, e in panel_expressions() if e.startswith("sum") and "state=" in e]
    assert counts and all("pair" in e.partition(")")[0] for e in counts), counts


def test_the_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    """promtool has no expression checker; each query becomes a recording rule, variables
    replaced by what Grafana would substitute."""
    values = {"$job": "vipguard", "$pair": ".*", "$instance": ".*", "$__rate_interval": "1m"}
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, (_, expression) in enumerate(panel_expressions()):
        substituted = expression
        for variable, value in values.items():
            substituted = substituted.replace(variable, value)
        lines += [f"      - record: panel_{index}", f"        expr: {json.dumps(substituted)}"]
    rules = tmp_path / "dashboard-rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    result = run(promtool, "check", "rules", rules)
    assert result.returncode == 0, result.stdout + result.stderr
