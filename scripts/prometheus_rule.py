"""Print every rule file of deploy/observability/alerts as one PrometheusRule, for a
Prometheus run by the Prometheus Operator (which reads rules from PrometheusRule resources
only). Built from the files each time, so it never falls behind them:

    .venv/bin/python scripts/prometheus_rule.py | kubectl apply -n liege-ehub -f -
"""

from __future__ import annotations

from pathlib import Path

import yaml

ALERTS = Path(__file__).resolve().parent.parent / "deploy" / "observability" / "alerts"


def prometheus_rule() -> dict:
    groups = [
        group
        for path in sorted(ALERTS.glob("*.yaml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "ehub-rules", "labels": {"app.kubernetes.io/part-of": "liege-ehub"}},
        "spec": {"groups": groups},
    }


if __name__ == "__main__":
    print(yaml.safe_dump(prometheus_rule(), sort_keys=False, allow_unicode=True, width=100), end="")
