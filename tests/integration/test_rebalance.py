"""A second consumer joining and leaving the group mid-load (issue 9 defect 5), on the real
broker: the consumer loop never crashes, every event has one effect, every offset is committed."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import Envelope, Event, PaymentAuthorized, Topics
from shared.messaging.consumer import EventConsumer
from shared.messaging.kafka import manual_commit_consumer
from shared.messaging.unit_of_work import UnitOfWork
from tests.integration.test_batching import effects_by_event
from tests.integration.test_messaging import authorized, record_effect

pytestmark = pytest.mark.integration

EVENTS = 1200
KEYS = 60


async def slow_effect(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
    """Keeps a batch in flight long enough for a rebalance to land in the middle of it."""
    await record_effect(event, envelope, uow)
    await asyncio.sleep(0.004)


async def committed_everything(settings, group: str, topic: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await reader.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        [described] = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        ends = await reader.end_offsets(partitions)
        return all(
            tp in committed and committed[tp].offset == end for tp, end in ends.items() if end > 0
        )
    finally:
        await reader.stop()
        await admin.close()


async def wait_until_handled(
    units_of_work, wanted: set, running: asyncio.Task, poll_seconds: float = 0.1
) -> None:
    """Until every event of `wanted` had its effect (30 s at most), or the consumer loop ended."""
    for _ in range(round(30 / poll_seconds)):
        if running.done() or wanted <= set(await effects_by_event(units_of_work)):
            return
        await asyncio.sleep(poll_seconds)


async def wait_until_committed(settings, group: str, topic: str, running: asyncio.Task) -> None:
    """Until the group committed every partition up to its end, or the consumer loop ended."""
    for _ in range(50):
        if running.done() or await committed_everything(settings, group, topic):
            return
        await asyncio.sleep(0.2)


async def stop_member(running: asyncio.Task, kafka: AIOKafkaConsumer) -> None:
    """Ends a consumer loop (its leave from the group) and stops its Kafka consumer."""
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await kafka.stop()


async def test_a_consumer_joining_and_leaving_mid_load_crashes_nothing_and_loses_nothing(
    units_of_work, settings, producer, caplog
):
    caplog.set_level(logging.WARNING)
    topic = settings.topic(Topics.PAYMENTS)
    keys = [uuid.uuid4() for _ in range(KEYS)]
    envelopes = [Envelope.wrap(authorized(keys[n % KEYS]), "/test") for n in range(EVENTS)]
    for envelope in envelopes:
        await producer.send(topic, value=envelope.to_bytes(), key=envelope.subject.encode())
    await producer.flush()
    group_settings = settings.model_copy(
        update={
            "kafka_topic_prefix": f"{settings.kafka_topic_prefix}rebalance-{uuid.uuid4().hex[:6]}."
        }
    )

    async def member() -> tuple[asyncio.Task, object]:
        kafka = manual_commit_consumer(group_settings, [])
        consumer = EventConsumer(kafka, producer, units_of_work, {PaymentAuthorized: slow_effect})
        consumer.subscribe([topic])
        await kafka.start()
        return asyncio.create_task(consumer.run()), kafka

    first, first_kafka = await member()
    try:
        for _ in range(2):
            await asyncio.sleep(0.8)
            second, second_kafka = await member()
            await asyncio.sleep(1.2)
            await stop_member(second, second_kafka)
            assert second.cancelled(), "the joining consumer ended by its own leave, not a crash"

        await wait_until_handled(units_of_work, {envelope.id for envelope in envelopes}, first)
        await wait_until_committed(settings, group_settings.consumer_group, topic, first)
        assert not first.done(), f"the consumer loop ended: {first.exception()!r}"
    finally:
        await stop_member(first, first_kafka)

    counted = await effects_by_event(units_of_work)
    assert {envelope.id for envelope in envelopes} <= set(counted)
    assert set(counted.values()) == {1}
    assert await committed_everything(settings, group_settings.consumer_group, topic)
    failures = [
        record.getMessage()
        for record in caplog.records
        if "IllegalStateError" in record.getMessage() + str(record.exc_info)
        or "CommitFailedError" in record.getMessage() + str(record.exc_info)
    ]
    assert failures == []
