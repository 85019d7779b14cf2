"""Batched consumer transactions and bucketed relaying, against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import create_async_engine

from shared.events import Envelope, Event, PaymentAuthorized, Topics, dead_letter_topic
from shared.messaging.consumer import DEAD_LETTERED, DUPLICATE, HANDLED, EventConsumer
from shared.messaging.kafka import (
    all_topics,
    ensure_topics,
    manual_commit_consumer,
    reliable_producer,
)
from shared.messaging.relay import OUTBOX_BUCKETS, PRESENCE_LOCK, OutboxRelay
from shared.messaging.tables import outbox
from shared.messaging.unit_of_work import UnitOfWork, UnitOfWorkFactory
from tests.infrastructure import admin_url
from tests.integration.conftest import effects
from tests.integration.test_messaging import authorized, read_topic, record_effect

pytestmark = pytest.mark.integration


async def effects_by_event(units_of_work) -> dict[uuid.UUID, int]:
    async with units_of_work() as uow:
        rows = await uow.session.execute(
            sa.select(effects.c.event_id, sa.func.count()).group_by(effects.c.event_id)
        )
        return dict(rows.all())


async def test_one_batch_with_a_duplicate_a_poison_event_and_a_flaky_handler(
    units_of_work, settings, producer
):
    topic = settings.topic(Topics.PAYMENTS)
    order_ids = [uuid.uuid4() for _ in range(6)]
    envelopes = [Envelope.wrap(authorized(order_id), "/test") for order_id in order_ids]
    flaky = envelopes[4].id
    calls: dict[uuid.UUID, int] = defaultdict(int)

    async def fails_twice_then_passes(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        calls[envelope.id] += 1
        await record_effect(event, envelope, uow)
        if envelope.id == flaky and calls[envelope.id] <= 2:
            raise RuntimeError("gateway hiccup")

    sent = [envelopes[0], envelopes[1], envelopes[1], None, envelopes[2], *envelopes[3:]]
    key = uuid.uuid4()
    for envelope in sent:
        value = b"\x00garbage" if envelope is None else envelope.to_bytes()
        await producer.send_and_wait(topic, value=value, key=str(key).encode())
    records = await read_topic(settings, topic, key, expected=len(sent))
    consumer = EventConsumer(
        None, producer, units_of_work, {PaymentAuthorized: fails_twice_then_passes}
    )

    outcomes = await consumer.process_batch(records)

    assert outcomes == [HANDLED, HANDLED, DUPLICATE, DEAD_LETTERED, *[HANDLED] * 4]
    assert await effects_by_event(units_of_work) == {envelope.id: 1 for envelope in envelopes}
    assert calls[flaky] == 3, "failed in the batch, failed alone, then passed"
    [dead] = await read_topic(settings, dead_letter_topic(settings.consumer_group), key, 1)
    assert dead.value == b"\x00garbage"


async def test_a_consumer_killed_after_its_commit_and_before_the_offsets_has_one_effect(
    units_of_work, settings, producer
):
    topic = settings.topic(Topics.PAYMENTS)
    key = uuid.uuid4()
    envelopes = [Envelope.wrap(authorized(uuid.uuid4()), "/test") for _ in range(20)]
    for envelope in envelopes:
        await producer.send(topic, value=envelope.to_bytes(), key=str(key).encode())
    await producer.flush()
    group_settings = settings.model_copy(
        update={"kafka_topic_prefix": f"{settings.kafka_topic_prefix}kill-{key.hex[:6]}."}
    )

    class Killed(Exception):
        """The process dies here (a real SystemExit would stop the test's event loop too)."""

    class KilledBeforeOffsets(EventConsumer):
        async def process_batch(self, records):
            await super().process_batch(records)
            raise Killed("killed after the database commit, before the offset commit")

    async def consume(kind: type[EventConsumer]) -> None:
        kafka = manual_commit_consumer(group_settings, [topic])
        await kafka.start()
        try:
            await kind(kafka, producer, units_of_work, {PaymentAuthorized: record_effect}).run()
        finally:
            await kafka.stop()

    with pytest.raises(Killed):
        await asyncio.wait_for(consume(KilledBeforeOffsets), timeout=30)
    restarted = asyncio.create_task(consume(EventConsumer))
    try:
        for _ in range(100):
            if {e.id for e in envelopes} <= set(await effects_by_event(units_of_work)):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
    finally:
        restarted.cancel()
        await asyncio.gather(restarted, return_exceptions=True)

    # The new group reads the topic from its start: earlier tests' events count once too.
    counted = await effects_by_event(units_of_work)
    assert {envelope.id for envelope in envelopes} <= set(counted)
    assert set(counted.values()) == {1}


async def test_two_relays_share_one_outbox_publish_every_row_and_keep_each_keys_order(
    engine, units_of_work, settings
):
    keys = [uuid.uuid4() for _ in range(24)]
    emitted: dict[str, list[uuid.UUID]] = defaultdict(list)
    for _ in range(10):
        async with units_of_work() as uow:
            for key in keys:
                envelope = await uow.emit(authorized(key))
                emitted[str(key)].append(envelope.id)
            await uow.commit()
    producers = [reliable_producer(settings) for _ in range(2)]
    relays_of_each = [OutboxRelay(engine, producer, settings) for producer in producers]
    for producer in producers:
        await producer.start()
    held: list[set[int]] = [set(), set()]

    async def relay_until_drained(index: int) -> None:
        relay = relays_of_each[index]
        for _ in range(200):
            await relay.publish_pending()
            held[index] |= set(relay.buckets)
            async with engine.connect() as connection:
                pending = await connection.scalar(sa.select(sa.func.count()).select_from(outbox))
            if not pending and all(held):
                return
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(asyncio.gather(relay_until_drained(0), relay_until_drained(1)), 30)
    finally:
        for relay in relays_of_each:
            await relay.close()
        for producer in producers:
            await producer.stop()

    assert all(held), "each relay held buckets of its own"
    assert held[0] | held[1] == set(range(OUTBOX_BUCKETS))
    published: dict[str, list[uuid.UUID]] = defaultdict(list)
    consumer = AIOKafkaConsumer(
        settings.topic(Topics.PAYMENTS),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        wanted = {str(key) for key in keys}
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key.decode() in wanted:
                        event_id = Envelope.from_bytes(record.value).id
                        if event_id not in published[record.key.decode()]:
                            published[record.key.decode()].append(event_id)
            if sum(map(len, published.values())) >= 10 * len(keys):
                break
    finally:
        await consumer.stop()
    assert published == emitted, "every row published once at least, each key in its order"


async def test_a_write_refused_at_commit_dead_letters_only_the_event_that_made_it(
    engine, units_of_work, settings, producer
):
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "CREATE TABLE IF NOT EXISTS deferred_claims (order_id uuid, CONSTRAINT one_claim "
                "UNIQUE (order_id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    topic = settings.topic(Topics.PAYMENTS)
    key = uuid.uuid4()
    envelopes = [Envelope.wrap(authorized(uuid.uuid4()), "/test") for _ in range(5)]
    refused = envelopes[2]

    async def claims_once_at_commit(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        await record_effect(event, envelope, uow)
        claims = 2 if envelope.id == refused.id else 1
        for _ in range(claims):
            await uow.session.execute(
                sa.text("INSERT INTO deferred_claims VALUES (:order_id)"),
                {"order_id": event.order_id},
            )

    for envelope in envelopes:
        await producer.send_and_wait(topic, value=envelope.to_bytes(), key=str(key).encode())
    records = await read_topic(settings, topic, key, expected=len(envelopes))
    consumer = EventConsumer(
        None, producer, units_of_work, {PaymentAuthorized: claims_once_at_commit}
    )

    outcomes = await consumer.process_batch(records)

    assert outcomes == [HANDLED, HANDLED, DEAD_LETTERED, HANDLED, HANDLED]
    assert await effects_by_event(units_of_work) == {
        envelope.id: 1 for envelope in envelopes if envelope is not refused
    }
    [dead] = await read_topic(settings, dead_letter_topic(settings.consumer_group), key, 1)
    assert dict(dead.headers)["dlq.error.type"] == b"IntegrityError"


async def test_a_relay_counts_only_the_relays_of_its_own_database(engine, relays, producer):
    other_database = create_async_engine(admin_url("postgres"))
    try:
        async with other_database.connect() as elsewhere:
            await elsewhere.execute(
                sa.text("SELECT pg_advisory_lock(:presence, pg_backend_pid())"),
                {"presence": PRESENCE_LOCK},
            )
            relay = relays(producer)
            await relay.publish_pending()

            assert relay.buckets == list(range(OUTBOX_BUCKETS))
            await elsewhere.execute(sa.text("SELECT pg_advisory_unlock_all()"))
    finally:
        await other_database.dispose()


async def test_events_arriving_within_the_gather_time_of_a_poll_are_one_batch(
    units_of_work, settings, producer
):
    key = uuid.uuid4()
    prefix = f"{settings.kafka_topic_prefix}gather-{key.hex[:6]}."
    await ensure_topics(settings.kafka_bootstrap_servers, prefix)
    gathering = settings.model_copy(
        update={"kafka_topic_prefix": prefix, "consumer_gather_seconds": 1.0}
    )
    topic = gathering.topic(Topics.PAYMENTS)
    batches: list[list[uuid.UUID]] = []

    class Recording(EventConsumer):
        async def process_batch(self, records):
            batches.append([Envelope.from_bytes(record.value).id for record in records])
            return await super().process_batch(records)

    kafka = manual_commit_consumer(gathering, [topic])
    await kafka.start()
    gathered = UnitOfWorkFactory(units_of_work.sessions, gathering)
    consumer = Recording(kafka, producer, gathered, {PaymentAuthorized: record_effect})
    running = asyncio.create_task(consumer.run())
    try:
        for _ in range(300):
            if kafka.assignment():
                break
            await asyncio.sleep(0.1)
        first, second = (Envelope.wrap(authorized(uuid.uuid4()), "/test") for _ in range(2))
        await producer.send_and_wait(topic, value=first.to_bytes(), key=str(key).encode())
        # Long after the first event's fetch (a fetch answers as soon as one byte is there),
        # well within the gather time.
        await asyncio.sleep(0.3)
        await producer.send_and_wait(topic, value=second.to_bytes(), key=str(key).encode())
        for _ in range(100):
            if {first.id, second.id} <= set(await effects_by_event(units_of_work)):
                break
            await asyncio.sleep(0.1)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await kafka.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        await admin.delete_topics(all_topics(prefix))
        await admin.close()
    assert batches == [[first.id, second.id]]
