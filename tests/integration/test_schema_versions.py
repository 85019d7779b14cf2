"""An event of a known type at a version the consumer cannot read yet is parked, never skipped
(issue 9 defect 4), against the real broker and database."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from shared.events import Envelope, PaymentAuthorized, Topics, dead_letter_topic
from shared.messaging.consumer import HANDLED, PARKED, EventConsumer
from shared.messaging.dead_letters import read_dead_letters, replay
from tests.integration.test_messaging import authorized, effect_count, read_topic, record_effect

pytestmark = pytest.mark.integration


def parked_count(settings) -> float:
    return (
        REGISTRY.get_sample_value(
            "ehub_events_unsupported_version_total",
            {
                "service": settings.service_name,
                "event_type": PaymentAuthorized.type_name(),
                "schemaversion": "2",
            },
        )
        or 0
    )


async def test_a_newer_schema_version_is_parked_counted_and_replayable_after_the_upgrade(
    units_of_work, settings, producer, order_id, monkeypatch
):
    topic = settings.topic(Topics.PAYMENTS)
    newer = Envelope.wrap(authorized(order_id), "/test").model_copy(update={"schemaversion": 2})
    await producer.send_and_wait(
        topic,
        value=newer.to_bytes(),
        key=str(order_id).encode(),
        headers=[("ce_type", PaymentAuthorized.type_name().encode())],
    )
    [record] = await read_topic(settings, topic, order_id, expected=1)
    consumer = EventConsumer(None, producer, units_of_work, {PaymentAuthorized: record_effect})
    before = parked_count(settings)

    assert await consumer.process(record) == PARKED

    assert parked_count(settings) == before + 1
    assert await effect_count(units_of_work, order_id) == 0
    [letter] = await read_topic(settings, dead_letter_topic(settings.consumer_group), order_id, 1)
    headers = dict(letter.headers)
    assert headers["dlq.reason"] == b"unsupported-schema-version"
    assert headers["dlq.error.type"] == b"UnsupportedSchemaVersion"
    assert letter.value == record.value

    # The consumer is upgraded: it reads version 2 now; the parked event is replayed.
    monkeypatch.setattr(PaymentAuthorized, "schema_version", 2)
    letters = [
        parked for parked in await read_dead_letters(settings) if parked.key == str(order_id)
    ]
    assert await replay(settings, letters, by="operator.after-upgrade") == 1
    replayed = await read_topic(settings, topic, order_id, expected=2)
    upgraded = EventConsumer(None, producer, units_of_work, {PaymentAuthorized: record_effect})

    assert await upgraded.process(replayed[-1]) == HANDLED
    assert await effect_count(units_of_work, order_id) == 1


async def test_an_unknown_type_and_an_older_version_are_not_parked(
    units_of_work, settings, producer, order_id
):
    topic = settings.topic(Topics.PAYMENTS)
    unknown = Envelope.wrap(authorized(order_id), "/test").model_copy(
        update={"type": "be.liege-ehub.SomethingNew", "schemaversion": 3}
    )
    current = Envelope.wrap(authorized(order_id), "/test")
    for envelope in (unknown, current):
        await producer.send_and_wait(topic, value=envelope.to_bytes(), key=str(order_id).encode())
    records = await read_topic(settings, topic, order_id, expected=2)
    consumer = EventConsumer(None, producer, units_of_work, {PaymentAuthorized: record_effect})

    outcomes = await consumer.process_batch(records)

    assert [outcome.name for outcome in outcomes] == ["ignored", "handled"]
    assert await effect_count(units_of_work, order_id) == 1
