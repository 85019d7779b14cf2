"""Dead letters have a state, are kept 30 days, and their oldest unresolved one is measured."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY

from shared.events import dead_letter_resolutions_topic, dead_letter_topic
from shared.messaging.dead_letters import (
    DeadLetter,
    LetterState,
    discard,
    read_dead_letters,
    record_gauges,
    replay,
)
from shared.messaging.kafka import DEAD_LETTER_RETENTION_MS, SERVICES, all_topics, ensure_topics
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000


async def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        [resource] = response.resources
        return {entry[0]: entry[1] for entry in resource[4]}
    finally:
        await admin.close()


async def dead_letter(
    settings: ServiceSettings, producer, key: str, written_at: datetime | None = None
) -> DeadLetter:
    """A letter as the consumer writes it, at `written_at` (now by default)."""
    failed_at = (written_at or datetime.now(UTC)).isoformat()
    await producer.send_and_wait(
        dead_letter_topic(settings.consumer_group),
        value=b'{"not": "an event"}',
        key=key.encode(),
        headers=[
            ("dlq.reason", b"unparseable"),
            ("dlq.error.type", b"ValidationError"),
            ("dlq.error.message", b"fails its contract"),
            ("dlq.original.topic", settings.topic("orders.events").encode()),
            ("dlq.attempts", b"1"),
            ("dlq.failed_at", failed_at.encode()),
        ],
        timestamp_ms=int((written_at or datetime.now(UTC)).timestamp() * 1000),
    )
    [letter] = [letter for letter in await read_dead_letters(settings, 10_000) if letter.key == key]
    return letter


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_dead_letter_topics_keep_letters_thirty_days(settings: ServiceSettings):
    for service in SERVICES:
        group = f"{settings.kafka_topic_prefix}{service}"
        letters = await topic_config(settings.kafka_bootstrap_servers, dead_letter_topic(group))
        assert int(letters["retention.ms"]) >= THIRTY_DAYS_MS
        resolutions = await topic_config(
            settings.kafka_bootstrap_servers, dead_letter_resolutions_topic(group)
        )
        assert int(resolutions["retention.ms"]) >= THIRTY_DAYS_MS
        assert resolutions["cleanup.policy"] == "compact,delete"


async def test_a_dead_letter_topic_created_with_seven_days_is_raised_to_thirty(
    settings: ServiceSettings,
):
    prefix = f"dlq-upgrade-{uuid.uuid4().hex[:8]}-"
    bootstrap = settings.kafka_bootstrap_servers
    old = dead_letter_topic(f"{prefix}payments")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(old, 1, 1, topic_configs={"retention.ms": "604800000"})]
        )
        created = await ensure_topics(bootstrap, prefix)
        assert old not in created
        assert int((await topic_config(bootstrap, old))["retention.ms"]) == DEAD_LETTER_RETENTION_MS
    finally:
        await admin.delete_topics(all_topics(prefix))
        await admin.close()


async def test_a_replayed_letter_says_when_and_by_whom_and_is_no_longer_new(
    settings: ServiceSettings, producer
):
    key = f"replay-{uuid.uuid4()}"
    letter = await dead_letter(settings, producer, key)
    assert letter.state is LetterState.NEW

    assert await replay(settings, [letter], by="officer.janssens") == 1

    [after] = [seen for seen in await read_dead_letters(settings, 10_000) if seen.key == key]
    assert after.state is LetterState.REPLAYED
    assert after.resolution is not None
    assert after.resolution.by == "officer.janssens"
    assert datetime.fromisoformat(after.resolution.at) >= datetime.fromisoformat(letter.failed_at)
    new_ones = await read_dead_letters(settings, 10_000, LetterState.NEW)
    assert key not in {seen.key for seen in new_ones}


async def test_a_discarded_letter_keeps_its_reason(settings: ServiceSettings, producer):
    key = f"discard-{uuid.uuid4()}"
    letter = await dead_letter(settings, producer, key)
    await discard(settings, [letter], by="e2e.admin", reason="order cancelled meanwhile")
    [after] = await read_dead_letters(settings, 10_000, LetterState.DISCARDED)
    assert after.key == key
    assert after.resolution is not None and after.resolution.reason == "order cancelled meanwhile"


async def test_the_gauge_is_the_age_of_the_oldest_letter_nobody_resolved(
    settings: ServiceSettings, producer
):
    now = datetime.now(UTC)
    old = await dead_letter(settings, producer, f"old-{uuid.uuid4()}", now - timedelta(days=3))
    oldest_age = "ehub_dead_letter_oldest_new_age_seconds"

    record_gauges(settings, await read_dead_letters(settings, 10_000), now)
    assert gauge(oldest_age, service="payments") >= timedelta(days=3).total_seconds() - 1
    assert gauge("ehub_dead_letters", service="payments", state="new") >= 1
    assert gauge("ehub_dead_letter_watch_timestamp_seconds", service="payments") == now.timestamp()

    await discard(settings, [old], by="e2e.admin", reason="obsolete")
    record_gauges(settings, await read_dead_letters(settings, 10_000), now)
    assert gauge(oldest_age, service="payments") < timedelta(days=3).total_seconds() - 1
    assert gauge("ehub_dead_letters", service="payments", state="discarded") >= 1
