"""Outbox, inbox and dead-letter behaviour against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from shared.events import Envelope, Event, PaymentAuthorized, Topics, dead_letter_topic
from shared.messaging.consumer import DEAD_LETTERED, DUPLICATE, HANDLED, EventConsumer
from shared.messaging.dead_letters import LetterState, read_dead_letters, replay
from shared.messaging.tables import inbox, outbox
from shared.messaging.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.settings import ServiceSettings
from tests.integration.conftest import effects

pytestmark = pytest.mark.integration


def authorized(order_id: uuid.UUID) -> PaymentAuthorized:
    return PaymentAuthorized(
        order_id=order_id,
        payment_id=uuid.uuid4(),
        amount={"amount": Decimal("57.10"), "currency": "EUR"},
    )


async def record_effect(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
    await uow.session.execute(
        sa.insert(effects).values(event_id=envelope.id, order_id=event.order_id)
    )


async def read_topic(
    settings: ServiceSettings, topic: str, key: uuid.UUID, expected: int, timeout: float = 15
) -> list[ConsumerRecord]:
    """Every record of `topic` keyed by `key`, waiting until `expected` arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                found += [record for record in records if record.key == str(key).encode()]
            if len(found) >= expected:
                await asyncio.sleep(0.5)
                found += [
                    record
                    for records in (await consumer.getmany(timeout_ms=300)).values()
                    for record in records
                    if record.key == str(key).encode()
                ]
                break
    finally:
        await consumer.stop()
    return found


async def effect_count(units_of_work: UnitOfWorkFactory, order_id: uuid.UUID) -> int:
    async with units_of_work() as uow:
        return await uow.session.scalar(
            sa.select(sa.func.count()).select_from(effects).where(effects.c.order_id == order_id)
        )


class CrashAfterPublish:
    """A producer whose process dies right after the broker acknowledged the batch."""

    def __init__(self, producer) -> None:
        self._producer = producer

    async def send(self, *args, **kwargs):
        delivery = await self._producer.send(*args, **kwargs)
        await delivery
        raise SystemError("relay killed between publish and mark")


async def test_committed_event_is_published_with_its_trace_context(
    relays, units_of_work, settings, producer, order_id
):
    async with units_of_work() as uow:
        await uow.emit(authorized(order_id))
        await uow.commit()

    published = await relays(producer).publish_pending()

    assert published == 1
    [record] = await read_topic(settings, settings.topic(Topics.PAYMENTS), order_id, expected=1)
    envelope = Envelope.from_bytes(record.value)
    assert envelope.type == PaymentAuthorized.type_name()
    assert envelope.subject == str(order_id)
    assert envelope.specversion == "1.0"
    assert {key for key, _ in record.headers} >= {"traceparent", "content-type"}
    async with units_of_work() as uow:
        pending = await uow.session.scalar(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    assert pending == 0


async def test_rolled_back_transaction_publishes_nothing(
    relays, units_of_work, settings, producer, order_id
):
    async with units_of_work() as uow:
        await uow.emit(authorized(order_id))

    assert await relays(producer).publish_pending() == 0


async def test_relay_killed_between_publish_and_mark_resends_and_inbox_keeps_one_effect(
    relays, units_of_work, settings, producer, order_id
):
    async with units_of_work() as uow:
        await uow.emit(authorized(order_id))
        await uow.commit()

    crashing = relays(CrashAfterPublish(producer))
    with pytest.raises(SystemError):
        await crashing.publish_pending()
    assert await relays(producer).publish_pending() == 1

    records = await read_topic(settings, settings.topic(Topics.PAYMENTS), order_id, expected=2)
    assert len(records) == 2, "the crash must cause a re-send, never a loss"
    consumer = EventConsumer(
        consumer=None,
        dead_letter_producer=producer,
        units_of_work=units_of_work,
        handlers={PaymentAuthorized: record_effect},
    )
    outcomes = [await consumer.process(record) for record in records]

    assert outcomes == [HANDLED, DUPLICATE]
    assert await effect_count(units_of_work, order_id) == 1


async def test_redelivered_event_is_acknowledged_without_effect(
    relays, units_of_work, settings, producer, order_id
):
    async with units_of_work() as uow:
        await uow.emit(authorized(order_id))
        await uow.commit()
    await relays(producer).publish_pending()
    [record] = await read_topic(settings, settings.topic(Topics.PAYMENTS), order_id, expected=1)
    consumer = EventConsumer(None, producer, units_of_work, {PaymentAuthorized: record_effect})

    outcomes = [await consumer.process(record) for _ in range(3)]

    assert outcomes == [HANDLED, DUPLICATE, DUPLICATE]
    assert await effect_count(units_of_work, order_id) == 1


async def test_unparseable_message_is_dead_lettered_and_the_consumer_moves_on(
    units_of_work, settings, producer, order_id
):
    topic = settings.topic(Topics.PAYMENTS)
    await producer.send_and_wait(topic, value=b"{not json", key=str(order_id).encode())
    bad_contract = Envelope.wrap(authorized(order_id), "/test").model_copy(
        update={"data": {"order_id": str(order_id), "amount": "lots"}}
    )
    await producer.send_and_wait(topic, value=bad_contract.to_bytes(), key=str(order_id).encode())
    good = Envelope.wrap(authorized(order_id), "/test")
    await producer.send_and_wait(topic, value=good.to_bytes(), key=str(order_id).encode())
    records = await read_topic(settings, topic, order_id, expected=3)
    consumer = EventConsumer(None, producer, units_of_work, {PaymentAuthorized: record_effect})

    outcomes = [await consumer.process(record) for record in records]

    assert outcomes == [DEAD_LETTERED, DEAD_LETTERED, HANDLED]
    dead = await read_topic(settings, dead_letter_topic(settings.consumer_group), order_id, 2)
    assert len(dead) == 2
    headers = dict(dead[0].headers)
    assert headers["dlq.original.topic"].decode() == topic
    assert headers["dlq.error.type"] == b"PoisonMessage"
    assert b"not a CloudEvents envelope" in headers["dlq.error.message"]
    assert b"fails its contract" in dict(dead[1].headers)["dlq.error.message"]
    assert await effect_count(units_of_work, order_id) == 1


async def test_handler_that_keeps_failing_is_dead_lettered_after_its_attempts(
    units_of_work, settings, producer, order_id
):
    calls = 0

    async def broken(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await record_effect(event, envelope, uow)
        raise ValueError("rule table missing")

    envelope = Envelope.wrap(authorized(order_id), "/test")
    topic = settings.topic(Topics.PAYMENTS)
    await producer.send_and_wait(topic, value=envelope.to_bytes(), key=str(order_id).encode())
    [record] = await read_topic(settings, topic, order_id, expected=1)

    outcome = await EventConsumer(
        None, producer, units_of_work, {PaymentAuthorized: broken}
    ).process(record)

    assert outcome == DEAD_LETTERED
    assert calls == settings.consumer_max_attempts
    assert await effect_count(units_of_work, order_id) == 0, "a failed attempt leaves no effect"
    [dead] = await read_topic(settings, dead_letter_topic(settings.consumer_group), order_id, 1)
    assert dict(dead.headers)["dlq.error.type"] == b"ValueError"
    assert dict(dead.headers)["dlq.attempts"] == b"2"


async def test_dead_letter_can_be_inspected_and_replayed_once_the_cause_is_fixed(
    units_of_work, settings, producer, order_id
):
    async def not_yet(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        raise LookupError("tariff table not loaded")

    topic = settings.topic(Topics.PAYMENTS)
    envelope = Envelope.wrap(authorized(order_id), "/test")
    await producer.send_and_wait(topic, value=envelope.to_bytes(), key=str(order_id).encode())
    [record] = await read_topic(settings, topic, order_id, expected=1)
    await EventConsumer(None, producer, units_of_work, {PaymentAuthorized: not_yet}).process(record)

    letters = [
        letter for letter in await read_dead_letters(settings) if letter.key == str(order_id)
    ]
    assert len(letters) == 1
    assert letters[0].original_topic == topic
    assert letters[0].error_type == "LookupError"
    assert "tariff table not loaded" in letters[0].error_message

    assert await replay(settings, letters, by="officer.test") == 1
    [replayed] = [
        letter for letter in await read_dead_letters(settings) if letter.key == str(order_id)
    ]
    assert replayed.state is LetterState.REPLAYED
    assert replayed.resolution is not None and replayed.resolution.by == "officer.test"
    records = await read_topic(settings, topic, order_id, expected=2)
    fixed = EventConsumer(None, producer, units_of_work, {PaymentAuthorized: record_effect})

    assert await fixed.process(records[-1]) == HANDLED
    assert dict(records[-1].headers)["dlq.replayed_from"].startswith(b"test-")
    assert await effect_count(units_of_work, order_id) == 1


async def test_history_older_than_its_use_is_purged(
    relays, units_of_work, settings, producer, order_id
):
    async with units_of_work() as uow:
        await uow.emit(authorized(order_id))
        await uow.commit()
    relay = relays(producer)
    await relay.publish_pending()
    async with units_of_work() as uow:
        await uow.session.execute(
            sa.insert(inbox).values(event_id=uuid.uuid4(), consumer_group="g", event_type="t")
        )
        await uow.session.execute(
            sa.update(outbox).values(published_at=sa.func.now() - sa.text("interval '8 days'"))
        )
        await uow.session.execute(
            sa.update(inbox).values(processed_at=sa.func.now() - sa.text("interval '38 days'"))
        )
        await uow.commit()

    # A dead letter may be replayed up to 30 days on: the groups that handled its event then
    # must still know its id.
    recent = uuid.uuid4()
    async with units_of_work() as uow:
        await uow.session.execute(
            sa.insert(inbox).values(
                event_id=recent,
                consumer_group="g",
                event_type="t",
                processed_at=sa.func.now() - sa.text("interval '31 days'"),
            )
        )
        await uow.commit()

    await relay.purge_history()

    async with units_of_work() as uow:
        assert await uow.session.scalar(sa.select(sa.func.count()).select_from(outbox)) == 0
        assert (await uow.session.scalars(sa.select(inbox.c.event_id))).all() == [recent]
