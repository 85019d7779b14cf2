"""`make bench`: the highest rate the whole order pipeline sustains on this machine, what one
order costs there, and whether every guarantee held.

The bench runs a stack of its own on the project's PostgreSQL and Kafka, never the `make up`
one: databases suffixed `_bench`, created afresh for each configuration; topics under a prefix
unique to the configuration; the four services on ports 28001-28004 (replica n 10 * (n - 1)
ports above), their processes named `<service>-bench`. The hub clock is stopped
(HUB_CLOCK_FACTOR=0): shipments stop once booked (SHIPPED) and consolidated, so every figure
is that of the pipeline from placement to SHIPPED.

Load is open loop at a constant arrival rate (vegeta, built from the Go module proxy):
POST /v1/orders with a partner key, each body the demo order with its own partner reference.
A rate is *sustained* when every POST got a 201 at that rate with POST p99 under a second,
the placed -> SHIPPED latency does not grow through the run (a stack that falls behind adds
its deficit to every later order), and every order of the run is SHIPPED with all four
outboxes empty within a few seconds of the end.
Placement and shipping times are read from the orders database after each run; nothing polls
the stack while the load runs.

In one run: the machine's ceilings (pgbench commits/s, Kafka ProducerPerformance records/s);
the batched configuration (the services' defaults): a stepped probe, a confirmation of at
least 60 s at the rate found, 60 s at 70 % of it with every cost measured, tracing off and on
at that rate; the naive configuration (one event per transaction, no relay batching): probe
and confirmation. After each configuration: every order shipped, captured once, one shipment
each, outboxes empty, dead-letter topics empty.

    scripts/bench.py [--quick] [--replicas 2]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import importlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(1, str(ROOT))

import bench_ceilings  # noqa: E402
import bench_report  # noqa: E402
import devstack  # noqa: E402
from bench_load import VEGETA_VERSION, Attack, install_vegeta, write_targets  # noqa: E402
from bench_proc import (  # noqa: E402
    CpuMeter,
    children_of,
    command_line,
    listening_pid,
    memory_mb,
    read_times,
    rusage_ticks,
)
from bench_stack import Broker, Databases, DrainState, scratch_topic  # noqa: E402

from shared.settings import ServiceSettings  # noqa: E402

WORK = devstack.DATA / "bench"
# Request bodies, vegeta's results, the ceiling tools' files: removed when the bench ends.
SCRATCH = WORK / "scratch"
BIN = devstack.DATA / "bin"
TEST_LOCK = Path("/tmp/ehub-test.lock")
LOCK_WAIT_SECONDS, LOCK_POLL_SECONDS = 30 * 60, 2
PORTS = {"orders": 28001, "payments": 28002, "customs": 28003, "fulfillment": 28004}
NAME_SUFFIX = "-bench"
DATABASE_SUFFIX = "_bench"
BUDGET_SECONDS = 15 * 60

# What makes a rate sustained (see the module's docstring and SUSTAINED_MEANS).
POST_LIMIT_MS = 1000.0
RATE_TOLERANCE = 0.95
LAG_GROWTH_RATIO, LAG_GROWTH_SLACK_MS = 1.5, 250.0
# The load generator's tested range on this machine.
MIN_RATE, MAX_RATE = 2, 5000
PROBE_START_RATE = 100
PROBE_PRECISION = 1.1
PROBE_MAX_STEPS = 12
# For the time budget: steps a probe usually takes, seconds a restart of the services takes,
# and the checks closing a configuration.
PROBE_EXPECTED_STEPS = 7
RESTART_SECONDS = 15
NAIVE_CHECKS_SECONDS = 30
# A run beyond its load: writing the bodies, draining, settling, reading the figures; more
# when the stack fell behind.
RUN_OVERHEAD_SECONDS = 15
CONFIRM_STEP_DOWN = 0.9
MEASURED_SHARE = 0.7
REBALANCE_SHARE = 0.5
# After the last request: how long the bench waits at most for the backlog to clear, and how
# long it then lets the backends publish their statistics before it reads them. A busy
# backend publishes them within a second; an idle one holds its last second for up to
# 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL), which the headline runs wait out at both ends.
DRAIN_LIMIT_SECONDS = 120
SETTLE_SECONDS = 2.5
IDLE_STATISTICS_SECONDS = 10.5
SAMPLE_SECONDS = 0.5

CONFIGURATIONS = {
    "batched": {},
    "naive": {
        "CONSUMER_BATCH_SIZE": "1",
        "CONSUMER_GATHER_SECONDS": "0",
        "CONSUMER_COMMIT_INTERVAL_SECONDS": "0",
        "OUTBOX_BATCH_SIZE": "1",
        "OUTBOX_GATHER_SECONDS": "0",
    },
}
TRACING_OFF = {"OTEL_TRACES_EXPORTER": "none"}
STACK_ENV = {
    "HUB_CLOCK_FACTOR": "0",
    # uvicorn closes a connection idle for 5 s by default; a POST that vegeta sends on it at
    # that instant is reset, which says nothing about the stack. Longer than any run: no race.
    "UVICORN_TIMEOUT_KEEP_ALIVE": "120",
}


@dataclass(frozen=True)
class Plan:
    step_seconds: int = 8
    probe_drain_seconds: float = 3
    confirm_seconds: int = 60
    confirm_drain_seconds: float = 5
    confirm_attempts: int = 3
    measure_seconds: int = 60
    tracing_seconds: int = 30
    rebalance_seconds: int = 30
    ceiling_seconds: int = 10
    warmup_seconds: int = 3


FULL = Plan()
QUICK = Plan(
    step_seconds=4,
    confirm_seconds=10,
    confirm_drain_seconds=4,
    confirm_attempts=2,
    measure_seconds=10,
    tracing_seconds=8,
    rebalance_seconds=12,
    ceiling_seconds=6,
)


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def take_test_lock() -> object:
    """The lock the integration and end-to-end tests take: they share the broker and cluster."""
    lock = open(TEST_LOCK, "a")  # noqa: SIM115 (held until the process exits)
    for attempt in range(LOCK_WAIT_SECONDS // LOCK_POLL_SECONDS):
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            if attempt == 0:
                say(f"waiting for {TEST_LOCK} (tests are running)")
            time.sleep(LOCK_POLL_SECONDS)
    raise SystemExit(f"[bench] {TEST_LOCK} stayed taken for {LOCK_WAIT_SECONDS} s")


def isolate_environment() -> list[str]:
    """Drop the caller's settings of the services, so each configuration is what it says."""
    names = {
        "LOG_LEVEL",
        "KAFKA_BOOTSTRAP_SERVERS",
        *(f"{service.upper()}_DATABASE_URL" for service in devstack.SERVICES),
    }
    for service in devstack.SERVICES:
        module = importlib.import_module(f"services.{service}.settings")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, ServiceSettings):
                names.update(field.upper() for field in value.model_fields)
    removed = sorted(name for name in os.environ if name in names or name.startswith("OTEL_"))
    for name in removed:
        del os.environ[name]
    return removed


def postmaster_pid() -> int:
    return int((devstack.postgres_data_dir() / "postmaster.pid").read_text().split()[0])


def kafka_pid() -> int:
    pid_file = devstack.RUN / "kafka.pid"
    if devstack.pid_alive(pid_file):
        return int(pid_file.read_text())
    port = int(devstack.LOCAL_KAFKA_BOOTSTRAP.rsplit(":", 1)[1])
    pid = listening_pid(port)
    if pid is None:
        raise devstack.StackError("no process listens on the Kafka port")
    return pid


def stop_leftovers() -> None:
    """Services of an interrupted bench would hold the bench databases."""
    for pid_file in sorted(devstack.RUN.glob(f"*{NAME_SUFFIX}*.pid")):
        devstack.stop_pid(pid_file, pid_file.stem)


def lag_bound(second_quarter_p50_ms: float) -> float:
    """The highest median placed -> SHIPPED latency of a run's last quarter that still says
    the pipeline keeps up: a stack falling behind adds its deficit to every later order."""
    return second_quarter_p50_ms * LAG_GROWTH_RATIO + LAG_GROWTH_SLACK_MS


SUSTAINED_MEANS = (
    f"every POST 201 at {RATE_TOLERANCE:.0%} of the rate or more, POST p99 under"
    f" {POST_LIMIT_MS:.0f} ms; placed->SHIPPED not growing (the last quarter's median at most"
    f" {LAG_GROWTH_RATIO}x + {LAG_GROWTH_SLACK_MS:.0f} ms of the second quarter's); every order"
    " SHIPPED and the outboxes empty within {probe} s (probe) / {confirm} s (confirmation) of"
    " the end."
)


def throughput(run: dict) -> float:
    """Orders a run got to SHIPPED per second, from its first request until it drained."""
    drained_after = run["drained_after_s"]
    busy = run["load_seconds"] + (
        drained_after if drained_after is not None else DRAIN_LIMIT_SECONDS
    )
    return run["orders"] / busy


class Bench:
    def __init__(self, plan: Plan, replicas: int, vegeta: Path) -> None:
        self.plan = plan
        self.replicas = replicas
        self.vegeta = vegeta
        self.started = time.monotonic()
        self.body = json.loads((ROOT / "scripts" / "demo_order.json").read_text())
        self.sink: subprocess.Popen | None = None
        self.sink_port = 0
        self.attack: Attack | None = None
        self.stack: devstack.Stack | None = None
        self.databases: Databases | None = None
        self.broker: Broker | None = None
        self.meter: CpuMeter | None = None
        self.instance_pids: dict[str, int] = {}
        self.postmaster = 0
        self.kafka = 0
        self.configuration = ""
        self.api_key = ""
        self.partner_id: object = None
        self.accepted = 0
        self.runs = 0

    # ---- processes -------------------------------------------------------------------

    def classify(self) -> dict[int, str]:
        """Every process whose CPU the bench reports, by label."""
        labels = {pid: name.replace(NAME_SUFFIX, "") for name, pid in self.instance_pids.items()}
        labels[self.kafka] = "kafka"
        labels[self.postmaster] = "postgres shared"
        for pid in children_of(self.postmaster):
            labels[pid] = self.postgres_label(command_line(pid))
        labels[os.getpid()] = "bench"
        if self.sink is not None:
            labels[self.sink.pid] = "otlp sink"
        if self.attack is not None:
            labels[self.attack.pid] = "vegeta"
        return labels

    def postgres_label(self, command: str) -> str:
        """A backend by the database it serves; the bench's own (superuser) backends apart."""
        words = command.split()
        databases = {name: service for service, name in self.databases.names.items()}
        if len(words) >= 4 and words[0] == "postgres:" and "(" in words[3]:
            user, database = words[1], words[2]
            if database not in databases:
                return "postgres other databases"
            return (
                "postgres bench queries"
                if user == "postgres"
                else f"postgres {databases[database]}"
            )
        if "autovacuum worker" in command and words[-1] in databases:
            return f"postgres {databases[words[-1]]}"
        return "postgres shared"

    def start_sink(self) -> None:
        self.sink = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "bench_sink.py")],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.sink_port = int(self.sink.stdout.readline())

    def sink_stats(self) -> dict[str, int]:
        url = f"http://127.0.0.1:{self.sink_port}/stats"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    def tracing_on(self) -> dict[str, str]:
        return {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.sink_port}",
            "OTEL_TRACES_SAMPLER_RATIO": "1",
        }

    def orders_urls(self, replicas: int | None = None) -> list[str]:
        """The orders API of the first `replicas` replicas (all by default), taken in turn."""
        instances = self.stack.instances("orders")[:replicas]
        return [f"http://127.0.0.1:{port}/v1/orders" for _, port in instances]

    def remember_instances(self) -> None:
        self.instance_pids = {
            name: int((devstack.RUN / f"{name}.pid").read_text())
            for service in devstack.SERVICES
            for name, _ in self.stack.instances(service)
        }

    async def stop_instance(self, name: str) -> None:
        """Stops one service process gracefully and charges the window its CPU to the end."""
        pid = self.instance_pids.pop(name)
        times = read_times(pid)
        os.killpg(pid, signal.SIGTERM)
        for _ in range(200):
            reaped, _, rusage = os.wait4(pid, os.WNOHANG)
            if reaped:
                break
            await asyncio.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
            _, _, rusage = os.wait4(pid, 0)
        if times is not None:
            self.meter.record_exit(times.key, rusage_ticks(rusage), name.replace(NAME_SUFFIX, ""))
        (devstack.RUN / f"{name}.pid").unlink(missing_ok=True)
        say(f"  stopped {name}")

    def start_instance(self, service: str, name: str, port: int) -> None:
        devstack.spawn_service(self.stack, service, name, port)
        self.instance_pids[name] = int((devstack.RUN / f"{name}.pid").read_text())
        say(f"  started {name}")

    # ---- configurations --------------------------------------------------------------

    async def open_configuration(self, name: str, env: dict[str, str]) -> None:
        self.configuration = name
        self.accepted = 0
        stop_leftovers()
        stack = devstack.infra_up(database_suffix=DATABASE_SUFFIX, fresh_databases=True)
        stack.ports = PORTS
        stack.name_suffix = NAME_SUFFIX
        stack.replicas = self.replicas
        stack.topic_prefix = f"bench-{uuid.uuid4().hex[:8]}."
        self.stack = stack
        self.broker = Broker(stack.kafka_bootstrap, stack.topic_prefix)
        await self.broker.start()
        self.postmaster = postmaster_pid()
        self.kafka = kafka_pid()
        await self.start_services(env)
        partner = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        self.api_key = devstack.issue_partner_key(stack, partner)
        self.databases = Databases(DATABASE_SUFFIX)
        await self.databases.open()
        self.partner_id = await self.databases.partner_id(partner)
        self.meter = CpuMeter(
            classify=self.classify, reaper=self.postmaster, reaped_label="postgres exited"
        )
        await self.run("warm-up", 20, self.plan.warmup_seconds, DRAIN_LIMIT_SECONDS, quiet=True)

    async def start_services(self, env: dict[str, str]) -> None:
        self.stack.extra_env = {**STACK_ENV, **env}
        shown = " ".join(f"{key}={value}" for key, value in env.items()) or "the defaults"
        say(f"{self.configuration}: starting {self.replicas} x 4 services with {shown}")
        devstack.start_services(self.stack)
        self.remember_instances()

    async def restart_services(self, env: dict[str, str]) -> None:
        devstack.stop_services(NAME_SUFFIX, self.replicas)
        await self.start_services(env)

    async def close_configuration(self) -> dict:
        """The guarantees over every order the configuration placed."""
        since = datetime.fromtimestamp(0, UTC)
        drained_after, state = await self.wait_drained(since, DRAIN_LIMIT_SECONDS)
        effects = await self.databases.effects()
        dead_letters = await self.broker.end_offsets(self.broker.dead_letter_topics)
        lag = await self.broker.lag()
        outbox = await self.databases.outbox_pending()
        checks = bench_report.effects_check(effects, self.accepted)
        checks.update(
            outbox_pending=outbox,
            outbox_empty=not any(outbox.values()),
            dead_letters=dead_letters,
            dead_letter_topics_empty=not any(dead_letters.values()),
            consumer_lag=lag,
            drained=drained_after is not None,
        )
        await self.release_configuration()
        return checks

    async def release_configuration(self) -> None:
        """Stops the configuration's services and lets go of its databases and topics."""
        if self.attack is not None:
            self.attack.kill()
            self.attack = None
        if self.databases is not None:
            await self.databases.close()
            self.databases = None
        devstack.stop_services(NAME_SUFFIX, self.replicas)
        self.instance_pids = {}
        if self.broker is not None:
            await self.broker.close(delete_topics=True)
            self.broker = None

    # ---- one run ---------------------------------------------------------------------

    async def wait_drained(self, since: datetime, limit: float) -> tuple[float | None, DrainState]:
        """Seconds until every order placed since `since` is SHIPPED and the outboxes are
        empty (None if not within `limit`). Checks often at first, then less."""
        started = time.monotonic()
        state = await self.databases.drain_state(self.partner_id, since)
        for _ in range(int(limit / 0.1) + 1):
            if state.drained:
                return time.monotonic() - started, state
            elapsed = time.monotonic() - started
            if elapsed > limit:
                break
            if self.meter is not None:
                self.meter.sample()
            await asyncio.sleep(min(1.0, 0.1 + elapsed / 10))
            state = await self.databases.drain_state(self.partner_id, since)
        return None, state

    async def run(
        self,
        label: str,
        rate: int,
        seconds: int,
        drain_seconds: float,
        *,
        urls: list[str] | None = None,
        during: list[tuple[float, Callable[[], Awaitable[None]]]] | None = None,
        quiesce_before: bool = False,
        settle_seconds: float = SETTLE_SECONDS,
        quiet: bool = False,
    ) -> dict:
        """`rate` orders/s for `seconds`; what it cost, from the first request until the
        pipeline drained and `settle_seconds` more. `during`: (seconds after the start,
        coroutine function) to run meanwhile. `quiesce_before`: wait until the previous run's
        statistics are all published first."""
        self.runs += 1
        reference_prefix = f"bench-{self.configuration}-{self.runs:02d}-"
        planned = max(1, round(rate * seconds))
        targets, results = SCRATCH / "targets.json", SCRATCH / "results.bin"
        write_targets(
            targets, urls or self.orders_urls(), self.api_key, self.body, reference_prefix, planned
        )
        if quiesce_before:
            await asyncio.sleep(IDLE_STATISTICS_SECONDS)
        await self.databases.reset_statement_counts()
        transactions_before = await self.databases.transaction_counts()
        offsets_before = await self.broker.end_offsets(self.broker.event_topics)
        exports_before = self.sink_stats()
        since = datetime.now(UTC)
        self.meter.start()
        started = time.monotonic()
        self.attack = attack = Attack(self.vegeta, targets, rate, seconds, results)
        actions = sorted(during or [], key=lambda action: action[0])
        tasks = []
        for _ in range(int((seconds + 30) / SAMPLE_SECONDS)):
            if attack.finished():
                break
            while actions and actions[0][0] <= time.monotonic() - started:
                tasks.append(asyncio.create_task(actions.pop(0)[1]()))
            self.meter.sample()
            await asyncio.sleep(SAMPLE_SECONDS)
        else:
            attack.kill()
        load_seconds = time.monotonic() - started
        self.meter.record_exit(attack.key, attack.final_ticks, "vegeta")
        self.attack = None
        for task in tasks:
            await task
        drained_after, state = await self.wait_drained(since, DRAIN_LIMIT_SECONDS)
        lag = await self.broker.lag()
        for _ in range(math.ceil(settle_seconds / SAMPLE_SECONDS)):
            self.meter.sample()
            await asyncio.sleep(SAMPLE_SECONDS)
        window = time.monotonic() - started
        cpu = self.meter.stop(window)
        statements = await self.databases.statement_counts()
        transactions_after = await self.databases.transaction_counts()
        offsets_after = await self.broker.end_offsets(self.broker.event_topics)
        exports_after = self.sink_stats()
        memory = {
            name.replace(NAME_SUFFIX, ""): memory_mb(pid)
            for name, pid in self.instance_pids.items()
        }
        vegeta = attack.report()
        placements = await self.databases.placements(self.partner_id, since, reference_prefix)
        self.accepted += vegeta["status_codes"].get("201", 0)
        result = bench_report.summarize_run(
            label=label,
            configuration=self.configuration,
            rate=rate,
            seconds=seconds,
            planned=planned,
            load_seconds=load_seconds,
            window_seconds=window,
            vegeta=vegeta,
            placements=placements,
            drained_after=drained_after,
            drain_limit=drain_seconds,
            backlog=state.backlog,
            lag=lag,
            cpu=cpu,
            statements=statements,
            transactions=(transactions_before, transactions_after),
            offsets=(offsets_before, offsets_after),
            exports=exports_after["exports"] - exports_before["exports"],
            memory=memory,
            post_limit_ms=POST_LIMIT_MS,
            lag_growth=lag_bound,
            rate_tolerance=RATE_TOLERANCE,
        )
        for path in (targets, results, attack.errors):
            path.unlink(missing_ok=True)
        if not quiet:
            say(bench_report.run_line(result))
        return result

    # ---- the search for the maximum --------------------------------------------------

    async def probe(self, start: int) -> tuple[int | None, list[dict]]:
        """Doubles (or halves) the rate in short steps until one passes and one fails, then
        narrows the gap to 10 %; returns the highest rate that passed."""
        passed: int | None = None
        failed: int | None = None
        rate, steps = start, []
        for _ in range(PROBE_MAX_STEPS):
            step = await self.run(
                "probe", rate, self.plan.step_seconds, self.plan.probe_drain_seconds
            )
            steps.append(step)
            if step["sustained"]:
                passed = rate
            else:
                failed = rate
            if failed is None:
                if rate >= MAX_RATE:
                    break
                rate = min(MAX_RATE, rate * 2)
            elif passed is None:
                if rate <= MIN_RATE:
                    break
                # An overloaded step shows what the stack got through: start below that.
                rate = max(MIN_RATE, min(rate // 2, round(0.9 * throughput(step))))
            else:
                if failed / passed <= PROBE_PRECISION:
                    break
                rate = round(math.sqrt(passed * failed))
                if rate in (passed, failed):
                    break
        return passed, steps

    async def confirm(self, rate: int, reserve_seconds: float) -> tuple[int, bool, list[dict]]:
        """At least `confirm_seconds` at `rate`, stepping down by 10 % (or to what the failed
        run got through) while it fails, as long as `reserve_seconds` remain for what follows."""
        runs = []
        for attempt in range(self.plan.confirm_attempts):
            needed = self.plan.confirm_seconds + RUN_OVERHEAD_SECONDS
            if attempt and self.remaining() < needed + reserve_seconds:
                say("  no time left for another confirmation")
                break
            result = await self.run(
                "confirm", rate, self.plan.confirm_seconds, self.plan.confirm_drain_seconds
            )
            runs.append(result)
            if result["sustained"]:
                return rate, True, runs
            below = min(rate - 1, round(rate * CONFIRM_STEP_DOWN), round(throughput(result)))
            rate = max(MIN_RATE, below)
        return runs[-1]["rate"], False, runs

    def remaining(self) -> float:
        return BUDGET_SECONDS - (time.monotonic() - self.started)

    def after_batched_confirm(self) -> float:
        """Seconds the bench needs after the batched confirmation: the measured, rebalancing
        and tracing runs, three restarts, and the naive configuration's probe and confirmation."""
        plan = self.plan
        runs = plan.measure_seconds + 2 * plan.tracing_seconds + plan.confirm_seconds
        if self.replicas > 1:
            runs += plan.rebalance_seconds
        probe = PROBE_EXPECTED_STEPS * (plan.step_seconds + RUN_OVERHEAD_SECONDS)
        waits = 4 * IDLE_STATISTICS_SECONDS + 3 * RESTART_SECONDS + NAIVE_CHECKS_SECONDS
        return runs + probe + 5 * RUN_OVERHEAD_SECONDS + waits

    # ---- the whole bench -------------------------------------------------------------

    async def ceilings(self) -> dict:
        seconds = self.plan.ceiling_seconds
        say(f"ceilings: pgbench for {seconds} s")
        pgbench = bench_ceilings.pgbench_commits_per_second(seconds, SCRATCH)
        say(f"  PostgreSQL: {pgbench['commits_per_s']:.0f} commits/s")
        topic = f"bench-{uuid.uuid4().hex[:8]}.ceiling"
        async with scratch_topic(self.stack.kafka_bootstrap, topic):
            say(f"ceilings: Kafka ProducerPerformance for about {seconds} s")
            kafka = bench_ceilings.kafka_records_per_second(
                self.stack.kafka_bootstrap, topic, seconds, SCRATCH
            )
        say(f"  Kafka: {kafka['records_per_s']:.0f} records/s of 600 bytes, acks=all")
        return {"postgres": pgbench, "kafka": kafka}

    async def batched(self) -> dict:
        await self.open_configuration("batched", CONFIGURATIONS["batched"])
        found, steps = await self.probe(PROBE_START_RATE)
        outcome: dict = {"env": CONFIGURATIONS["batched"], "probe": steps}
        if found is None:
            outcome.update(max_rate=0, confirmed=False, confirm=[])
            outcome["checks"] = await self.close_configuration()
            return outcome
        rate, confirmed, runs = await self.confirm(
            found, reserve_seconds=self.after_batched_confirm()
        )
        outcome.update(probe_rate=found, max_rate=rate, confirmed=confirmed, confirm=runs)
        measured_rate = max(MIN_RATE, round(rate * MEASURED_SHARE))
        say(f"batched: measuring at {MEASURED_SHARE:.0%} of {rate}: {measured_rate} orders/s")
        outcome["measured"] = await self.run(
            "at 70%",
            measured_rate,
            self.plan.measure_seconds,
            self.plan.confirm_drain_seconds,
            quiesce_before=True,
            settle_seconds=IDLE_STATISTICS_SECONDS,
        )
        if self.replicas > 1:
            outcome["rebalance"] = await self.rebalance(
                max(MIN_RATE, round(rate * REBALANCE_SHARE))
            )
        await self.restart_services(TRACING_OFF)
        outcome["tracing_off"] = await self.traced_run("tracing off", measured_rate)
        await self.restart_services(self.tracing_on())
        outcome["tracing_on"] = await self.traced_run("tracing on", measured_rate)
        outcome["checks"] = await self.close_configuration()
        return outcome

    async def traced_run(self, label: str, rate: int) -> dict:
        """Right after a restart, whose backends published their statistics as they closed."""
        return await self.run(
            label,
            rate,
            self.plan.tracing_seconds,
            self.plan.confirm_drain_seconds,
            settle_seconds=IDLE_STATISTICS_SECONDS,
        )

    async def rebalance(self, rate: int) -> dict:
        """The last replica of every service leaves a third into the run and comes back at two
        thirds: partitions and outbox buckets move twice under load. POSTs go to the first
        orders replica, which stays."""
        seconds = self.plan.rebalance_seconds
        leaving = [(service, *self.stack.instances(service)[-1]) for service in devstack.SERVICES]

        async def leave() -> None:
            await asyncio.gather(*(self.stop_instance(name) for _, name, _ in leaving))

        async def come_back() -> None:
            for service, name, port in leaving:
                self.start_instance(service, name, port)

        say(f"batched: rebalancing under {rate} orders/s: replicas leave and come back")
        result = await self.run(
            "rebalance",
            rate,
            seconds,
            self.plan.confirm_drain_seconds,
            urls=self.orders_urls(replicas=1),
            during=[(seconds / 3, leave), (2 * seconds / 3, come_back)],
        )
        for _, name, port in leaving:
            devstack.wait_for(lambda port=port: devstack.service_ready(port), name, 90)
        return result

    async def naive(self, batched_max: int) -> dict:
        await self.open_configuration("naive", CONFIGURATIONS["naive"])
        start = max(MIN_RATE, batched_max // 8) if batched_max else PROBE_START_RATE
        found, steps = await self.probe(start)
        outcome: dict = {"env": CONFIGURATIONS["naive"], "probe": steps}
        if found is None:
            outcome.update(max_rate=0, confirmed=False, confirm=[])
        else:
            rate, confirmed, runs = await self.confirm(found, reserve_seconds=NAIVE_CHECKS_SECONDS)
            outcome.update(probe_rate=found, max_rate=rate, confirmed=confirmed, confirm=runs)
        outcome["checks"] = await self.close_configuration()
        return outcome

    async def everything(self) -> dict:
        self.stack = devstack.infra_up(database_suffix=DATABASE_SUFFIX, fresh_databases=True)
        devstack.enable_statement_statistics()
        ceilings = await self.ceilings()
        self.start_sink()
        try:
            batched = await self.batched()
            naive = await self.naive(batched["max_rate"])
        finally:
            await self.release_configuration()
            self.sink.terminate()
            self.sink.wait(timeout=10)
        return {"ceilings": ceilings, "configurations": {"batched": batched, "naive": naive}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short steps and runs, to iterate")
    parser.add_argument(
        "--replicas", type=int, default=1, choices=range(1, 5), help="processes per service"
    )
    arguments = parser.parse_args()
    plan = QUICK if arguments.quick else FULL
    lock = take_test_lock()
    started_at = datetime.now(UTC)
    started = time.monotonic()
    removed = isolate_environment()
    if removed:
        say(f"ignoring the caller's service settings: {', '.join(removed)}")
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    say(f"installing vegeta {VEGETA_VERSION} from the Go module proxy into {BIN}")
    vegeta = install_vegeta(BIN)
    bench = Bench(plan, arguments.replicas, vegeta)
    try:
        figures = asyncio.run(bench.everything())
    except devstack.StackError as error:
        raise SystemExit(f"[bench] {error}") from error
    finally:
        stop_leftovers()
        shutil.rmtree(SCRATCH, ignore_errors=True)
        lock.close()
    figures.update(
        started_at=started_at.isoformat(),
        seconds=round(time.monotonic() - started, 1),
        quick=arguments.quick,
        replicas=arguments.replicas,
        plan=plan.__dict__,
        machine={"cpus": os.cpu_count(), "kernel": os.uname().release},
        removed_environment=removed,
        sustained_means=SUSTAINED_MEANS.format(
            probe=plan.probe_drain_seconds, confirm=plan.confirm_drain_seconds
        ),
    )
    summary, line = bench_report.summary(figures)
    figures.update(summary=summary, line=line)
    (WORK / "latest.json").write_text(json.dumps(figures, indent=2, default=str))
    bench_report.print_report(figures)
    print(line, flush=True)


if __name__ == "__main__":
    main()
