"""The bench's figures: one run summarized, the guarantees checked, the printed report and the
one-line summary `make bench` ends with. Pure functions of what the bench measured."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from bench_proc import CLOCK_TICKS, CpuWindow

SERVICES = ("orders", "payments", "customs", "fulfillment")
POSTGRES_SHARED = ("postgres shared", "postgres exited")
LOAD_LABELS = ("vegeta", "bench", "postgres bench queries", "otlp sink")
OUTSIDE_LABELS = ("postgres other databases",)


def percentile(values: Iterable[float], share: float) -> float | None:
    """Nearest rank: the smallest value at or above `share` of the values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def distribution(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else None,
    }


def in_stack(label: str) -> bool:
    """Services (any replica), PostgreSQL serving them or shared by all, and Kafka."""
    if label == "kafka" or label in POSTGRES_SHARED:
        return True
    if label.startswith("postgres "):
        return label.removeprefix("postgres ") in SERVICES
    return label.split("-")[0] in SERVICES


def cpu_figures(cpu: CpuWindow, orders: int) -> dict:
    """CPU per order of each process label, of the stack, the load side and the rest."""
    per_order = (
        {label: cpu.milliseconds(label) / orders for label in cpu.by_label} if orders else {}
    )
    machine = cpu.machine
    busy_ms = (machine["user"] + machine["nice"] + machine["system"]) * 1000 / CLOCK_TICKS
    accounted_ms = sum(cpu.milliseconds(label) for label in cpu.by_label)
    stack = sum(value for label, value in per_order.items() if in_stack(label))
    load = sum(value for label, value in per_order.items() if label in LOAD_LABELS)

    def cores(ticks: float) -> float:
        return ticks / CLOCK_TICKS / cpu.seconds

    return {
        "ms_per_order": dict(sorted(per_order.items())),
        "stack_ms_per_order": stack,
        "load_ms_per_order": load,
        "window_seconds": cpu.seconds,
        "cores": {
            "stack": sum(cores(t) for label, t in cpu.by_label.items() if in_stack(label)),
            "load": sum(cores(t) for label, t in cpu.by_label.items() if label in LOAD_LABELS),
            "other_postgres_databases": sum(
                cores(t) for label, t in cpu.by_label.items() if label in OUTSIDE_LABELS
            ),
            # Processes outside the stack and the bench: this machine is shared.
            "rest_of_machine": max(0.0, (busy_ms - accounted_ms) / 1000 / cpu.seconds),
            "interrupts": cores(machine["irq"] + machine["softirq"]),
            "steal": cores(machine["steal"]),
            "idle": cores(machine["idle"] + machine["iowait"]),
        },
    }


def summarize_run(
    *,
    label: str,
    configuration: str,
    rate: int,
    seconds: int,
    planned: int,
    load_seconds: float,
    window_seconds: float,
    vegeta: dict,
    placements: list[tuple[float, float | None]],
    drained_after: float | None,
    drain_limit: float,
    backlog: tuple[int, int],
    lag: dict[str, int],
    cpu: CpuWindow,
    statements: dict[str, int],
    transactions: tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]],
    offsets: tuple[dict[str, int], dict[str, int]],
    exports: int,
    memory: dict[str, dict[str, float]],
    post_limit_ms: float,
    lag_growth: Callable[[float], float],
    rate_tolerance: float,
) -> dict:
    orders = len(placements)
    codes = {str(code): count for code, count in (vegeta.get("status_codes") or {}).items()}
    accepted = codes.get("201", 0)
    latencies = vegeta["latencies"]
    post = {
        "p50": latencies["50th"] / 1e6,
        "p95": latencies["95th"] / 1e6,
        "p99": latencies["99th"] / 1e6,
        "max": latencies["max"] / 1e6,
    }
    shipped = sorted((placed, e2e) for placed, e2e in placements if e2e is not None)
    quarter = len(shipped) // 4
    # The first quarter warms up; a stack that keeps up shows the same latency after it.
    second_quarter = [e2e for _, e2e in shipped[quarter : 2 * quarter]]
    last_quarter = [e2e for _, e2e in shipped[3 * quarter :]]
    e2e = distribution([e2e for _, e2e in shipped])
    e2e["second_quarter_p50"] = percentile(second_quarter, 0.5)
    e2e["last_quarter_p50"] = percentile(last_quarter, 0.5)
    before, after = transactions
    commits = {service: after[service][0] - before[service][0] for service in after}
    rollbacks = {service: after[service][1] - before[service][1] for service in after}
    messages = {topic: offsets[1][topic] - offsets[0][topic] for topic in offsets[1]}
    busy_seconds = load_seconds + (drained_after or 0)

    def per_order(values: dict[str, int]) -> dict[str, float]:
        figures = {key: value / orders for key, value in values.items()} if orders else {}
        figures["total"] = sum(values.values()) / orders if orders else 0.0
        return figures

    why_not = []
    if accepted < planned:
        others = {code: count for code, count in codes.items() if code != "201"}
        why_not.append(f"{planned - accepted} of {planned} POSTs not 201 {others or ''}".strip())
    if vegeta["rate"] < rate_tolerance * rate:
        why_not.append(f"sent at {vegeta['rate']:.0f}/s only")
    if post["p99"] > post_limit_ms:
        why_not.append(f"POST p99 {post['p99']:.0f} ms")
    if quarter and e2e["last_quarter_p50"] > lag_growth(e2e["second_quarter_p50"]):
        why_not.append(
            f"lag grows: placed->SHIPPED p50 {e2e['second_quarter_p50']:.0f} ms in the second"
            f" quarter, {e2e['last_quarter_p50']:.0f} ms in the last"
        )
    if drained_after is None:
        not_shipped, outbox = backlog
        why_not.append(f"backlog not cleared: {not_shipped} not shipped, outbox {outbox}")
    elif drained_after > drain_limit:
        why_not.append(f"backlog cleared only {drained_after:.1f} s after the end")
    if len(shipped) < orders:
        why_not.append(f"{orders - len(shipped)} orders not shipped")
    return {
        "label": label,
        "configuration": configuration,
        "rate": rate,
        "seconds": seconds,
        "orders": orders,
        "accepted": accepted,
        "requests": vegeta["requests"],
        "status_codes": codes,
        "errors": (vegeta.get("errors") or [])[:5],
        "sent_rate": vegeta["rate"],
        "load_seconds": load_seconds,
        "window_seconds": window_seconds,
        "post_ms": post,
        "e2e_ms": e2e,
        "drained_after_s": drained_after,
        "consumer_lag_at_end": lag,
        "cpu": cpu_figures(cpu, orders),
        "sql_per_order": per_order(statements),
        "commits_per_order": per_order(commits),
        "rollbacks_per_order": per_order(rollbacks),
        "kafka_messages_per_order": per_order(messages),
        "commits_per_s": sum(commits.values()) / busy_seconds if busy_seconds else 0.0,
        "kafka_messages_per_s": sum(messages.values()) / busy_seconds if busy_seconds else 0.0,
        "trace_exports": exports,
        "memory_mb": memory,
        "sustained": not why_not,
        "why_not": why_not,
    }


def effects_check(effects: dict[str, dict], accepted: int) -> dict:
    """Lost: a 201 without an order, or an order not SHIPPED, not captured or without a
    shipment. Duplicated: an order captured, shipped or dispatched more than once, or an
    effect for an order the orders database does not know."""
    dispatched, captures, shipments = (
        effects["dispatched"],
        effects["captures"],
        effects["shipments"],
    )
    orders = set(dispatched)
    not_shipped = {order for order in orders if dispatched[order] == 0}
    not_captured = {order for order in orders if captures.get(order, 0) == 0}
    without_shipment = {order for order in orders if shipments.get(order, 0) == 0}
    twice = {
        "dispatched": {order for order in orders if dispatched[order] > 1},
        "captured": {order for order in orders if captures.get(order, 0) > 1},
        "shipment": {order for order in orders if shipments.get(order, 0) > 1},
    }
    unknown = (set(captures) | set(shipments)) - orders
    missing = max(0, accepted - len(orders))
    lost = len(not_shipped | not_captured | without_shipment) + missing
    duplicated = len(twice["dispatched"] | twice["captured"] | twice["shipment"]) + len(unknown)
    return {
        "orders": len(orders),
        "posts_201": accepted,
        "orders_without_201": max(0, len(orders) - accepted),
        "posts_201_without_order": missing,
        "not_shipped": len(not_shipped),
        "not_captured": len(not_captured),
        "without_shipment": len(without_shipment),
        "dispatched_more_than_once": len(twice["dispatched"]),
        "captured_more_than_once": len(twice["captured"]),
        "more_than_one_shipment": len(twice["shipment"]),
        "effects_of_unknown_orders": len(unknown),
        "lost": lost,
        "duplicated": duplicated,
    }


# ---- printing -----------------------------------------------------------------------------


def number(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def run_line(run: dict) -> str:
    verdict = "ok" if run["sustained"] else "NOT SUSTAINED: " + "; ".join(run["why_not"])
    post, e2e = run["post_ms"], run["e2e_ms"]
    return (
        f"{run['configuration']} {run['label']} {run['rate']}/s x {run['seconds']} s:"
        f" post p99 {number(post['p99'])} ms, e2e p50 {number(e2e['p50'])}"
        f" p99 {number(e2e['p99'])} ms (p50 quarter 2 -> 4: {number(e2e['second_quarter_p50'])}"
        f" -> {number(e2e['last_quarter_p50'])}),"
        f" drained {number(run['drained_after_s'], 1)} s,"
        f" cpu {run['cpu']['stack_ms_per_order']:.2f} ms/order,"
        f" sql {run['sql_per_order']['total']:.1f}, commits {run['commits_per_order']['total']:.2f}"
        f" -> {verdict}"
    )


def summary(figures: dict) -> tuple[dict, str]:
    batched = figures["configurations"]["batched"]
    naive = figures["configurations"]["naive"]
    measured = batched.get("measured")
    checks = [configuration["checks"] for configuration in figures["configurations"].values()]
    lost = sum(check["lost"] for check in checks)
    duplicated = sum(check["duplicated"] for check in checks)
    ratio = batched["max_rate"] / naive["max_rate"] if naive["max_rate"] else None
    values = {
        "max_rate": batched["max_rate"],
        "max_rate_confirmed": batched["confirmed"],
        "post_p99_ms": measured and measured["post_ms"]["p99"],
        "e2e_p50_ms": measured and measured["e2e_ms"]["p50"],
        "e2e_p99_ms": measured and measured["e2e_ms"]["p99"],
        "cpu_ms_per_order": measured and measured["cpu"]["stack_ms_per_order"],
        "sql_per_order": measured and measured["sql_per_order"]["total"],
        "commits_per_order": measured and measured["commits_per_order"]["total"],
        "lost": lost,
        "duplicated": duplicated,
        "naive_max_rate": naive["max_rate"],
        "naive_max_rate_confirmed": naive["confirmed"],
        "ratio": ratio,
    }
    line = (
        f"bench: max {values['max_rate']} orders/s;"
        f" at 70%: post p99 {number(values['post_p99_ms'])} ms,"
        f" e2e p50 {number(values['e2e_p50_ms'])} ms, e2e p99 {number(values['e2e_p99_ms'])} ms;"
        f" cpu {number(values['cpu_ms_per_order'], 1)} ms/order;"
        f" sql {number(values['sql_per_order'], 1)}/order;"
        f" commits {number(values['commits_per_order'], 1)}/order;"
        f" lost {lost}; duplicated {duplicated};"
        f" naive {values['naive_max_rate']} orders/s ({number(ratio, 1)}x)"
    )
    return values, line


def _table(rows: Iterable[tuple[str, str]], indent: str = "  ") -> list[str]:
    rows = list(rows)
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{indent}{name:<{width}}  {value}" for name, value in rows]


def _cpu_rows(run: dict) -> list[tuple[str, str]]:
    cpu = run["cpu"]
    per_order = cpu["ms_per_order"]
    stack = sorted((label for label in per_order if in_stack(label)), key=_stack_order)
    rows = [(label, f"{per_order[label]:6.3f} ms/order") for label in stack]
    rows.append(("= stack total", f"{cpu['stack_ms_per_order']:6.3f} ms/order"))
    for label in LOAD_LABELS:
        if label in per_order:
            rows.append((f"(load) {label}", f"{per_order[label]:6.3f} ms/order"))
    cores = cpu["cores"]
    window = cpu["window_seconds"]
    rows += [
        ("machine, in cores", f"over {window:.0f} s, of {run['orders']} orders:"),
        ("  stack", f"{cores['stack']:.2f}"),
        ("  load generator + bench", f"{cores['load']:.2f}"),
        ("  postgres, other databases", f"{cores['other_postgres_databases']:.2f}"),
        ("  everything else", f"{cores['rest_of_machine']:.2f}"),
        ("  interrupts (irq, softirq)", f"{cores['interrupts']:.2f}"),
        ("  stolen by the hypervisor", f"{cores['steal']:.2f}"),
        ("  idle", f"{cores['idle']:.2f}"),
    ]
    return rows


def _stack_order(label: str) -> tuple[int, str]:
    if label == "kafka":
        return (3, label)
    if label.startswith("postgres"):
        return (2, label)
    return (1, label)


def _per_database(figures: dict[str, float]) -> str:
    parts = [f"{key} {value:.2f}" for key, value in figures.items() if key != "total"]
    return f"{figures['total']:.2f}  ({', '.join(parts)})"


def _tracing_line(name: str, run: dict) -> str:
    return (
        f"  {name}   {run['cpu']['stack_ms_per_order']:.3f} ms/order"
        f"  post p99 {number(run['post_ms']['p99'])} ms  e2e p99 {number(run['e2e_ms']['p99'])} ms"
    )


def print_report(figures: dict) -> None:
    lines: list[str] = []
    configurations = figures["configurations"]
    batched, naive = configurations["batched"], configurations["naive"]
    ceilings = figures["ceilings"]
    lines += [
        "",
        "== make bench: the order pipeline from placement to SHIPPED ==",
        "HUB_CLOCK_FACTOR=0: shipments stop once booked (SHIPPED) and consolidated; every figure",
        "is the pipeline up to SHIPPED. Load: vegeta, open loop, constant arrival rate, on"
        " keep-alive connections (the services' HTTP keep-alive set to 120 s).",
        f"{figures['replicas']} process(es) per service; {figures['machine']['cpus']} CPUs;"
        f" {'quick' if figures['quick'] else 'full'} plan; took {figures['seconds']:.0f} s.",
        f"Sustained: {figures['sustained_means']}",
        "",
        "-- the machine's ceilings --",
        *_table(
            [
                (
                    "PostgreSQL (pgbench, 16 clients, 1-row INSERT + COMMIT)",
                    f"{ceilings['postgres']['commits_per_s']:.0f} commits/s",
                ),
                (
                    "Kafka (ProducerPerformance, 600 B, acks=all)",
                    f"{ceilings['kafka']['records_per_s']:.0f} records/s",
                ),
            ]
        ),
        "",
        "-- maximum sustained rate --",
    ]
    for name, configuration in (("batched", batched), ("naive", naive)):
        confirm = configuration.get("confirm") or []
        seconds = confirm[-1]["seconds"] if confirm else 0
        state = "confirmed" if configuration["confirmed"] else "NOT confirmed"
        lines.append(
            f"  {name:<8} {configuration['max_rate']:>5} orders/s ({state} for {seconds} s;"
            f" probe found {configuration.get('probe_rate', 'nothing')})"
        )
    if naive["max_rate"]:
        lines.append(f"  batched / naive: {batched['max_rate'] / naive['max_rate']:.1f}x")
    top = (batched.get("confirm") or [None])[-1]
    if top:
        lines += [
            f"  at the maximum: {top['commits_per_s']:.0f} commits/s"
            f" ({top['commits_per_s'] / ceilings['postgres']['commits_per_s']:.0%} of pgbench),"
            f" {top['kafka_messages_per_s']:.0f} Kafka messages/s"
            f" ({top['kafka_messages_per_s'] / ceilings['kafka']['records_per_s']:.0%} of"
            " ProducerPerformance)",
        ]
    measured = batched.get("measured")
    if measured:
        post, e2e = measured["post_ms"], measured["e2e_ms"]
        lines += [
            "",
            f"-- batched at 70%: {measured['rate']} orders/s for {measured['seconds']} s,"
            f" {measured['orders']} orders --",
            f"  POST /v1/orders   p50 {number(post['p50'], 1)} ms  p95 {number(post['p95'], 1)} ms"
            f"  p99 {number(post['p99'], 1)} ms  max {number(post['max'], 1)} ms",
            f"  placed -> SHIPPED p50 {number(e2e['p50'], 1)} ms  p95 {number(e2e['p95'], 1)} ms"
            f"  p99 {number(e2e['p99'], 1)} ms  max {number(e2e['max'], 1)} ms",
            "  CPU per order (from /proc; the window runs until the pipeline drained):",
            *_table(_cpu_rows(measured), indent="    "),
            f"  SQL statements per order   {_per_database(measured['sql_per_order'])}",
            f"  commits per order          {_per_database(measured['commits_per_order'])}",
            f"  rollbacks per order        {_per_database(measured['rollbacks_per_order'])}",
            "  Kafka messages per order   "
            + _per_database(
                {
                    topic.split(".", 1)[-1]: value
                    for topic, value in measured["kafka_messages_per_order"].items()
                }
            ),
            "  resident memory (now / peak):",
            *_table(
                [
                    (name, f"{memory.get('rss', 0):.0f} / {memory.get('peak', 0):.0f} MB")
                    for name, memory in sorted(measured["memory_mb"].items())
                ],
                indent="    ",
            ),
        ]
    off, on = batched.get("tracing_off"), batched.get("tracing_on")
    if off and on:
        off_ms, on_ms = off["cpu"]["stack_ms_per_order"], on["cpu"]["stack_ms_per_order"]
        lines += [
            "",
            f"-- tracing at {on['rate']} orders/s, {on['seconds']} s each --",
            _tracing_line("off (OTEL_TRACES_EXPORTER=none)", off),
            _tracing_line("on  (otlp, every order sampled)", on)
            + f"  ({on['trace_exports']} exports to the sink)",
            f"  tracing costs {on_ms / off_ms - 1:+.1%} CPU per order" if off_ms else "",
        ]
    rebalance = batched.get("rebalance")
    if rebalance:
        lines += ["", "-- replicas leave and rejoin under load --", "  " + run_line(rebalance)]
    lines += ["", "-- guarantees, over every order of each configuration --"]
    for name, configuration in configurations.items():
        check = configuration["checks"]
        lines.append(
            f"  {name:<8} {check['orders']} orders: lost {check['lost']}, duplicated"
            f" {check['duplicated']} (not shipped {check['not_shipped']}, not captured"
            f" {check['not_captured']}, without shipment {check['without_shipment']},"
            f" captured twice {check['captured_more_than_once']}, two shipments"
            f" {check['more_than_one_shipment']}); outbox"
            f" {'empty' if check['outbox_empty'] else check['outbox_pending']}; dead letters"
            f" {'none' if check['dead_letter_topics_empty'] else check['dead_letters']};"
            f" consumer lag {sum(check['consumer_lag'].values())}"
        )
    lines.append("")
    print("\n".join(line for line in lines if line is not None), flush=True)
