"""What the bench reads from the stack's PostgreSQL databases and Kafka broker.

Everything here is read as the cluster superuser, whose statements pg_stat_statements keeps
apart from the services' own roles; the few transactions the bench opens in a service's
database while it waits for the pipeline to drain are counted, so that they can be taken
out of that database's commit count.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import devstack
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.events import Topics, dead_letter_topic
from shared.messaging.kafka import SERVICES, all_topics, ensure_topics

DISPATCHED = "ShipmentDispatched"


@dataclass(frozen=True)
class DrainState:
    placed: int
    shipped: int
    outbox_pending: dict[str, int]

    @property
    def drained(self) -> bool:
        return self.placed == self.shipped and not any(self.outbox_pending.values())

    @property
    def backlog(self) -> tuple[int, int]:
        """Orders not shipped yet, outbox rows not published yet."""
        return self.placed - self.shipped, sum(self.outbox_pending.values())


class Databases:
    """Superuser connections: one to `postgres` for statistics, one to each service database."""

    def __init__(self, suffix: str) -> None:
        self.names = {service: f"ehub_{service}{suffix}" for service in SERVICES}
        self.own_transactions: Counter[str] = Counter()
        self._admin: asyncpg.Connection | None = None
        self._service: dict[str, asyncpg.Connection] = {}
        self._pending: dict[str, asyncpg.prepared_stmt.PreparedStatement] = {}
        self._run_progress: asyncpg.prepared_stmt.PreparedStatement | None = None

    async def open(self) -> None:
        self._admin = await asyncpg.connect(devstack.postgres_admin_url("postgres"))
        for service, database in self.names.items():
            connection = await asyncpg.connect(devstack.postgres_admin_url(database))
            self._service[service] = connection
            self._pending[service] = await connection.prepare(await _outbox_pending_sql(connection))
        self._run_progress = await self._service["orders"].prepare(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM order_timeline t"
            f"   WHERE t.order_id = o.id AND t.event_type = '{DISPATCHED}'))"
            " FROM orders o WHERE o.partner_id = $1 AND o.created_at >= $2"
        )

    async def close(self) -> None:
        for connection in [self._admin, *self._service.values()]:
            if connection is not None:
                await connection.close()
        self._service.clear()
        self._admin = None

    @property
    def admin(self) -> asyncpg.Connection:
        assert self._admin is not None, "open() first"
        return self._admin

    # ---- statistics (read from `postgres`, which is not measured) ----

    async def reset_statement_counts(self) -> None:
        await self.admin.execute(
            "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
            " WHERE datname = ANY($1::text[])",
            list(self.names.values()),
        )

    async def statement_counts(self) -> dict[str, int]:
        """Statements the services' roles ran in each database since the reset."""
        rows = await self.admin.fetch(
            "SELECT d.datname, sum(s.calls)::bigint AS calls FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid"
            " WHERE d.datname = ANY($1::text[]) AND NOT r.rolsuper GROUP BY d.datname",
            list(self.names.values()),
        )
        calls = {row["datname"]: row["calls"] for row in rows}
        return {service: calls.get(database, 0) for service, database in self.names.items()}

    async def transaction_counts(self) -> dict[str, tuple[int, int]]:
        """(commits, rollbacks) of each database so far, less the bench's own transactions."""
        rows = await self.admin.fetch(
            "SELECT datname, xact_commit, xact_rollback FROM pg_stat_database"
            " WHERE datname = ANY($1::text[])",
            list(self.names.values()),
        )
        by_name = {row["datname"]: row for row in rows}
        return {
            service: (
                by_name[database]["xact_commit"] - self.own_transactions[service],
                by_name[database]["xact_rollback"],
            )
            for service, database in self.names.items()
        }

    # ---- progress of a run (counted as the bench's own transactions) ----

    async def drain_state(self, partner_id: object, since: datetime) -> DrainState:
        assert self._run_progress is not None
        placed, shipped = await self._run_progress.fetchrow(partner_id, since)
        self.own_transactions["orders"] += 1
        pending = {}
        for service, statement in self._pending.items():
            pending[service] = await statement.fetchval()
            self.own_transactions[service] += 1
        return DrainState(placed=placed, shipped=shipped, outbox_pending=pending)

    # ---- after a run ----

    async def partner_id(self, name: str) -> object:
        return await self._service["orders"].fetchval(
            "SELECT id FROM partners WHERE name = $1", name
        )

    async def placements(
        self, partner_id: object, since: datetime, reference_prefix: str
    ) -> list[tuple[float, float | None]]:
        """(placed at, placed -> dispatched in ms or None) of each order of one run."""
        rows = await self._service["orders"].fetch(
            "SELECT extract(epoch FROM o.created_at)::float8 AS placed,"
            "       (extract(epoch FROM min(t.occurred_at) - o.created_at) * 1000)::float8 AS e2e"
            " FROM orders o LEFT JOIN order_timeline t"
            f"   ON t.order_id = o.id AND t.event_type = '{DISPATCHED}'"
            " WHERE o.partner_id = $1 AND o.created_at >= $2 AND o.partner_reference LIKE $3"
            " GROUP BY o.id, o.created_at",
            partner_id,
            since,
            reference_prefix.replace("_", r"\_") + "%",
        )
        return [(row["placed"], row["e2e"]) for row in rows]

    async def effects(self) -> dict[str, dict]:
        """For every order in the databases: how often it shipped, was captured, got a shipment."""
        orders = await self._service["orders"].fetch(
            "SELECT o.id, count(t.id) AS dispatched FROM orders o LEFT JOIN order_timeline t"
            f"   ON t.order_id = o.id AND t.event_type = '{DISPATCHED}' GROUP BY o.id"
        )
        captures = await self._service["payments"].fetch(
            "SELECT p.order_id, count(op.id) AS captures FROM payments p"
            " LEFT JOIN payment_operations op ON op.payment_id = p.id AND op.kind = 'CAPTURE'"
            " GROUP BY p.order_id"
        )
        shipments = await self._service["fulfillment"].fetch(
            "SELECT order_id, count(*) AS shipments FROM shipments GROUP BY order_id"
        )
        return {
            "dispatched": {row["id"]: row["dispatched"] for row in orders},
            "captures": {row["order_id"]: row["captures"] for row in captures},
            "shipments": {row["order_id"]: row["shipments"] for row in shipments},
        }

    async def outbox_pending(self) -> dict[str, int]:
        return {service: await statement.fetchval() for service, statement in self._pending.items()}


async def _outbox_pending_sql(connection: asyncpg.Connection) -> str:
    """Rows not yet published: marked by `published_at` where the outbox keeps published rows."""
    keeps_published = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'outbox' AND column_name = 'published_at')"
    )
    where = " WHERE published_at IS NULL" if keeps_published else ""
    return f"SELECT count(*) FROM outbox{where}"


class Broker:
    """End offsets and consumer lag of one stack's topics."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.event_topics = [f"{prefix}{topic}" for topic in Topics.ALL]
        self.dead_letter_topics = [dead_letter_topic(f"{prefix}{service}") for service in SERVICES]
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="ehub-bench")
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, client_id="ehub-bench", enable_auto_commit=False
        )
        self._partitions: dict[str, list[int]] = {}

    async def start(self) -> None:
        await ensure_topics(self.bootstrap, self.prefix)
        await self._admin.start()
        await self._consumer.start()
        described = await self._admin.describe_topics(all_topics(self.prefix))
        self._partitions = {
            topic["topic"]: sorted(partition["partition"] for partition in topic["partitions"])
            for topic in described
        }

    async def close(self, delete_topics: bool) -> None:
        if delete_topics:
            await self._admin.delete_topics(all_topics(self.prefix))
        await self._consumer.stop()
        await self._admin.close()

    async def end_offsets(self, topics: Iterable[str]) -> dict[str, int]:
        partitions = self._topic_partitions(topics)
        ends = await self._consumer.end_offsets(partitions)
        totals: Counter[str] = Counter({topic: 0 for topic in topics})
        for partition, offset in ends.items():
            totals[partition.topic] += offset
        return dict(totals)

    async def lag(self) -> dict[str, int]:
        """Messages each service's consumer group has not committed yet, on the topics it reads."""
        lag = {}
        for service in SERVICES:
            committed = await self._admin.list_consumer_group_offsets(f"{self.prefix}{service}")
            partitions = self._topic_partitions({partition.topic for partition in committed})
            ends = await self._consumer.end_offsets(partitions) if partitions else {}
            lag[service] = sum(
                end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
            )
        return lag

    def _topic_partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        return [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in self._partitions.get(topic, ())
        ]


@contextlib.asynccontextmanager
async def scratch_topic(bootstrap: str, name: str, partitions: int = 6) -> AsyncIterator[str]:
    """A topic that exists for the duration of the block."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="ehub-bench")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
        try:
            yield name
        finally:
            await admin.delete_topics([name])
    finally:
        await admin.close()
