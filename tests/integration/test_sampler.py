"""The metrics sampler against the real database and broker: it sees work that waits."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.events import PaymentAuthorized
from shared.messaging.unit_of_work import UnitOfWorkFactory
from shared.sampler import Probe, SampleContext, Sampler
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


def sample_value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def emit_unpublished(units_of_work: UnitOfWorkFactory, count: int) -> None:
    async with units_of_work() as uow:
        for _ in range(count):
            await uow.emit(
                PaymentAuthorized(
                    order_id=uuid.uuid4(),
                    payment_id=uuid.uuid4(),
                    amount={"amount": Decimal("10.00"), "currency": "EUR"},
                )
            )
        await uow.commit()


async def test_outbox_backlog_is_measured_while_nothing_relays(
    engine: AsyncEngine,
    settings: ServiceSettings,
    units_of_work: UnitOfWorkFactory,
    relays,
    producer,
) -> None:
    sampler = Sampler(settings, engine, topics=[])
    await emit_unpublished(units_of_work, 3)

    await sampler.sample()
    assert sample_value("ehub_outbox_backlog_rows", service="payments") == 3
    stuck_for = sample_value("ehub_outbox_oldest_age_seconds", service="payments")
    await sampler.sample()
    # No relay ran: the backlog stays and its age keeps growing instead of freezing.
    assert sample_value("ehub_outbox_backlog_rows", service="payments") == 3
    assert sample_value("ehub_outbox_oldest_age_seconds", service="payments") > stuck_for > 0

    assert await relays(producer).publish_pending() == 3
    await sampler.sample()
    assert sample_value("ehub_outbox_backlog_rows", service="payments") == 0
    assert sample_value("ehub_outbox_oldest_age_seconds", service="payments") == 0


async def test_consumer_lag_per_partition_against_the_committed_offsets(
    engine: AsyncEngine, settings: ServiceSettings, producer
) -> None:
    topic = settings.topic(f"sampler-{uuid.uuid4().hex[:6]}")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    for partition, count in ((0, 5), (1, 2)):
        for _ in range(count):
            await producer.send_and_wait(topic, b"{}", partition=partition)
    sampler = Sampler(settings, engine, topics=[topic])
    try:
        await sampler.sample()
        # The group never committed on this topic: everything is lag.
        assert (
            sample_value(
                "ehub_consumer_lag_messages", service="payments", topic=topic, partition="0"
            )
            == 5
        )
        assert (
            sample_value(
                "ehub_consumer_lag_messages", service="payments", topic=topic, partition="1"
            )
            == 2
        )

        group = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.consumer_group,
            enable_auto_commit=False,
        )
        await group.start()
        try:
            group.assign([TopicPartition(topic, 0)])
            await group.commit({TopicPartition(topic, 0): OffsetAndMetadata(4, "")})
        finally:
            await group.stop()
        await sampler.sample()
        assert (
            sample_value(
                "ehub_consumer_lag_messages", service="payments", topic=topic, partition="0"
            )
            == 1
        )
        assert (
            sample_value(
                "ehub_consumer_lag_messages", service="payments", topic=topic, partition="1"
            )
            == 2
        )
    finally:
        await sampler.close()


async def test_a_failing_probe_is_counted_and_the_others_still_measure(
    engine: AsyncEngine, settings: ServiceSettings, units_of_work: UnitOfWorkFactory
) -> None:
    async def broken(context: SampleContext) -> None:
        raise ConnectionError("database away")

    sampler = Sampler(settings, engine, topics=[], probes=[Probe("broken", broken)])
    failures = sample_value("ehub_sampler_failures_total", service="payments", probe="broken") or 0
    await emit_unpublished(units_of_work, 1)

    await sampler.sample()

    assert (
        sample_value("ehub_sampler_failures_total", service="payments", probe="broken")
        == failures + 1
    )
    assert sample_value("ehub_outbox_backlog_rows", service="payments") == 1
    assert (
        sample_value(
            "ehub_sampler_last_success_timestamp_seconds", service="payments", probe="outbox"
        )
        > 0
    )
    assert (
        sample_value(
            "ehub_sampler_last_success_timestamp_seconds", service="payments", probe="broken"
        )
        is None
    )


async def test_each_probe_keeps_its_own_period(engine: AsyncEngine, settings: ServiceSettings):
    runs = {"often": 0, "seldom": 0}

    def counting(name: str):
        async def measure(context: SampleContext) -> None:
            runs[name] += 1

        return measure

    sampler = Sampler(
        settings,
        engine,
        topics=[],
        probes=[Probe("often", counting("often"), 0.1), Probe("seldom", counting("seldom"), 60)],
    )
    running = asyncio.create_task(sampler.run())
    await asyncio.sleep(1)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert runs["often"] >= 5
    assert runs["seldom"] == 1


def test_a_consuming_service_samples_its_dead_letters_at_their_own_period(
    engine: AsyncEngine, settings: ServiceSettings
):
    probes = {probe.name: probe for probe in Sampler(settings, engine, topics=["t"]).probes}
    assert set(probes) == {"outbox", "consumer_lag", "dead_letters"}
    assert probes["dead_letters"].every_seconds == settings.dead_letter_watch_seconds
