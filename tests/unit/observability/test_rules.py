"""Every Prometheus rule file under deploy/observability/alerts passes `promtool check rules`,
the alert unit tests pass `promtool test rules`, and every dashboard query is PromQL that
Prometheus parses, reading only what the rules record or the services export (the latter:
tests/e2e/test_metrics.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.unit.observability.queries import (
    DASHBOARDS,
    PROMTOOL,
    RECORDED,
    RULE_FILES,
    RULE_TESTS,
    dashboard_queries,
    recorded_names,
)


def promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.exists(), f"{PROMTOOL} is missing: scripts/bootstrap.sh builds it (make test)"
    return subprocess.run(
        [str(PROMTOOL), *map(str, arguments)], capture_output=True, text=True, timeout=120
    )


def test_every_rule_file_passes_promtool_check():
    assert len(RULE_FILES) >= 3
    checked = promtool("check", "rules", *RULE_FILES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("SUCCESS") == len(RULE_FILES), checked.stdout


def test_the_alerts_fire_as_their_unit_tests_say():
    assert RULE_TESTS
    tested = promtool("test", "rules", *RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_promtool_refuses_a_rule_that_is_not_promql(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "sum by (x (up)"}]}]}
        )
    )
    assert promtool("check", "rules", broken).returncode != 0


def test_every_dashboard_query_parses_as_promql(tmp_path):
    queries = dashboard_queries()
    assert DASHBOARDS and len(queries) >= 20
    # promtool parses expressions inside rule files: each query becomes one recording rule.
    as_rules = tmp_path / "dashboard-queries.yaml"
    as_rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard",
                        "rules": [
                            {"record": f"dashboard:query_{index}:check", "expr": expr}
                            for index, (_, _, expr) in enumerate(queries)
                        ],
                    }
                ]
            }
        )
    )
    checked = promtool("check", "rules", as_rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboards_read_only_series_the_rules_record():
    recorded = recorded_names()
    unknown = {
        (dashboard, title, name)
        for dashboard, title, expr in dashboard_queries()
        for name in RECORDED.findall(expr)
        if name not in recorded
    }
    assert not unknown
