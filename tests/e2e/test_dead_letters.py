"""Replaying an old dead letter of an order that has moved on changes nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from shared.events import CustomsCleared, OrderPlaced, dead_letter_topic
from shared.telemetry import EVENT_TYPE_HEADER
from tests.e2e.orders import order_body, place, wait_for_status

pytestmark = pytest.mark.e2e

# Who consumes each topic, hence who sees a replayed event of it again.
CONSUMERS = {
    "orders.events": ("payments", "customs", "fulfillment"),
    "customs.events": ("orders", "payments", "fulfillment"),
}


async def record_of(stack, topic: str, order_id: str, event_type: str) -> ConsumerRecord:
    """The record of `event_type` for `order_id` in `topic`, as it was published."""
    topic = f"{stack.topic_prefix}{topic}"
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.kafka_bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found = None
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining and found is None:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=1000)).items():
                for record in records:
                    headers = dict(record.headers or ())
                    if record.key == order_id.encode() and (
                        headers.get(EVENT_TYPE_HEADER) == event_type.encode()
                    ):
                        found = record
                if records and records[-1].offset >= end[tp] - 1:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    assert found is not None, f"no {event_type} of {order_id} in {topic}"
    return found


async def dead_letter(stack, service: str, record: ConsumerRecord) -> None:
    """`record` in `service`'s dead-letter topic, as its consumer would have put it there."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            dead_letter_topic(f"{stack.topic_prefix}{service}"),
            value=record.value,
            key=record.key,
            headers=list(record.headers or ())
            + [
                ("dlq.reason", b"handler-failed"),
                ("dlq.error.type", b"OperationalError"),
                ("dlq.error.message", b"the database was away"),
                ("dlq.original.topic", record.topic.encode()),
                ("dlq.attempts", b"3"),
                ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
            ],
        )
    finally:
        await producer.stop()


def duplicates(operator, service: str, event_type: str) -> float:
    """How many `event_type` events `service`'s consumer skipped as already handled."""
    with operator(service) as client:
        families = text_string_to_metric_families(client.get("/metrics").text)
    return sum(
        sample.value
        for family in families
        if family.name == "ehub_events_consumed"
        for sample in family.samples
        if sample.name == "ehub_events_consumed_total"
        and sample.labels["event_type"] == event_type
        and sample.labels["outcome"] == "duplicate"
    )


async def effects(databases, partner: httpx.Client, order_id: str) -> dict[str, object]:
    """Everything an order's events caused, in the four databases and on its timeline."""
    count = "SELECT count(*) FROM {table} WHERE {where}"
    order = partner.get(f"/v1/orders/{order_id}").json()
    return {
        "status": order["status"],
        "timeline": [entry["event_type"] for entry in order["timeline"]],
        "payment operations": await databases.scalar(
            "payments",
            "SELECT string_agg(o.kind, ',' ORDER BY o.sequence) FROM payment_operations o "
            "JOIN payments p ON p.id = o.payment_id WHERE p.order_id = :order_id",
            order_id=order_id,
        ),
        "declarations": await databases.scalar(
            "customs",
            count.format(table="declarations", where="order_id = :order_id"),
            order_id=order_id,
        ),
        "decisions": await databases.scalar(
            "customs",
            "SELECT count(*) FROM declaration_decisions d JOIN declarations c "
            "ON c.id = d.declaration_id WHERE c.order_id = :order_id",
            order_id=order_id,
        ),
        "shipments": await databases.scalar(
            "fulfillment",
            "SELECT string_agg(status, ',') FROM shipments WHERE order_id = :order_id",
            order_id=order_id,
        ),
    }


async def test_replaying_old_events_of_a_shipped_order_has_no_second_effect(
    partner, operator, stack, databases
):
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    before = await effects(databases, partner, order_id)
    placed, cleared = OrderPlaced.type_name(), CustomsCleared.type_name()
    old = {
        placed: await record_of(stack, "orders.events", order_id, placed),
        cleared: await record_of(stack, "customs.events", order_id, cleared),
    }
    # As if payments had failed on OrderPlaced and fulfilment on CustomsCleared back then.
    letters = {"payments": placed, "fulfillment": cleared}
    for service, event_type in letters.items():
        await dead_letter(stack, service, old[event_type])
    seen_before = {
        (event_type, consumer): duplicates(operator, consumer, event_type)
        for event_type, record in old.items()
        for consumer in CONSUMERS[record.topic.removeprefix(stack.topic_prefix)]
    }

    for service in letters:
        with operator(service) as admin:
            [letter] = [
                letter
                for letter in admin.get("/v1/admin/dead-letters", params={"state": "new"}).json()
                if letter["key"] == order_id
            ]
            replayed = admin.post("/v1/admin/dead-letters/replay", json={"ids": [letter["id"]]})
            assert replayed.json() == {"replayed": 1}, replayed.text
            again = admin.post("/v1/admin/dead-letters/replay", json={"ids": [letter["id"]]})
            assert again.status_code == 409, "a replayed letter is not replayed twice by mistake"
            [listed] = [
                listed
                for listed in admin.get("/v1/admin/dead-letters").json()
                if listed["id"] == letter["id"]
            ]
            assert listed["state"] == "replayed"
            assert listed["resolution"]["by"] == "e2e.admin"

    deadline = time.monotonic() + 30
    for (event_type, consumer), count in seen_before.items():
        while duplicates(operator, consumer, event_type) <= count:
            assert time.monotonic() < deadline, f"{consumer} never saw {event_type} again"
            await asyncio.sleep(0.2)
    assert await effects(databases, partner, order_id) == before
