"""The fast subset of `make chaos` (one kill -9, poison on every topic, a broker kill and
restart) on its own stack, reconciled across the four databases."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.e2e.test_resilience import wait_until_ready
from tests.infrastructure import ROOT

pytestmark = pytest.mark.e2e

LIMIT_SECONDS = 120
SUMMARY = re.compile(
    r"^chaos: 3 scenarios, (?P<accepted>\d+) orders accepted, lost 0, duplicated 0, stuck 0,"
    r" worst convergence (?P<worst>\d+) s$"
)


def test_a_kill_poison_and_a_broker_restart_lose_duplicate_and_strand_nothing(stack):
    # The suite holds the infrastructure while it runs: the subset needs no lock of its own.
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chaos.py"), "--quick", "--under-test-lock"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS,
    )
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = SUMMARY.match(lines[-1])
    assert summary, lines[-5:]
    assert int(summary["accepted"]) > 0
    rows = {line.split()[0]: line for line in lines if re.match(r"^(kill-|poison|broker-)", line)}
    assert set(rows) == {"kill-payments", "poison", "broker-restart"}
    assert "dead letters" in rows["poison"] and " 0 dead letters" not in rows["poison"]
    # The broker was the project's: the end-to-end stack's services find it again.
    wait_until_ready(stack)
