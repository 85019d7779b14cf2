"""When a consumer commits its offsets, on the real broker: not after every poll while events
keep coming, yet everything handled is committed once they stop, and when the consumer stops."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.events import Envelope, PaymentAuthorized, Topics
from shared.messaging.consumer import EventConsumer
from shared.messaging.kafka import manual_commit_consumer
from tests.integration.test_batching import effects_by_event
from tests.integration.test_messaging import authorized, record_effect
from tests.integration.test_rebalance import (
    committed_everything,
    stop_member,
    wait_until_committed,
    wait_until_handled,
)

pytestmark = pytest.mark.integration

EVENTS = 40


async def _consume_until_handled(units_of_work, settings, producer, *, stop_at_once: bool):
    """Runs a consumer whose commit interval never elapses until it handled every event;
    returns its group and topic once it stopped (`stop_at_once`) or went idle."""
    topic = settings.topic(Topics.PAYMENTS)
    envelopes = [Envelope.wrap(authorized(uuid.uuid4()), "/test") for _ in range(EVENTS)]
    for envelope in envelopes:
        await producer.send(topic, value=envelope.to_bytes(), key=envelope.subject.encode())
    await producer.flush()
    group_settings = settings.model_copy(
        update={
            "kafka_topic_prefix": f"{settings.kafka_topic_prefix}commits-{uuid.uuid4().hex[:6]}.",
            "consumer_commit_interval_seconds": 3600.0,
        }
    )
    kafka = manual_commit_consumer(group_settings, [])
    consumer = EventConsumer(kafka, producer, units_of_work, {PaymentAuthorized: record_effect})
    consumer.subscribe([topic])
    await kafka.start()
    running = asyncio.create_task(consumer.run())
    try:
        wanted = {envelope.id for envelope in envelopes}
        await wait_until_handled(units_of_work, wanted, running, poll_seconds=0.05)
        assert wanted <= set(await effects_by_event(units_of_work))
        if not stop_at_once:
            await wait_until_committed(settings, group_settings.consumer_group, topic, running)
            assert not running.done(), f"the consumer loop ended: {running.exception()!r}"
    finally:
        await stop_member(running, kafka)
    return group_settings.consumer_group, topic


async def test_an_idle_consumer_commits_what_it_handled_though_its_interval_has_not_passed(
    units_of_work, settings, producer
):
    group, topic = await _consume_until_handled(
        units_of_work, settings, producer, stop_at_once=False
    )
    assert await committed_everything(settings, group, topic)


async def test_a_stopping_consumer_commits_what_it_handled(units_of_work, settings, producer):
    group, topic = await _consume_until_handled(
        units_of_work, settings, producer, stop_at_once=True
    )
    assert await committed_everything(settings, group, topic)
