"""The PromQL of deploy/observability: every rule file, every dashboard query, and the
metric names they read (shared by the promtool tests and tests/e2e/test_metrics.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

OBSERVABILITY = Path(__file__).resolve().parents[3] / "deploy" / "observability"
RULE_FILES = sorted((OBSERVABILITY / "alerts").glob("*.yaml"))
RULE_TESTS = sorted((OBSERVABILITY / "tests").glob("*.yaml"))
DASHBOARDS = sorted((OBSERVABILITY / "grafana").glob("*.json"))
# Debian's prometheus package (scripts/bootstrap.sh): building it from the Go proxy takes minutes.
PROMTOOL = Path("/usr/bin/promtool")
TOOLS = OBSERVABILITY.parents[1] / ".data" / "bin"

# Grafana's variables, as the values Prometheus would see.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$__interval": "1m"}
METRIC = re.compile(r"\behub_[a-z0-9_]+\b")
RECORDED = re.compile(r"\b[a-z_]+:ehub_[a-z0-9_]+:[a-z0-9_]+\b")


def rule_expressions() -> list[str]:
    return [
        rule["expr"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def recorded_names() -> set[str]:
    return {
        rule["record"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, query) of every target, Grafana variables replaced."""
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", ()):
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                queries.append((path.name, panel["title"], expr))
    return queries


def metric_names(expression: str) -> set[str]:
    """The exported series an expression reads (recorded names are not; they are rules')."""
    without_recorded = RECORDED.sub(" ", expression)
    return set(METRIC.findall(without_recorded))
