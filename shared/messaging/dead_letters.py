"""Inspect and replay a service's dead-letter topic.

A dead letter keeps the original message and headers plus the `dlq.*` headers the consumer
added. Replaying publishes it again to its original topic, once the cause is fixed; the
inbox makes a replay of something already processed harmless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import dead_letter_topic
from shared.messaging.kafka import connection_options, reliable_producer
from shared.settings import ServiceSettings

DLQ_HEADER_PREFIX = "dlq."


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: str | None
    original_topic: str
    error_type: str
    error_message: str
    failed_at: str
    attempts: int
    value: bytes
    original_headers: list[tuple[str, bytes]]

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"


def _dead_letter(record) -> DeadLetter:
    headers = list(record.headers or ())
    dlq = {
        key[len(DLQ_HEADER_PREFIX) :]: value.decode()
        for key, value in headers
        if key.startswith(DLQ_HEADER_PREFIX)
    }
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode() if record.key else None,
        original_topic=dlq.get("original.topic", ""),
        error_type=dlq.get("error.type", ""),
        error_message=dlq.get("error.message", ""),
        failed_at=dlq.get("failed_at", ""),
        attempts=int(dlq.get("attempts", "0")),
        value=record.value or b"",
        original_headers=[(k, v) for k, v in headers if not k.startswith(DLQ_HEADER_PREFIX)],
    )


async def read_dead_letters(settings: ServiceSettings, limit: int = 100) -> list[DeadLetter]:
    """The oldest `limit` dead letters still retained; reading commits nothing."""
    topic = dead_letter_topic(settings.consumer_group)
    # Without a group, a subscribing consumer is assigned every partition and commits nothing.
    consumer = AIOKafkaConsumer(
        topic,
        **connection_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.service_name}-dlq-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        end = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining and len(letters) < limit:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            if not batches:
                break
            for tp, records in batches.items():
                letters += [_dead_letter(record) for record in records if record.offset < end[tp]]
                if records and records[-1].offset >= end[tp] - 1:
                    remaining.discard(tp)
        return sorted(letters, key=lambda letter: letter.failed_at)[:limit]
    finally:
        await consumer.stop()


async def replay(settings: ServiceSettings, letters: list[DeadLetter]) -> int:
    """Publish each dead letter again to the topic it came from; returns how many."""
    producer = reliable_producer(settings)
    await producer.start()
    try:
        for letter in letters:
            headers = letter.original_headers + [
                (
                    "dlq.replayed_from",
                    f"{dead_letter_topic(settings.consumer_group)}:{letter.id}".encode(),
                )
            ]
            await producer.send_and_wait(
                letter.original_topic,
                value=letter.value,
                key=letter.key.encode() if letter.key else None,
                headers=headers,
            )
        return len(letters)
    finally:
        await producer.stop()
