"""The idempotent consumer runtime shared by all services, batched.

A poll of the broker yields a batch of records. The runtime drops at once those whose
`ce_type` header names an event the service does not handle (without parsing them), parses
the rest, and handles the batch in ONE database transaction: it claims every event id in
the inbox with one statement, lets the service's `prefetch` load and lock in bulk what the
handlers will touch, runs each handler in the order the events were consumed, commits once,
and only then commits the Kafka offsets. A redelivered event finds its id already claimed
and has no effect.

A handler that raises rolls the batch back. The events before it are handled again in a
transaction of their own, the failing one alone (retried, then dead-lettered with the error
in its headers), and the rest carry on as a batch: one poison event never blocks or rolls
back its neighbours for good. A message that cannot be parsed is dead-lettered at once.
An event of a type the service handles, at a `schemaversion` newer than its contract, is
parked: dead-lettered at once with the reason `unsupported-schema-version` and counted, to
be replayed once the consumer is upgraded; it is never skipped.
Infrastructure failures (database or broker down) are retried until they pass, without
committing the offset, so nothing is lost.

Offsets are committed for the partitions the consumer owns only, at most every
`consumer_commit_interval_seconds` while events keep coming and at the first empty poll
after they stop (a commit is a broker round trip that every poll paid for, even one whose
events were all skipped), and when the consumer stops. What a crash leaves uncommitted is
delivered again and dropped by the inbox. A rebalance listener lets a
revoked partition's batch in flight finish (for `REVOKE_GRACE_SECONDS` at most, then abandons
it: its transaction rolls back) and commits what was handled before the partitions change
hands; until the new assignment arrives nothing new is started. A commit the group refuses
(it rebalanced meanwhile) is left to the next owner, who gets those events again and drops
them through the inbox: a rebalance never ends the consumer loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, IllegalStateError, KafkaError
from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.db import database_unavailable
from shared.events import Envelope, Event, UnknownEventType, dead_letter_topic
from shared.messaging.kafka import client_id
from shared.messaging.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.metrics import (
    CONSUMER_BATCH_SECONDS,
    CONSUMER_BATCH_SIZE,
    EVENTS_CONSUMED,
    EVENTS_UNSUPPORTED_VERSION,
)
from shared.telemetry import (
    EVENT_TYPE_HEADER,
    carrier_from_kafka_headers,
    context_from,
    kafka_span_attributes,
    tracer,
    tracing_records,
    use_context,
)

log = logging.getLogger(__name__)

Handler = Callable[[Event, Envelope, UnitOfWork], Awaitable[None]]
Prefetch = Callable[[Sequence[Event], UnitOfWork], Awaitable[None]]

INFRASTRUCTURE_ERRORS = (
    OperationalError,
    OSError,
    TimeoutError,
    KafkaError,
    ConnectionError,
)
MAX_INFRASTRUCTURE_DELAY = 5.0
# How long a revoked partition's batch in flight may take to finish before it is abandoned:
# well within the group's rebalance timeout (the session timeout, 10 s by default).
REVOKE_GRACE_SECONDS = 5.0
# How long a stopping consumer waits for its last offset commit.
COMMIT_ON_STOP_SECONDS = 3.0
# Handlers whose rows were prefetched run without awaiting anything: a batch of hundreds would
# hold the event loop, and every HTTP request of the process would wait behind it. The batch
# lets the loop run other work after every this many handlers.
HANDLERS_BETWEEN_YIELDS = 20
# Parsing a batch's envelopes and events holds the loop the same way (about 0.15 ms each).
RECORDS_PARSED_BETWEEN_YIELDS = 50

CLAIM_EVENTS = text(
    "INSERT INTO inbox (event_id, event_type, consumer_group) "
    "SELECT unnest(CAST(:ids AS uuid[])), unnest(CAST(:types AS varchar[])), :group "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


class PoisonMessage(Exception):
    """A message that no retry can make processable."""


class UnsupportedSchemaVersion(Exception):
    """An event of a handled type at a version newer than this consumer's contract."""

    def __init__(self, event_type: str, version: int, readable: int) -> None:
        super().__init__(f"{event_type} schema version {version}; this consumer reads {readable}")
        self.event_type = event_type
        self.version = version


# Why a message was dead-lettered (header `dlq.reason`).
UNPARSEABLE = "unparseable"
HANDLER_FAILED = "handler-failed"
UNSUPPORTED_VERSION = "unsupported-schema-version"


@dataclass(frozen=True)
class ConsumerOutcome:
    name: str


HANDLED = ConsumerOutcome("handled")
DUPLICATE = ConsumerOutcome("duplicate")
IGNORED = ConsumerOutcome("ignored")
DEAD_LETTERED = ConsumerOutcome("dead_lettered")
# Dead-lettered to be replayed once the consumer can read it: not a failure of the message.
PARKED = ConsumerOutcome("parked")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One parsed event of a batch, with the record it came in."""

    record: ConsumerRecord
    envelope: Envelope
    event: Event
    handler: Handler


class HandlerFailed(Exception):
    """The handler (or the prefetch) of the batch's delivery at `index` raised `error`;
    `index` is None when the failure belongs to no one handler (the writes at commit)."""

    def __init__(self, index: int | None, error: BaseException) -> None:
        super().__init__(repr(error))
        self.index = index
        self.error = error


# Deadlock and serialization failures: the transaction lost a race, not the message's fault.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def _is_infrastructure_failure(error: BaseException) -> bool:
    if database_unavailable(error):
        return True
    if (
        isinstance(error, DBAPIError)
        and getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
    ):
        return True
    return isinstance(error, INFRASTRUCTURE_ERRORS)


class EventConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer | None,
        dead_letter_producer: AIOKafkaProducer,
        units_of_work: UnitOfWorkFactory,
        handlers: Mapping[type[Event], Handler],
        prefetch: Prefetch | None = None,
    ) -> None:
        self._consumer = consumer
        self._dead_letters = dead_letter_producer
        self._units_of_work = units_of_work
        self._handlers = {contract.type_name(): handler for contract, handler in handlers.items()}
        self._contracts = {contract.type_name(): contract for contract in handlers}
        self._prefetch = prefetch
        settings = units_of_work.settings
        self._service = settings.service_name
        self._group = settings.consumer_group
        self._dead_letter_topic = dead_letter_topic(settings.consumer_group)
        self._max_attempts = settings.consumer_max_attempts
        self._batch_size = settings.consumer_batch_size
        self._gather_seconds = settings.consumer_gather_seconds
        self._commit_interval = settings.consumer_commit_interval_seconds
        self._last_commit = time.monotonic()
        self._tracer = tracer(__name__)
        self._tracing = tracing_records(settings)
        self._in_flight: asyncio.Task | None = None
        self._handled: dict[TopicPartition, int] = {}
        self._commit_lock = asyncio.Lock()
        self._reassigning = False
        self._span_attributes = kafka_span_attributes(
            settings.kafka_bootstrap_servers, client_id(settings, "consumer")
        )

    def subscribe(self, topics: Sequence[str]) -> None:
        """Subscribe the Kafka consumer (created without topics, not started yet) to `topics`
        with the rebalance listener that finishes or abandons the batch in flight and commits
        before a partition changes hands."""
        assert self._consumer is not None, "subscribe() needs a Kafka consumer"
        self._consumer.subscribe(list(topics), listener=_Rebalance(self))

    async def run(self) -> None:
        assert self._consumer is not None, "run() needs a Kafka consumer"
        try:
            await self._consume()
        finally:
            await self._commit_on_stop()

    async def _consume(self) -> None:
        while True:
            polled = await self._poll()
            if self._reassigning:
                # Fetched before the revocation: the partitions' next owner reads them again.
                continue
            owned = self._consumer.assignment()
            polled = {partition: batch for partition, batch in polled.items() if partition in owned}
            if not polled:
                await self._commit_owned()
                continue
            work = asyncio.create_task(self._handle_polled(polled))
            self._in_flight = work
            try:
                await work
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not work.cancelled() or (current is not None and current.cancelling()):
                    raise
                continue  # abandoned at a revocation: none of it was committed
            finally:
                self._in_flight = None
            if time.monotonic() - self._last_commit >= self._commit_interval:
                await self._commit_owned()

    async def _poll(self) -> dict[TopicPartition, list[ConsumerRecord]]:
        """What the broker has, and, once something came, what else comes within the gather
        time (fetched meanwhile in the background), so a trickle is handled in batches."""
        polled = await self._consumer.getmany(timeout_ms=1000, max_records=self._poll_size)
        room = self._poll_size - sum(len(records) for records in polled.values())
        if not polled or room <= 0 or self._gather_seconds <= 0:
            return polled
        await asyncio.sleep(self._gather_seconds)
        more = await self._consumer.getmany(timeout_ms=0, max_records=room)
        for partition, records in more.items():
            polled[partition] = polled.get(partition, []) + records
        return polled

    async def _handle_polled(self, polled: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        await self._process_polled(polled)
        self._handled.update(
            {partition: records[-1].offset + 1 for partition, records in polled.items()}
        )

    async def _commit_owned(self) -> None:
        """Commit the handled offsets of the partitions this consumer owns now."""
        async with self._commit_lock:
            owned = self._consumer.assignment()
            offsets = {tp: offset for tp, offset in self._handled.items() if tp in owned}
            if not offsets:
                return
            try:
                await self._consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as error:
                log.warning(
                    "offsets not committed: the group rebalanced; the next owner of the"
                    " partitions gets those events again and its inbox drops them",
                    extra={"partitions": len(offsets), "error_type": type(error).__name__},
                )
                return
            self._last_commit = time.monotonic()
            for tp, offset in offsets.items():
                if self._handled.get(tp) == offset:
                    del self._handled[tp]

    async def _commit_on_stop(self) -> None:
        """Commit what was handled before the consumer stops, if the broker answers soon: what
        is left uncommitted is delivered again to the next owner, whose inbox drops it."""
        try:
            await asyncio.wait_for(self._commit_owned(), COMMIT_ON_STOP_SECONDS)
        except (TimeoutError, KafkaError, ConsumerStoppedError, OSError) as error:
            log.warning(
                "offsets not committed on stop; the next owner gets those events again",
                extra={"error_type": type(error).__name__},
            )

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish (or abandon) the batch in flight, commit what was handled, start nothing
        new until the assignment."""
        self._reassigning = True
        work = self._in_flight
        if work is not None and not work.done():
            await asyncio.wait({work}, timeout=REVOKE_GRACE_SECONDS)
            if not work.done():
                log.warning(
                    "abandoning a batch of revoked partitions; their next owner handles it",
                    extra={"partitions": len(revoked)},
                )
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
        await self._commit_owned()
        for tp in revoked:
            self._handled.pop(tp, None)

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self._handled = {tp: offset for tp, offset in self._handled.items() if tp in assigned}
        self._reassigning = False

    @property
    def _poll_size(self) -> int:
        return max(self._batch_size, 100)

    async def _process_polled(self, polled: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        records = [record for batch in polled.values() for record in batch]
        if len(records) <= self._batch_size:
            await self.process_batch(records)
            return
        # Smaller transactions than a poll: partitions are independent (an order's events share
        # one), so they go concurrently, each strictly in order.
        await asyncio.gather(*(self._process_in_chunks(batch) for batch in polled.values()))

    async def _process_in_chunks(self, records: list[ConsumerRecord]) -> None:
        for start in range(0, len(records), self._batch_size):
            await self.process_batch(records[start : start + self._batch_size])

    async def process(self, record: ConsumerRecord) -> ConsumerOutcome:
        """Handle one record on its own; the outcome says what became of it."""
        [outcome] = await self.process_batch([record])
        return outcome

    async def process_batch(self, records: Sequence[ConsumerRecord]) -> list[ConsumerOutcome]:
        """Handle `records` (in consumption order) in as few transactions as the handlers
        allow; returns each record's outcome, in the same order."""
        started = time.perf_counter()
        outcomes: list[ConsumerOutcome | None] = [None] * len(records)
        deliveries: list[tuple[int, Delivery]] = []
        seen: set = set()
        poisoned: list[tuple[ConsumerRecord, BaseException]] = []
        parked: list[tuple[ConsumerRecord, BaseException]] = []
        for position, record in enumerate(records):
            if position and position % RECORDS_PARSED_BETWEEN_YIELDS == 0:
                await asyncio.sleep(0)
            announced = _header(record, EVENT_TYPE_HEADER)
            if announced is not None and announced not in self._handlers:
                outcomes[position] = self._count(announced, IGNORED)
                continue
            try:
                envelope, event = self._parse(record)
            except PoisonMessage as error:
                poisoned.append((record, error))
                outcomes[position] = self._count("unparseable", DEAD_LETTERED)
                continue
            except UnsupportedSchemaVersion as error:
                parked.append((record, error))
                outcomes[position] = self._count(error.event_type, PARKED)
                EVENTS_UNSUPPORTED_VERSION.labels(
                    self._service, error.event_type, str(error.version)
                ).inc()
                continue
            except UnknownEventType:
                outcomes[position] = self._count("unknown", IGNORED)
                continue
            handler = self._handlers.get(envelope.type)
            if handler is None:
                outcomes[position] = self._count(envelope.type, IGNORED)
            elif envelope.id in seen:
                outcomes[position] = self._count(envelope.type, DUPLICATE)
            else:
                seen.add(envelope.id)
                deliveries.append((position, Delivery(record, envelope, event, handler)))
        if poisoned:
            await self._dead_letter(poisoned, attempts=1, reason=UNPARSEABLE)
        if parked:
            log.warning(
                "events at an unsupported schema version parked in the dead-letter topic",
                extra={"events": len(parked), "topic": self._dead_letter_topic},
            )
            await self._dead_letter(parked, attempts=1, reason=UNSUPPORTED_VERSION)
        if deliveries:
            handled = await self._handle([delivery for _, delivery in deliveries])
            for (position, delivery), outcome in zip(deliveries, handled, strict=True):
                outcomes[position] = self._count(delivery.envelope.type, outcome)
        if deliveries:
            CONSUMER_BATCH_SIZE.labels(self._service).observe(len(deliveries))
            CONSUMER_BATCH_SECONDS.labels(self._service).observe(time.perf_counter() - started)
        return [outcome or IGNORED for outcome in outcomes]

    def _parse(self, record: ConsumerRecord) -> tuple[Envelope, Event]:
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except (ValidationError, ValueError) as error:
            raise PoisonMessage(f"not a CloudEvents envelope: {error}") from error
        contract = self._contracts.get(envelope.type)
        if contract is not None and envelope.schemaversion > contract.schema_version:
            raise UnsupportedSchemaVersion(
                envelope.type, envelope.schemaversion, contract.schema_version
            )
        try:
            return envelope, envelope.event()
        except ValidationError as error:
            raise PoisonMessage(f"{envelope.type} fails its contract: {error}") from error

    async def _handle(self, deliveries: list[Delivery]) -> list[ConsumerOutcome]:
        """Outcomes of `deliveries`, isolating a failing handler from its neighbours."""
        try:
            return await self._in_one_transaction(deliveries)
        except HandlerFailed as failure:
            if len(deliveries) == 1:
                return [await self._retry_alone(deliveries[0], failure.error)]
            if failure.index is None:
                middle = len(deliveries) // 2
                return await self._handle(deliveries[:middle]) + await self._handle(
                    deliveries[middle:]
                )
            index = failure.index
            before = await self._handle(deliveries[:index]) if index else []
            culprit = await self._handle([deliveries[index]])
            after = (
                await self._handle(deliveries[index + 1 :]) if index + 1 < len(deliveries) else []
            )
            return before + culprit + after

    async def _retry_alone(self, delivery: Delivery, error: BaseException) -> ConsumerOutcome:
        attempt = 1
        while attempt < self._max_attempts:
            await asyncio.sleep(0.2 * 2**attempt)
            attempt += 1
            try:
                [outcome] = await self._in_one_transaction([delivery])
                return outcome
            except HandlerFailed as failure:
                error = failure.error
        log.error(
            "handler failed; dead-lettering",
            extra={
                "event_id": str(delivery.envelope.id),
                "event_type": delivery.envelope.type,
                "order_id": delivery.envelope.subject,
                "attempts": attempt,
                "error_type": type(error).__name__,
            },
        )
        await self._dead_letter([(delivery.record, error)], attempts=attempt, reason=HANDLER_FAILED)
        return DEAD_LETTERED

    async def _in_one_transaction(self, deliveries: list[Delivery]) -> list[ConsumerOutcome]:
        """Run the deliveries' handlers in one transaction, retrying infrastructure failures
        until they pass; a handler's own failure is raised as `HandlerFailed`."""
        delay = 0.2
        while True:
            try:
                return await self._transaction(deliveries)
            except HandlerFailed as failure:
                if not _is_infrastructure_failure(failure.error):
                    raise
                error: BaseException = failure.error
            except Exception as unexpected:
                if not _is_infrastructure_failure(unexpected):
                    raise
                error = unexpected
            log.warning(
                "infrastructure failure handling a batch; retrying",
                extra={"events": len(deliveries), "error_type": type(error).__name__},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_INFRASTRUCTURE_DELAY)

    async def _transaction(self, deliveries: list[Delivery]) -> list[ConsumerOutcome]:
        with self._batch_span(deliveries):
            async with self._units_of_work() as uow:
                claimed = await self._claim(uow, deliveries)
                fresh = [index for index, d in enumerate(deliveries) if d.envelope.id in claimed]
                if fresh and self._prefetch is not None:
                    try:
                        await self._prefetch([deliveries[index].event for index in fresh], uow)
                    except Exception as error:
                        raise HandlerFailed(fresh[0], error) from error
                for position, index in enumerate(fresh, start=1):
                    await self._run_handler(deliveries[index], index, uow)
                    if position % HANDLERS_BETWEEN_YIELDS == 0:
                        await asyncio.sleep(0)
                try:
                    await uow.commit()
                except Exception as error:
                    raise HandlerFailed(None, error) from error
        return [HANDLED if d.envelope.id in claimed else DUPLICATE for d in deliveries]

    def _batch_span(self, deliveries: list[Delivery]) -> AbstractContextManager:
        """The batch's span, linking every event's trace (nothing when tracing records
        nothing: links alone cost an extraction per event)."""
        if not self._tracing:
            return nullcontext()
        # Named after its topic, or the operation alone when the batch spans several.
        topics = {delivery.record.topic for delivery in deliveries}
        topic = next(iter(topics)) if len(topics) == 1 else None
        attributes = {
            **self._span_attributes,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.consumer.group.name": self._group,
            "messaging.batch.message_count": len(deliveries),
        }
        if topic is not None:
            attributes["messaging.destination.name"] = topic
        return self._tracer.start_as_current_span(
            "process" if topic is None else f"process {topic}",
            kind=trace.SpanKind.CONSUMER,
            links=[_link(delivery.record) for delivery in deliveries[:128]],
            attributes=attributes,
        )

    def _event_span(self, delivery: Delivery) -> AbstractContextManager:
        """The event's `process` span in its order's trace; without tracing, the producer's
        context alone, so that what the handler emits and logs stays in the order's trace."""
        record, envelope = delivery.record, delivery.envelope
        parent = context_from(carrier_from_kafka_headers(record.headers))
        if not self._tracing:
            return use_context(parent)
        return self._tracer.start_as_current_span(
            f"process {record.topic}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                **self._span_attributes,
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self._group,
                "messaging.kafka.offset": record.offset,
                "messaging.kafka.message.key": envelope.subject,  # what the relay keys by
                "messaging.destination.partition.id": str(record.partition),
                "messaging.message.id": str(envelope.id),
                "messaging.message.body.size": len(record.value or b""),
                "cloudevents.event_type": envelope.type,
                "ehub.order_id": envelope.subject,
            },
        )

    async def _claim(self, uow: UnitOfWork, deliveries: list[Delivery]) -> set:
        """Claim every event id of the batch in the inbox; returns those that were new."""
        claimed = await uow.session.execute(
            CLAIM_EVENTS,
            {
                "ids": [delivery.envelope.id for delivery in deliveries],
                "types": [delivery.envelope.type for delivery in deliveries],
                "group": self._group,
            },
        )
        return set(claimed.scalars())

    async def _run_handler(self, delivery: Delivery, index: int, uow: UnitOfWork) -> None:
        envelope = delivery.envelope
        with self._event_span(delivery):
            try:
                await delivery.handler(delivery.event, envelope, uow)
            except Exception as error:
                raise HandlerFailed(index, error) from error
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "event handled",
                extra={
                    "event_type": envelope.type,
                    "event_id": str(envelope.id),
                    "order_id": envelope.subject,
                },
            )

    async def _dead_letter(
        self, failures: list[tuple[ConsumerRecord, BaseException]], attempts: int, reason: str
    ) -> None:
        sent = []
        for record, error in failures:
            headers = list(record.headers or ())
            headers += [
                ("dlq.reason", reason.encode()),
                ("dlq.error.type", type(error).__name__.encode()),
                ("dlq.error.message", str(error)[:4000].encode()),
                ("dlq.original.topic", record.topic.encode()),
                ("dlq.original.partition", str(record.partition).encode()),
                ("dlq.original.offset", str(record.offset).encode()),
                ("dlq.consumer.group", self._group.encode()),
                ("dlq.attempts", str(attempts).encode()),
                ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
            ]
            sent.append(
                await self._dead_letters.send(
                    self._dead_letter_topic, value=record.value, key=record.key, headers=headers
                )
            )
        await asyncio.gather(*sent)

    def _count(self, event_type: str, outcome: ConsumerOutcome) -> ConsumerOutcome:
        EVENTS_CONSUMED.labels(self._service, event_type, outcome.name).inc()
        return outcome


class _Rebalance(ConsumerRebalanceListener):
    """Called by the group coordinator around a rebalance."""

    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._consumer._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._consumer._on_assigned(set(assigned))


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name and value is not None:
            return value.decode(errors="replace")
    return None


def _link(record: ConsumerRecord) -> trace.Link:
    context = trace.get_current_span(context_from(carrier_from_kafka_headers(record.headers)))
    return trace.Link(context.get_span_context())
