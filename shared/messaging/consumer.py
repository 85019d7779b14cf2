"""The idempotent consumer runtime shared by all services.

For each message: parse the CloudEvents envelope, claim the event id in the inbox and
run the handler in one database transaction, commit, and only then commit the Kafka
offset. A redelivered event finds its id already claimed and is acknowledged without
effect. A message that cannot be parsed or validated, or whose handler keeps failing,
goes to the service's dead-letter topic with the error in its headers; infrastructure
failures (database or broker down) are retried until they pass, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.events import Envelope, Event, UnknownEventType, dead_letter_topic
from shared.messaging.tables import inbox
from shared.messaging.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.metrics import EVENTS_CONSUMED, HANDLER_SECONDS
from shared.telemetry import carrier_from_kafka_headers, context_from, tracer

log = logging.getLogger(__name__)

Handler = Callable[[Event, Envelope, UnitOfWork], Awaitable[None]]

INFRASTRUCTURE_ERRORS = (
    OperationalError,
    OSError,
    TimeoutError,
    KafkaError,
    ConnectionError,
)


class PoisonMessage(Exception):
    """A message that no retry can make processable."""


@dataclass(frozen=True)
class ConsumerOutcome:
    name: str


HANDLED = ConsumerOutcome("handled")
DUPLICATE = ConsumerOutcome("duplicate")
IGNORED = ConsumerOutcome("ignored")
DEAD_LETTERED = ConsumerOutcome("dead_lettered")


def _is_infrastructure_failure(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, INFRASTRUCTURE_ERRORS)


class EventConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        dead_letter_producer: AIOKafkaProducer,
        units_of_work: UnitOfWorkFactory,
        handlers: Mapping[type[Event], Handler],
    ) -> None:
        self._consumer = consumer
        self._dead_letters = dead_letter_producer
        self._units_of_work = units_of_work
        self._handlers = {contract.type_name(): handler for contract, handler in handlers.items()}
        settings = units_of_work.settings
        self._service = settings.service_name
        self._group = settings.consumer_group
        self._dead_letter_topic = dead_letter_topic(settings.consumer_group)
        self._max_attempts = settings.consumer_max_attempts
        self._tracer = tracer(__name__)

    async def run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000, max_records=100)
            if not batches:
                continue
            # Partitions are independent (an order's events share one), so they are handled
            # concurrently; within a partition, strictly in order.
            await asyncio.gather(*(self._process_in_order(records) for records in batches.values()))
            await self._consumer.commit(
                {partition: records[-1].offset + 1 for partition, records in batches.items()}
            )

    async def _process_in_order(self, records: list[ConsumerRecord]) -> None:
        for record in records:
            await self.process(record)

    async def process(self, record: ConsumerRecord) -> ConsumerOutcome:
        carrier = carrier_from_kafka_headers(record.headers)
        with self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=context_from(carrier),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self._group,
                "messaging.kafka.message.offset": record.offset,
                "messaging.destination.partition.id": str(record.partition),
            },
        ) as span:
            try:
                envelope, event = self._parse(record)
            except PoisonMessage as error:
                await self._dead_letter(record, error, attempts=1)
                return self._count("unparseable", DEAD_LETTERED)
            except UnknownEventType:
                return self._count("unknown", IGNORED)
            span.set_attribute("messaging.message.id", str(envelope.id))
            span.set_attribute("cloudevents.event_type", envelope.type)
            span.set_attribute("ehub.order_id", envelope.subject)
            handler = self._handlers.get(envelope.type)
            if handler is None:
                return self._count(envelope.type, IGNORED)
            return await self._handle_with_retries(record, envelope, event, handler)

    def _parse(self, record: ConsumerRecord) -> tuple[Envelope, Event]:
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except (ValidationError, ValueError) as error:
            raise PoisonMessage(f"not a CloudEvents envelope: {error}") from error
        try:
            return envelope, envelope.event()
        except ValidationError as error:
            raise PoisonMessage(f"{envelope.type} fails its contract: {error}") from error

    async def _handle_with_retries(
        self, record: ConsumerRecord, envelope: Envelope, event: Event, handler: Handler
    ) -> ConsumerOutcome:
        attempt = 0
        infrastructure_delay = 0.5
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                outcome = await self._handle_once(envelope, event, handler)
                elapsed = time.perf_counter() - started
                HANDLER_SECONDS.labels(self._service, envelope.type).observe(elapsed)
                log.info(
                    "event %s",
                    outcome.name,
                    extra={
                        "event_type": envelope.type,
                        "event_id": str(envelope.id),
                        "order_id": envelope.subject,
                        "handler_ms": round(elapsed * 1000, 1),
                    },
                )
                return self._count(envelope.type, outcome)
            except Exception as error:
                if _is_infrastructure_failure(error):
                    log.warning(
                        "infrastructure failure handling event; retrying",
                        extra={"event_id": str(envelope.id), "error": repr(error)},
                    )
                    await asyncio.sleep(infrastructure_delay)
                    infrastructure_delay = min(infrastructure_delay * 2, 30.0)
                    attempt -= 1
                    continue
                if attempt >= self._max_attempts:
                    log.exception(
                        "handler failed; dead-lettering",
                        extra={"event_id": str(envelope.id), "attempts": attempt},
                    )
                    await self._dead_letter(record, error, attempts=attempt)
                    return self._count(envelope.type, DEAD_LETTERED)
                await asyncio.sleep(0.2 * 2**attempt)

    async def _handle_once(
        self, envelope: Envelope, event: Event, handler: Handler
    ) -> ConsumerOutcome:
        async with self._units_of_work() as uow:
            claimed = await uow.session.execute(
                insert(inbox)
                .values(
                    event_id=envelope.id,
                    consumer_group=self._group,
                    event_type=envelope.type,
                )
                .on_conflict_do_nothing()
                .returning(inbox.c.event_id)
            )
            if claimed.first() is None:
                return DUPLICATE
            await handler(event, envelope, uow)
            await uow.commit()
        return HANDLED

    async def _dead_letter(
        self, record: ConsumerRecord, error: BaseException, attempts: int
    ) -> None:
        headers = list(record.headers or ())
        headers += [
            ("dlq.error.type", type(error).__name__.encode()),
            ("dlq.error.message", str(error)[:4000].encode()),
            ("dlq.original.topic", record.topic.encode()),
            ("dlq.original.partition", str(record.partition).encode()),
            ("dlq.original.offset", str(record.offset).encode()),
            ("dlq.consumer.group", self._group.encode()),
            ("dlq.attempts", str(attempts).encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._dead_letters.send_and_wait(
            self._dead_letter_topic, value=record.value, key=record.key, headers=headers
        )

    def _count(self, event_type: str, outcome: ConsumerOutcome) -> ConsumerOutcome:
        EVENTS_CONSUMED.labels(self._service, event_type, outcome.name).inc()
        return outcome
