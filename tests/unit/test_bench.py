"""The bench's own arithmetic: CPU charged per window, the guarantees check, the verdict on a
run, the request bodies it sends. No stack needed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_load import write_targets  # noqa: E402
from bench_proc import (  # noqa: E402
    CLOCK_TICKS,
    CpuMeter,
    CpuWindow,
    read_times,
    rusage_ticks,
)
from bench_report import effects_check, in_stack, percentile, summarize_run, summary  # noqa: E402

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def test_percentile_is_the_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_stack_labels_are_services_their_postgres_and_kafka():
    for label in ("orders", "orders-2", "fulfillment", "postgres payments", "postgres shared"):
        assert in_stack(label)
    assert in_stack("postgres exited")
    assert in_stack("kafka")
    for label in ("vegeta", "bench", "postgres bench queries", "postgres other databases"):
        assert not in_stack(label)


def test_a_process_the_bench_reaps_is_charged_its_cpu_up_to_its_end():
    child = subprocess.Popen([sys.executable, "-c", BURN.format(seconds=0.3)])
    key = read_times(child.pid).key
    meter = CpuMeter(classify=lambda: {child.pid: "burner"})
    meter.start()
    _, _, rusage = os.wait4(child.pid, 0)
    child.returncode = 0
    meter.record_exit(key, rusage_ticks(rusage), "burner")
    window = meter.stop(1.0)
    assert 0.25 <= window.milliseconds("burner") / 1000 <= 0.6


def test_children_that_come_and_go_are_found_in_their_parents_reaped_times():
    parent_code = (
        "import subprocess, sys, time\n"
        "time.sleep(0.3)\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(seconds=0.3)!r}])\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        time.sleep(0.1)
        meter = CpuMeter(
            classify=lambda: {parent.pid: "parent"}, reaper=parent.pid, reaped_label="exited"
        )
        meter.start()
        deadline = time.monotonic() + 10
        while read_times(parent.pid).reaped_children_ticks == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        window = meter.stop(1.0)
    finally:
        parent.kill()
        parent.wait()
    assert 0.25 <= window.milliseconds("exited") / 1000 <= 0.6


def test_lost_and_duplicated_effects_are_counted_per_order():
    effects = {
        "dispatched": {"a": 1, "b": 1, "c": 0, "d": 2},
        "captures": {"a": 1, "b": 2, "c": 1, "d": 1, "stray": 1},
        "shipments": {"a": 1, "b": 1, "c": 1, "d": 1},
    }
    check = effects_check(effects, accepted=5)
    assert check["not_shipped"] == 1
    assert check["captured_more_than_once"] == 1
    assert check["dispatched_more_than_once"] == 1
    assert check["effects_of_unknown_orders"] == 1
    assert check["posts_201_without_order"] == 1
    assert check["lost"] == 2  # c, and the fifth 201 with no order behind it
    assert check["duplicated"] == 3  # b, d, and the capture of an order nobody placed


def _run(placements, *, drained_after=0.4, codes=None, post_p99_ms=12.0, sent_rate=100.0):
    ticks = CLOCK_TICKS
    return summarize_run(
        label="probe",
        configuration="batched",
        rate=100,
        seconds=4,
        planned=400,
        load_seconds=4.0,
        window_seconds=7.0,
        vegeta={
            "latencies": {
                "50th": 5e6,
                "95th": 9e6,
                "99th": post_p99_ms * 1e6,
                "max": 30e6,
            },
            "status_codes": codes or {"201": 400},
            "requests": 400,
            "rate": sent_rate,
        },
        placements=placements,
        drained_after=drained_after,
        drain_limit=3,
        backlog=(0, 0),
        lag={"orders": 0},
        cpu=CpuWindow(
            seconds=7.0,
            by_label={"orders": ticks, "postgres orders": ticks, "vegeta": ticks},
            machine={
                "user": 4 * ticks,
                "nice": 0,
                "system": 0,
                "idle": 10 * ticks,
                "iowait": 0,
                "irq": 0,
                "softirq": 0,
                "steal": 0,
            },
        ),
        statements={"orders": 1200, "payments": 800},
        transactions=(
            {"orders": (10, 0), "payments": (5, 1)},
            {"orders": (110, 0), "payments": (105, 1)},
        ),
        offsets=({"p.orders.events": 0}, {"p.orders.events": 400}),
        exports=0,
        memory={},
        post_limit_ms=1000,
        lag_growth=lambda second_quarter_p50: 1.5 * second_quarter_p50 + 250,
        rate_tolerance=0.95,
    )


def test_a_steady_run_is_sustained_and_costed_per_order():
    placements = [(float(i), 40.0) for i in range(400)]
    run = _run(placements)
    assert run["sustained"], run["why_not"]
    assert run["sql_per_order"]["total"] == 5.0
    assert run["commits_per_order"]["total"] == 0.5
    assert run["kafka_messages_per_order"]["total"] == 1.0
    assert run["cpu"]["stack_ms_per_order"] == 2000 / 400
    assert run["cpu"]["cores"]["rest_of_machine"] == 1 / 7


def test_a_steady_latency_is_sustained_however_long_it_is():
    assert _run([(float(i), 1200.0 + i % 7) for i in range(400)])["sustained"]


def test_growing_lag_a_slow_drain_or_a_refused_post_is_not_sustained():
    growing = [(float(i), 40.0 if i < 300 else 40.0 + 30 * (i - 300)) for i in range(400)]
    assert any("lag grows" in why for why in _run(growing)["why_not"])
    steady = [(float(i), 40.0) for i in range(400)]
    assert any("backlog" in why for why in _run(steady, drained_after=4.0)["why_not"])
    assert any("backlog" in why for why in _run(steady, drained_after=None)["why_not"])
    refused = _run(steady, codes={"201": 399, "500": 1})
    assert any("not 201" in why for why in refused["why_not"])
    assert not _run(steady, sent_rate=80.0)["sustained"]
    assert not _run([*steady[:399], (399.0, None)])["sustained"]


def test_the_summary_line_has_the_agreed_form():
    steady = _run([(float(i), 40.0) for i in range(400)])
    checks = {"lost": 0, "duplicated": 0}
    figures = {
        "configurations": {
            "batched": {"max_rate": 1234, "confirmed": True, "measured": steady, "checks": checks},
            "naive": {"max_rate": 95, "confirmed": True, "checks": checks},
        }
    }
    _, line = summary(figures)
    assert line == (
        "bench: max 1234 orders/s; at 70%: post p99 12 ms, e2e p50 40 ms, e2e p99 40 ms;"
        " cpu 5.0 ms/order; sql 5.0/order; commits 0.5/order; lost 0; duplicated 0;"
        " naive 95 orders/s (13.0x)"
    )


def test_targets_carry_distinct_references_and_take_the_urls_in_turn(tmp_path):
    path = tmp_path / "targets.json"
    urls = ["http://127.0.0.1:1/v1/orders", "http://127.0.0.1:2/v1/orders"]
    write_targets(path, urls, "key", {"partner_reference": "x", "currency": "EUR"}, "run-", 4)
    targets = [json.loads(line) for line in path.read_text().splitlines()]
    bodies = [json.loads(base64.b64decode(target["body"])) for target in targets]
    assert [body["partner_reference"] for body in bodies] == [f"run-{n:07d}" for n in range(4)]
    assert all(body["currency"] == "EUR" for body in bodies)
    assert [target["url"] for target in targets] == urls * 2
    assert targets[0]["header"]["Authorization"] == ["Bearer key"]
    assert targets[0]["method"] == "POST"
