"""The outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

The outbox is split into buckets by partition key (`OUTBOX_BUCKETS`, as many as the topics
have partitions), so one order's events always fall in one bucket. Each bucket is relayed
by one replica at a time, the holder of its session-level advisory lock on the relay's own
connection; replicas share the buckets evenly (each counts the others by their presence
lock) and a replica that dies drops its locks with its connection, so the others take its
buckets over. Per-key order holds because a bucket's rows are sent in position order by a
single holder, one pass after the other.

A pass gathers for a few milliseconds after a wake-up, reads up to `outbox_batch_size`
rows, hands them all to the producer (which batches them), waits for the broker's
acknowledgement of every one (idempotent producer, `acks=all`) and deletes them with one
statement. No transaction is held open meanwhile. A crash between the acknowledgement and
the delete re-sends the rows on the next pass; consumers drop the duplicates through their
inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.messaging.kafka import DEAD_LETTER_RETENTION_MS, client_id
from shared.messaging.tables import inbox, outbox
from shared.metrics import EVENTS_PUBLISHED
from shared.settings import ServiceSettings
from shared.telemetry import (
    EVENT_TYPE_HEADER,
    context_from,
    current_trace_context,
    kafka_headers,
    kafka_span_attributes,
    tracing_records,
    untraced_context,
)
from shared.telemetry import tracer as make_tracer

log = logging.getLogger(__name__)

OUTBOX_BUCKETS = 6
# Advisory lock keys (two-int form): (BUCKET_LOCK, bucket) and (PRESENCE_LOCK, backend pid).
BUCKET_LOCK = 0x0E4B0B0C
PRESENCE_LOCK = 0x0E4B0B0D
REBALANCE_SECONDS = 1.0
# Longer than a dead letter lives: a replay reaches every group of its topic, and those that
# handled the event long ago must still recognise it (docs/dead-letters.md).
INBOX_RETENTION = timedelta(milliseconds=DEAD_LETTER_RETENTION_MS) + timedelta(days=7)
CONTENT_TYPE = ("content-type", b"application/cloudevents+json; charset=utf-8")

BUCKET_OF = f"mod(hashtext(partition_key) & 2147483647, {OUTBOX_BUCKETS})"
PENDING = text(
    "SELECT position, event_id, topic, partition_key, event_type, payload, trace_context "
    f"FROM outbox WHERE {BUCKET_OF} = ANY(CAST(:buckets AS int[])) "
    "ORDER BY position LIMIT :limit"
).columns(
    *(
        outbox.c[name]
        for name in (
            "position",
            "event_id",
            "topic",
            "partition_key",
            "event_type",
            "payload",
            "trace_context",
        )
    )
)
PUBLISHED = text("DELETE FROM outbox WHERE position = ANY(CAST(:positions AS bigint[]))")
ANNOUNCE = text("SELECT pg_advisory_lock(:presence, pg_backend_pid())")
# pg_locks spans the cluster, advisory locks are per database: count this database's relays.
RELAYS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND classid = CAST(:presence AS oid) AND objsubid = 2 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
TAKE = text(
    "SELECT bucket FROM unnest(CAST(:candidates AS int[])) AS bucket "
    "WHERE pg_try_advisory_lock(:bucket_lock, bucket) LIMIT :wanted"
)
RELEASE = text(
    "SELECT pg_advisory_unlock(:bucket_lock, bucket) FROM unnest(CAST(:buckets AS int[])) bucket"
)


class OutboxRelay:
    def __init__(
        self, engine: AsyncEngine, producer: AIOKafkaProducer, settings: ServiceSettings
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._settings = settings
        self._wakeup = asyncio.Event()
        self._tracer = make_tracer(__name__)
        self._tracing = tracing_records(settings)
        self._span_attributes = kafka_span_attributes(
            settings.kafka_bootstrap_servers, client_id(settings, "producer")
        )
        self._connection: AsyncConnection | None = None
        self._buckets: list[int] = []
        self._rebalanced_at = 0.0

    @property
    def buckets(self) -> list[int]:
        """The buckets this relay holds now."""
        return list(self._buckets)

    def wake(self) -> None:
        """Called after a commit that wrote events, so they leave without waiting for the poll."""
        self._wakeup.set()

    async def run(self) -> None:
        try:
            passes = 0
            while True:
                published = await self.publish_pending()
                if published >= self._settings.outbox_batch_size:
                    continue
                passes += 1
                if passes % 1000 == 0:
                    await self.purge_history()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wakeup.wait(),
                        timeout=self._settings.outbox_poll_interval_seconds,
                    )
                self._wakeup.clear()
                if self._settings.outbox_gather_seconds > 0:
                    await asyncio.sleep(self._settings.outbox_gather_seconds)
        finally:
            await self.close()

    async def close(self) -> None:
        """Give the buckets up. The connection goes back to the pool, which would keep
        session locks alive: they are released first, or the connection is dropped."""
        connection, self._connection = self._connection, None
        self._buckets = []
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock_all()"))
            await connection.close()
        except Exception:
            with contextlib.suppress(Exception):  # a broken connection is gone already
                await connection.invalidate()

    async def publish_pending(self) -> int:
        """Publish one batch of the pending rows of this relay's buckets; returns how many.

        A failure gives the buckets up, as the death of the process would: what was not
        deleted is sent again by whoever takes the bucket next."""
        try:
            return await self._publish_pending()
        except BaseException:
            await self.close()
            raise

    async def _publish_pending(self) -> int:
        connection = await self._connected()
        if time.monotonic() - self._rebalanced_at >= REBALANCE_SECONDS:
            await self._rebalance(connection)
        if not self._buckets:
            return 0
        rows = (
            await connection.execute(
                PENDING, {"buckets": self._buckets, "limit": self._settings.outbox_batch_size}
            )
        ).all()
        if not rows:
            return 0
        await asyncio.gather(*[await self._send(row) for row in rows])
        await connection.execute(PUBLISHED, {"positions": [row.position for row in rows]})
        EVENTS_PUBLISHED.labels(self._settings.service_name).inc(len(rows))
        return len(rows)

    async def _connected(self) -> AsyncConnection:
        if self._connection is None:
            connection = await self._engine.connect()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(ANNOUNCE, {"presence": PRESENCE_LOCK})
            self._connection = connection
            self._rebalanced_at = 0.0
        return self._connection

    async def _rebalance(self, connection: AsyncConnection) -> None:
        """Hold a fair share of the buckets: give surplus ones up, take free ones."""
        relays = await connection.scalar(RELAYS, {"presence": PRESENCE_LOCK}) or 1
        share = math.ceil(OUTBOX_BUCKETS / relays)
        if len(self._buckets) > share:
            surplus = self._buckets[share:]
            await connection.execute(RELEASE, {"bucket_lock": BUCKET_LOCK, "buckets": surplus})
            self._buckets = self._buckets[:share]
        elif len(self._buckets) < share:
            candidates = [b for b in range(OUTBOX_BUCKETS) if b not in self._buckets]
            taken = await connection.scalars(
                TAKE,
                {
                    "bucket_lock": BUCKET_LOCK,
                    "candidates": candidates,
                    "wanted": share - len(self._buckets),
                },
            )
            self._buckets = sorted([*self._buckets, *taken])
        self._rebalanced_at = time.monotonic()

    async def _send(self, row) -> asyncio.Future:
        """Hand the row to the producer; the returned future settles at the acknowledgement,
        which is when its span ends. Without tracing the record carries the context the row
        was emitted in, which keeps the order's trace id whole at no cost."""
        if not self._tracing:
            # An event emitted outside any trace starts one, as a span here would have.
            headers = kafka_headers(row.trace_context or untraced_context())
            headers += [CONTENT_TYPE, (EVENT_TYPE_HEADER, row.event_type.encode())]
            return await self._producer.send(
                row.topic, value=row.payload, key=row.partition_key.encode(), headers=headers
            )
        span = self._tracer.start_span(
            f"send {row.topic}",
            context=context_from(row.trace_context),
            kind=trace.SpanKind.PRODUCER,
            attributes={
                **self._span_attributes,
                "messaging.operation.type": "send",
                "messaging.operation.name": "send",
                "messaging.destination.name": row.topic,
                "messaging.message.id": str(row.event_id),
                "messaging.message.body.size": len(row.payload),
                "messaging.kafka.message.key": row.partition_key,
                "cloudevents.event_type": row.event_type,
                "ehub.order_id": row.partition_key,
            },
        )
        with trace.use_span(span, end_on_exit=False):
            headers = kafka_headers(current_trace_context())
        headers.append(CONTENT_TYPE)
        headers.append((EVENT_TYPE_HEADER, row.event_type.encode()))
        try:
            delivery = await self._producer.send(
                row.topic, value=row.payload, key=row.partition_key.encode(), headers=headers
            )
        except BaseException as error:
            _record_failure(span, error)
            span.end()
            raise
        delivery.add_done_callback(lambda settled: _end_send_span(span, settled))
        return delivery

    async def purge_history(self) -> None:
        """Forget processed inbox ids once they can matter no more.

        An inbox id guards against redelivery, which cannot come later than the topic's
        retention (7 days), and against a dead letter's replay, which cannot come later than
        the dead-letter topic's (30 days); it is kept a week longer.
        """
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(inbox).where(inbox.c.processed_at < datetime.now(UTC) - INBOX_RETENTION)
            )


def _record_failure(span: trace.Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(trace.StatusCode.ERROR, str(error))


def _end_send_span(span: trace.Span, delivery: asyncio.Future) -> None:
    if delivery.cancelled():
        span.set_attribute("error.type", "cancelled")
        span.set_status(trace.StatusCode.ERROR, "cancelled")
    elif delivery.exception() is not None:
        _record_failure(span, delivery.exception())
    else:
        metadata = delivery.result()
        span.set_attribute("messaging.destination.partition.id", str(metadata.partition))
        span.set_attribute("messaging.kafka.offset", metadata.offset)
    span.end()
