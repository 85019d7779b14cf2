"""The outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

A row is marked published only after the broker acknowledged it (idempotent producer,
`acks=all`). A crash between the acknowledgement and the mark re-sends the row on the
next pass; consumers drop the duplicate through their inbox. A transaction-scoped
advisory lock lets only one replica relay at a time, which keeps each order's events
in the order they were written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging.tables import inbox, outbox
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_LAG_SECONDS
from shared.settings import ServiceSettings
from shared.telemetry import context_from, current_trace_context, kafka_headers, tracer

log = logging.getLogger(__name__)

RELAY_LOCK_ID = 0x0E4B_0B0C  # one relay per database at a time
PUBLISHED_RETENTION = timedelta(days=7)
INBOX_RETENTION = timedelta(days=14)


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        settings: ServiceSettings,
    ) -> None:
        self._sessions = sessions
        self._producer = producer
        self._settings = settings
        self._wakeup = asyncio.Event()
        self._tracer = tracer(__name__)

    def wake(self) -> None:
        """Called after a commit that wrote events, so they leave without waiting for the poll."""
        self._wakeup.set()

    async def run(self) -> None:
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

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        async with self._sessions.begin() as session:
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_ID))):
                return 0
            rows = (
                await session.execute(
                    select(outbox)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.position)
                    .limit(self._settings.outbox_batch_size)
                )
            ).all()
            if not rows:
                return 0
            deliveries = [await self._send(row) for row in rows]
            await asyncio.gather(*deliveries)
            await session.execute(
                update(outbox)
                .where(outbox.c.position.in_([row.position for row in rows]))
                .values(published_at=func.now())
            )
        lag = datetime.now(UTC) - rows[0].created_at
        OUTBOX_LAG_SECONDS.labels(self._settings.service_name).set(lag.total_seconds())
        EVENTS_PUBLISHED.labels(self._settings.service_name).inc(len(rows))
        return len(rows)

    async def _send(self, row) -> asyncio.Future:
        with self._tracer.start_as_current_span(
            f"{row.topic} publish",
            context=context_from(row.trace_context),
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "publish",
                "messaging.destination.name": row.topic,
                "messaging.message.id": str(row.event_id),
                "messaging.kafka.message.key": row.partition_key,
                "cloudevents.event_type": row.event_type,
            },
        ):
            headers = kafka_headers(current_trace_context())
            headers.append(("content-type", b"application/cloudevents+json; charset=utf-8"))
            return await self._producer.send(
                row.topic,
                value=row.payload,
                key=row.partition_key.encode(),
                headers=headers,
            )

    async def purge_history(self) -> None:
        """Forget published outbox rows and processed inbox ids once they can matter no more.

        An inbox id guards against redelivery, which cannot come later than the topic's
        retention (7 days); it is kept twice as long.
        """
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            await session.execute(
                delete(outbox).where(outbox.c.published_at < now - PUBLISHED_RETENTION)
            )
            await session.execute(delete(inbox).where(inbox.c.processed_at < now - INBOX_RETENTION))
