"""Gauges of waiting work, measured apart from the happy path.

A counter bumped by the relay or a handler moves only while work flows: a stuck relay or
consumer freezes it at its last, healthy value. The sampler asks instead, every
`metrics_sample_seconds` (15 s), what is waiting: each probe is one or two aggregate
statements on the service's own database or a few Kafka admin requests, never a query per
event. Every service samples its outbox and its consumer group's lag; a service adds probes
of its own (orders: statuses, stuck orders, webhooks) through `create_service_app(probes=)`.

Each probe runs in a loop of its own, at its own period (the dead letters', which reads the
dead-letter topic, every `dead_letter_watch_seconds`). A probe that fails (database or
broker away) is counted and retried at its next turn; the others go on, so the outbox
backlog keeps being measured while the broker is down.
`ehub_sampler_last_success_timestamp_seconds` says how fresh each probe's gauges are.
Every replica of a service measures the same database and consumer group: queries take
`max by (service, …)` over replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.dead_letters import WATCHED_LETTERS, read_dead_letters, record_gauges
from shared.messaging.kafka import client_id, connection_options
from shared.metrics import (
    CONSUMER_LAG,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    SAMPLER_FAILURES,
    SAMPLER_LAST_SUCCESS,
)
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# A probe may take this long at least before it counts as failed: Kafka's own requests time
# out after 40 s, a blocked broker connection must not hold a probe for longer than that.
PROBE_TIMEOUT_FLOOR = 30.0

# The outbox holds only rows not yet published (the relay deletes what the broker acknowledged):
# counting it is cheap while it is healthy, and bounded by what is waiting when it is not.
OUTBOX_STATE = text(
    "SELECT count(*) AS rows, "
    "coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS oldest "
    "FROM outbox"
)


class BrokerOffsets:
    """The consumer group's committed offsets (admin API) against its topics' end offsets
    (a group-less consumer that never fetches). The clients open on first use and close
    after a failure, so a broker outage costs one failed probe per pass."""

    def __init__(self, settings: ServiceSettings, topics: Sequence[str]) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def lag(self) -> dict[TopicPartition, int]:
        """Messages of each partition of the topics not yet committed by the group."""
        try:
            admin, consumer = await self._clients()
            described = await admin.describe_topics(self._topics)
            partitions = [
                TopicPartition(topic["topic"], partition["partition"])
                for topic in described
                for partition in topic["partitions"]
            ]
            committed, end, beginning = await asyncio.gather(
                admin.list_consumer_group_offsets(self._settings.consumer_group),
                consumer.end_offsets(partitions),
                consumer.beginning_offsets(partitions),
            )
        except BaseException:
            await self.close()
            raise
        # A partition the group never committed is read from its beginning (earliest).
        return {
            tp: max(
                end[tp] - max(committed[tp].offset if tp in committed else -1, beginning[tp]), 0
            )
            for tp in partitions
        }

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            options = connection_options(self._settings)
            admin = AIOKafkaAdminClient(
                **options, client_id=client_id(self._settings, "metrics-admin")
            )
            consumer = AIOKafkaConsumer(
                **options,
                client_id=client_id(self._settings, "metrics-offsets"),
                group_id=None,
                enable_auto_commit=False,
                # The end the service's consumer sees (it reads committed records only).
                isolation_level="read_committed",
            )
            self._admin, self._consumer = admin, consumer
            await admin.start()
            await consumer.start()
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        # A client of a broker that is gone may fail to close: it is dropped all the same.
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()


@dataclass(frozen=True)
class SampleContext:
    """What a probe may read: the service's settings, database and broker offsets."""

    settings: ServiceSettings
    engine: AsyncEngine
    offsets: BrokerOffsets


@dataclass(frozen=True)
class Probe:
    """One measurement: `measure` reads and sets its gauges; its name labels its health.
    It runs every `every_seconds`, or every `metrics_sample_seconds` if None."""

    name: str
    measure: Callable[[SampleContext], Awaitable[None]]
    every_seconds: float | None = None


async def measure_outbox(context: SampleContext) -> None:
    async with context.engine.connect() as connection:
        state = (await connection.execute(OUTBOX_STATE)).one()
    service = context.settings.service_name
    OUTBOX_BACKLOG.labels(service).set(state.rows)
    OUTBOX_OLDEST_AGE.labels(service).set(float(state.oldest))


async def measure_consumer_lag(context: SampleContext) -> None:
    service = context.settings.service_name
    for tp, lag in (await context.offsets.lag()).items():
        CONSUMER_LAG.labels(service, tp.topic, str(tp.partition)).set(lag)


async def measure_dead_letters(context: SampleContext) -> None:
    letters = await read_dead_letters(context.settings, limit=WATCHED_LETTERS)
    record_gauges(context.settings, letters, datetime.now(UTC))


OUTBOX_PROBE = Probe("outbox", measure_outbox)
CONSUMER_LAG_PROBE = Probe("consumer_lag", measure_consumer_lag)


class Sampler:
    def __init__(
        self,
        settings: ServiceSettings,
        engine: AsyncEngine,
        topics: Sequence[str],
        probes: Sequence[Probe] = (),
    ) -> None:
        self._settings = settings
        self._offsets = BrokerOffsets(settings, topics)
        self._context = SampleContext(settings, engine, self._offsets)
        dead_letters = Probe(
            "dead_letters", measure_dead_letters, settings.dead_letter_watch_seconds
        )
        self._probes = [
            OUTBOX_PROBE,
            *([CONSUMER_LAG_PROBE, dead_letters] if topics else []),
            *probes,
        ]

    @property
    def probes(self) -> list[Probe]:
        return list(self._probes)

    async def sample(self) -> None:
        """Every probe once, side by side."""
        await asyncio.gather(*(self._run(probe) for probe in self._probes))

    async def run(self) -> None:
        try:
            await asyncio.gather(*(self._keep_measuring(probe) for probe in self._probes))
        finally:
            await self.close()

    def _period(self, probe: Probe) -> float:
        return probe.every_seconds or self._settings.metrics_sample_seconds

    async def _keep_measuring(self, probe: Probe) -> None:
        while True:
            started = time.monotonic()
            await self._run(probe)
            await asyncio.sleep(max(self._period(probe) - (time.monotonic() - started), 0))

    async def close(self) -> None:
        """Close the broker clients (they open again at the next pass)."""
        await self._offsets.close()

    async def _run(self, probe: Probe) -> None:
        service = self._settings.service_name
        try:
            await asyncio.wait_for(
                probe.measure(self._context),
                timeout=max(self._period(probe), PROBE_TIMEOUT_FLOOR),
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            SAMPLER_FAILURES.labels(service, probe.name).inc()
            log.warning(
                "metrics probe failed",
                extra={"probe": probe.name, "error_type": type(error).__name__},
            )
        else:
            SAMPLER_LAST_SUCCESS.labels(service, probe.name).set(time.time())
