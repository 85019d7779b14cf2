"""`make chaos`: faults under load on a stack of its own, and what they cost.

The stack is the bench's kind (scripts/devstack.py): the project's PostgreSQL cluster and
Kafka broker, databases suffixed `_chaos` created afresh, topics under a prefix unique to the
run, the four services on 38001-38004 (a second replica 10 ports above), processes named
`<service>-chaos`, the hub clock stopped (a cleared order waits at SHIPPED). Everything is on
loopback. Killing the broker or restarting PostgreSQL reaches whatever else uses them, so the
run holds the tests' lock (/tmp/ehub-test.lock) and leaves both running when it ends.

Each scenario places a bounded number of orders at a steady rate, applies its fault while
they flow, clears it, and then reconciles the four databases (scripts/chaos_checks.py) until
every order of the scenario is in a final or expected waiting state, every outbox is empty
and no consumer group lags, or `CONVERGE_LIMIT_SECONDS` pass. One row per scenario: orders
accepted (201), lost (accepted, not stored), duplicated effects (a second authorization in
our records or the gateway's memory, a second capture or shipment), stuck (not settled at
the limit), and the seconds to convergence from the fault's end or the last placement,
whichever came later (no pipeline settles while orders still arrive); placements the fault
refused are listed by answer (a 503 while the database is down is right, a 500 never is).
Then exactly one line:

    chaos: 10 scenarios, 2000 orders accepted, lost 0, duplicated 0, stuck 0, worst convergence 12 s

The exit status is 1 when anything was lost, duplicated or stuck, a capture came without a
clearance, a placement answered 500, or a poison message reached no dead-letter topic.

    scripts/chaos.py [--quick] [--under-test-lock]

--quick runs the subset `make test` runs (one kill, one poison, one broker restart, fewer
orders); --under-test-lock says the caller holds the lock already.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(1, str(ROOT))

import asyncpg  # noqa: E402
import devstack  # noqa: E402
import httpx  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.errors import KafkaError  # noqa: E402
from bench import kafka_pid, take_test_lock  # noqa: E402
from bench_stack import Broker  # noqa: E402
from chaos_checks import Reconciliation, reconcile  # noqa: E402

from shared.events import EVENT_TYPES, Envelope, Topics  # noqa: E402
from shared.messaging.kafka import SERVICES  # noqa: E402

PORTS = {"orders": 38001, "payments": 38002, "customs": 38003, "fulfillment": 38004}
NAME_SUFFIX = "-chaos"
DATABASE_SUFFIX = "_chaos"
STACK_ENV = {"HUB_CLOCK_FACTOR": "0", "OPERATOR_API_KEY": "chaos-operator-key"}
CONVERGE_LIMIT_SECONDS = 90
CHECK_INTERVAL_SECONDS = 0.5
READY_TIMEOUT_SECONDS = 90
REQUEST_TIMEOUT_SECONDS = 10
# Of the load: orders start flowing this long before the fault.
LEAD_SECONDS = 2.0
# The event of each topic a newer producer would send at a version no consumer reads yet.
NEWER_VERSION_OF = {
    Topics.ORDERS: "OrderPlaced",
    Topics.PAYMENTS: "PaymentAuthorized",
    Topics.CUSTOMS: "CustomsCleared",
    Topics.FULFILLMENT: "ShipmentDispatched",
}


def say(message: str) -> None:
    print(f"[chaos] {message}", flush=True)


def gone(pid: int) -> bool:
    """`pid` exited: reaped, or a zombie whose parent (not this process) has yet to reap it."""
    if devstack.exited(pid):
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


@dataclass(frozen=True)
class Plan:
    orders: int  # per scenario
    rate: float  # orders per second
    broker_down_seconds: float
    outage_seconds: float
    pause_seconds: float


FULL = Plan(orders=200, rate=20, broker_down_seconds=30, outage_seconds=25, pause_seconds=25)
QUICK = Plan(orders=40, rate=10, broker_down_seconds=5, outage_seconds=0, pause_seconds=0)


@dataclass
class Row:
    name: str
    accepted: int
    refused: Counter[str]
    result: Reconciliation
    converged_after: float | None
    dead_letters: int | None = None

    @property
    def stuck(self) -> int:
        return 0 if self.converged_after is not None else self.result.unsettled

    @property
    def failed(self) -> bool:
        return bool(
            self.result.lost
            or self.result.wrong
            or self.stuck
            or self.result.outbox_pending
            and self.converged_after is None
            or self.dead_letters == 0
            or self.refused["500"]
        )


class Chaos:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.stack: devstack.Stack | None = None
        self.api_key = ""
        self.body = json.loads((ROOT / "scripts" / "demo_order.json").read_text())

    # ---- the stack ---------------------------------------------------------------------

    async def open(self) -> None:
        for pid_file in sorted(devstack.RUN.glob(f"*{NAME_SUFFIX}*.pid")):
            devstack.stop_pid(pid_file, pid_file.stem)
        stack = devstack.infra_up(database_suffix=DATABASE_SUFFIX, fresh_databases=True)
        stack.ports = PORTS
        stack.name_suffix = NAME_SUFFIX
        stack.topic_prefix = f"chaos-{uuid.uuid4().hex[:8]}."
        stack.extra_env = dict(STACK_ENV)
        # devstack's own event loop, which waits for a broker still electing its controller.
        await asyncio.to_thread(devstack.create_topics, stack.kafka_bootstrap, stack.topic_prefix)
        self.stack = stack
        devstack.start_services(stack)
        self.api_key = devstack.issue_partner_key(stack, f"chaos-{uuid.uuid4().hex[:6]}")

    async def close(self) -> None:
        """Stop the stack, give its topics and databases back, leave the infrastructure up."""
        devstack.stop_services(NAME_SUFFIX, replicas=2)
        devstack.start_postgres()
        devstack.start_kafka()
        if self.stack is not None:
            broker = Broker(self.stack.kafka_bootstrap, self.stack.topic_prefix)
            await broker.start()
            await broker.close(delete_topics=True)
        for service in SERVICES:
            devstack.drop_database(f"ehub_{service}{DATABASE_SUFFIX}")

    def pid(self, service: str, replica: int = 1) -> int:
        name = devstack.replica_name(self.stack.process_name(service), replica)
        return int((devstack.RUN / f"{name}.pid").read_text())

    def wait_ready(self, replicas: int = 1) -> None:
        for service in SERVICES:
            for replica in range(1, replicas + 1):
                port = self.stack.port(service) + 10 * (replica - 1)
                devstack.wait_for(
                    lambda port=port: devstack.service_ready(port),
                    f"{service} on :{port}",
                    READY_TIMEOUT_SECONDS,
                )

    # ---- load ----------------------------------------------------------------------

    async def place_orders(self, prefix: str) -> tuple[set[str], Counter[str]]:
        """The scenario's orders at a steady rate; returns the accepted ids and the answers
        to the placements refused (no 201: the fault answered, or nothing did)."""
        accepted: set[str] = set()
        refused: Counter[str] = Counter()
        url = f"http://127.0.0.1:{self.stack.port('orders')}/v1/orders"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS) as client:

            async def one(number: int) -> None:
                body = dict(self.body, partner_reference=f"{prefix}{number:05d}")
                try:
                    response = await client.post(url, json=body, headers=headers)
                except httpx.HTTPError as error:
                    refused[type(error).__name__] += 1
                    return
                if response.status_code == 201:
                    accepted.add(response.json()["id"])
                else:
                    refused[str(response.status_code)] += 1

            started = time.monotonic()
            placing = []
            for number in range(self.plan.orders):
                await asyncio.sleep(max(0.0, started + number / self.plan.rate - time.monotonic()))
                placing.append(asyncio.create_task(one(number)))
            await asyncio.gather(*placing)
        return accepted, refused

    # ---- faults: each returns when it is cleared --------------------------------------

    async def kill_service(self, service: str) -> None:
        pid = self.pid(service)
        os.killpg(pid, signal.SIGKILL)
        await asyncio.to_thread(devstack.wait_for, lambda: gone(pid), f"{service} to die", 10)
        say(f"  killed {service} (-9)")
        await asyncio.sleep(1)
        name = self.stack.process_name(service)
        devstack.spawn_service(self.stack, service, name, self.stack.port(service))
        say(f"  restarted {service}")

    async def kill_broker(self) -> None:
        pid = kafka_pid()
        os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(devstack.wait_for, lambda: gone(pid), "the broker to die", 10)
        (devstack.RUN / "kafka.pid").unlink(missing_ok=True)
        say(f"  killed the broker (-9); down for {self.plan.broker_down_seconds:.0f} s")
        await asyncio.sleep(self.plan.broker_down_seconds)
        await asyncio.to_thread(devstack.start_kafka)
        say("  broker restarted")

    async def restart_database(self) -> None:
        await asyncio.to_thread(devstack.restart_postgres)

    async def database_outage(self) -> None:
        await asyncio.to_thread(devstack.stop_postgres)
        await asyncio.sleep(self.plan.outage_seconds)
        await asyncio.to_thread(devstack.start_postgres)
        say(f"  PostgreSQL back after {self.plan.outage_seconds:.0f} s")

    async def poison(self) -> None:
        """On every events topic: garbage bytes, JSON that is no envelope, an envelope whose
        data breaks its contract, and a known event at a version nobody reads yet."""
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.kafka_bootstrap)
        await producer.start()
        try:
            for topic in Topics.ALL:
                contract = EVENT_TYPES[f"be.liege-ehub.{NEWER_VERSION_OF[topic]}"]
                key = str(uuid.uuid4())
                envelope = {
                    "specversion": "1.0",
                    "id": str(uuid.uuid4()),
                    "source": "/chaos",
                    "type": contract.type_name(),
                    "time": "2026-01-01T00:00:00Z",
                    "subject": key,
                    "datacontenttype": "application/json",
                    "schemaversion": 1,
                    "data": {"order_id": "not a uuid"},
                }
                newer = dict(envelope, id=str(uuid.uuid4()), schemaversion=99, data={})
                type_header = [("ce_type", contract.type_name().encode())]
                for value, headers in (
                    (b"\x00\xff garbage \x9c", []),
                    (json.dumps({"hello": "world"}).encode(), []),
                    (json.dumps(envelope).encode(), type_header),
                    (Envelope.model_validate(newer).to_bytes(), type_header),
                ):
                    await producer.send_and_wait(
                        self.stack.topic_prefix + topic,
                        value=value,
                        key=key.encode(),
                        headers=headers,
                    )
        finally:
            await producer.stop()
        say("  poison sent: 4 messages on each events topic")

    async def second_replica(self, service: str) -> None:
        name = devstack.replica_name(self.stack.process_name(service), 2)
        devstack.spawn_service(self.stack, service, name, self.stack.port(service) + 10)
        port = self.stack.port(service) + 10
        await asyncio.to_thread(
            devstack.wait_for,
            lambda: devstack.service_ready(port),
            name,
            READY_TIMEOUT_SECONDS,
        )
        say(f"  {name} joined")
        await asyncio.sleep(4)
        await asyncio.to_thread(devstack.stop_pid, devstack.RUN / f"{name}.pid", name)
        say(f"  {name} left")

    async def pause(self, service: str) -> None:
        pid = self.pid(service)
        os.killpg(pid, signal.SIGSTOP)
        say(f"  {service} stopped (SIGSTOP) for {self.plan.pause_seconds:.0f} s")
        try:
            await asyncio.sleep(self.plan.pause_seconds)
        finally:
            os.killpg(pid, signal.SIGCONT)

    # ---- one scenario --------------------------------------------------------------

    async def scenario(self, name: str, fault: Callable[[], Awaitable[None]]) -> Row:
        say(f"{name}: {self.plan.orders} orders at {self.plan.rate:g}/s")
        prefix = f"chaos-{name}-{uuid.uuid4().hex[:6]}-"
        broker = Broker(self.stack.kafka_bootstrap, self.stack.topic_prefix)
        await broker.start()
        dead_letters_before = sum((await broker.end_offsets(broker.dead_letter_topics)).values())
        await broker.close(delete_topics=False)
        load = asyncio.create_task(self.place_orders(prefix))
        await asyncio.sleep(LEAD_SECONDS)
        await fault()
        accepted, refused = await load
        # Both over now: the fault cleared, the last order placed.
        converged_after, result = await self.converge(prefix, accepted, time.monotonic())
        dead_letters = None
        if name == "poison":
            broker = Broker(self.stack.kafka_bootstrap, self.stack.topic_prefix)
            await broker.start()
            after = sum((await broker.end_offsets(broker.dead_letter_topics)).values())
            await broker.close(delete_topics=False)
            dead_letters = after - dead_letters_before
        await asyncio.to_thread(self.wait_ready)
        return Row(name, len(accepted), refused, result, converged_after, dead_letters)

    async def converge(
        self, prefix: str, accepted: set[str], cleared: float
    ) -> tuple[float | None, Reconciliation]:
        """Seconds from `cleared` until the scenario's orders settled, the outboxes emptied and
        no consumer lags (None if not within the limit), with the last reconciliation."""
        deadline = cleared + CONVERGE_LIMIT_SECONDS
        result = Reconciliation(accepted=len(accepted))
        while time.monotonic() < deadline:
            try:
                result = await reconcile(DATABASE_SUFFIX, prefix, accepted)
                if result.converged and not any((await self.lag()).values()):
                    return time.monotonic() - cleared, result
            except (OSError, asyncpg.PostgresError, KafkaError, TimeoutError) as error:
                say(f"  (reconciliation waits: {type(error).__name__})")
            await asyncio.sleep(CHECK_INTERVAL_SECONDS)
        return None, result

    async def lag(self) -> dict[str, int]:
        broker = Broker(self.stack.kafka_bootstrap, self.stack.topic_prefix)
        await broker.start()
        try:
            return await broker.lag()
        finally:
            await broker.close(delete_topics=False)

    def scenarios(self, quick: bool) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        kills = [
            (f"kill-{service}", lambda service=service: self.kill_service(service))
            for service in SERVICES
        ]
        if quick:
            return [kills[1], ("poison", self.poison), ("broker-restart", self.kill_broker)]
        return [
            *kills,
            ("broker-down-30s", self.kill_broker),
            ("postgres-restart", self.restart_database),
            ("postgres-outage-25s", self.database_outage),
            ("poison", self.poison),
            ("replica-join-leave", lambda: self.second_replica("payments")),
            ("pause-customs-25s", lambda: self.pause("customs")),
        ]


def table(rows: list[Row]) -> list[str]:
    lines = [
        f"{'scenario':<22} {'accepted':>8} {'refused':>7} {'lost':>4} {'duplicated':>10}"
        f" {'stuck':>5} {'converged':>9}  notes"
    ]
    for row in rows:
        notes = (
            ["refused " + ", ".join(f"{answer} x{count}" for answer, count in row.refused.items())]
            if row.refused
            else []
        )
        if row.result.captured_uncleared:
            notes.append(f"{row.result.captured_uncleared} captured without clearance")
        if row.dead_letters is not None:
            notes.append(f"{row.dead_letters} dead letters")
        if row.converged_after is None and row.result.outbox_pending:
            notes.append(f"{row.result.outbox_pending} outbox rows unpublished")
        notes += row.result.problems[:3]
        converged = "-" if row.converged_after is None else f"{row.converged_after:.1f} s"
        lines.append(
            f"{row.name:<22} {row.accepted:>8} {row.refused.total():>7} {row.result.lost:>4}"
            f" {row.result.duplicated:>10} {row.stuck:>5} {converged:>9}  {'; '.join(notes)}"
        )
    return lines


def summary(rows: list[Row]) -> str:
    times = [row.converged_after for row in rows if row.converged_after is not None]
    worst = f"{max(times):.0f} s" if len(times) == len(rows) else f"over {CONVERGE_LIMIT_SECONDS} s"
    return (
        f"chaos: {len(rows)} scenarios, {sum(row.accepted for row in rows)} orders accepted,"
        f" lost {sum(row.result.lost for row in rows)},"
        f" duplicated {sum(row.result.duplicated for row in rows)},"
        f" stuck {sum(row.stuck for row in rows)}, worst convergence {worst}"
    )


async def run(quick: bool) -> int:
    started = time.monotonic()
    chaos = Chaos(QUICK if quick else FULL)
    rows: list[Row] = []
    try:
        await chaos.open()
        for name, fault in chaos.scenarios(quick):
            rows.append(await chaos.scenario(name, fault))
            say("  " + table(rows[-1:])[1].strip())
    finally:
        await chaos.close()
    say(f"took {time.monotonic() - started:.0f} s")
    for line in table(rows):
        print(line)
    print(summary(rows), flush=True)
    return 1 if any(row.failed for row in rows) else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the subset `make test` runs")
    parser.add_argument(
        "--under-test-lock", action="store_true", help="the caller holds /tmp/ehub-test.lock"
    )
    arguments = parser.parse_args()
    lock = None if arguments.under_test_lock else take_test_lock()
    try:
        status = asyncio.run(run(arguments.quick))
    finally:
        if lock is not None:
            lock.close()
    raise SystemExit(status)


if __name__ == "__main__":
    main()
