"""Every Prometheus rule file under deploy/observability/alerts passes `promtool check rules`,
the alert unit tests pass `promtool test rules`, and every dashboard query is PromQL that
Prometheus parses, reading only what the rules record or the services export (the latter:
tests/e2e/test_metrics.py). The Prometheus Operator's PrometheusRule holds every rule file,
and the dashboard's ConfigMap builds with kustomize and validates with kubeconform."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.unit.observability.queries import (
    DASHBOARDS,
    OBSERVABILITY,
    PROMTOOL,
    RECORDED,
    RULE_FILES,
    RULE_TESTS,
    TOOLS,
    dashboard_queries,
    recorded_names,
)

sys.path.insert(0, str(OBSERVABILITY.parents[1] / "scripts"))
from prometheus_rule import prometheus_rule  # noqa: E402

SCHEMAS = (
    "schemas/kubernetes/{{.NormalizedKubernetesVersion}}-local-strict/"
    "{{.ResourceKind}}{{.KindSuffix}}.json"
)


def promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.exists(), f"{PROMTOOL} is missing: scripts/bootstrap.sh installs it (make test)"
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


def test_group_names_are_unique_across_the_rule_files():
    # One PrometheusRule holds them all, and Prometheus refuses a group name twice in a file.
    names = [
        group["name"] for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_prometheus_rule_resource_holds_every_rule_file(tmp_path):
    resource = prometheus_rule()
    assert resource["kind"] == "PrometheusRule"
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    every_group = [
        group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert resource["spec"]["groups"] == every_group
    as_file = tmp_path / "from-prometheusrule.yaml"
    as_file.write_text(yaml.safe_dump({"groups": resource["spec"]["groups"]}))
    checked = promtool("check", "rules", as_file)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_configmap_builds_and_validates():
    built = subprocess.run(
        [str(TOOLS / "kustomize"), "build", str(OBSERVABILITY)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    (config_map,) = [doc for doc in yaml.safe_load_all(built) if doc]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    for dashboard in DASHBOARDS:
        assert json.loads(config_map["data"][dashboard.name]) == json.loads(dashboard.read_text())
    validated = subprocess.run(
        [str(TOOLS / "kubeconform"), "-strict", "-summary", "-kubernetes-version", "1.30.0"]
        + ["-schema-location", SCHEMAS, "-"],
        input=built,
        cwd=OBSERVABILITY.parent / "k8s",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Valid: 1, Invalid: 0, Errors: 0, Skipped: 0" in validated.stdout
