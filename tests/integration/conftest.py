from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import session_factory
from shared.messaging.kafka import reliable_producer
from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import messaging_metadata
from shared.messaging.unit_of_work import UnitOfWorkFactory
from shared.settings import ServiceSettings
from shared.telemetry import configure_tracing
from tests.infrastructure import admin_url, devstack, start_infrastructure

DATABASE = "ehub_messaging_test"

effects = sa.Table(
    "effects",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("order_id", sa.Uuid, nullable=False),
)


@pytest.fixture(scope="session")
def stack() -> devstack.Stack:
    # Databases of their own: the end-to-end suite's services may still be using "_test" ones.
    stack = start_infrastructure("_it")
    devstack.drop_database(DATABASE)
    devstack.psql(f"CREATE DATABASE {DATABASE}")
    return stack


@pytest.fixture(scope="session")
def settings(stack: devstack.Stack) -> ServiceSettings:
    return ServiceSettings(
        service_name="payments",
        database_url=admin_url(DATABASE),
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        kafka_topic_prefix=stack.topic_prefix,
        consumer_max_attempts=2,
    )


@pytest.fixture(scope="session", autouse=True)
def tracing(settings: ServiceSettings) -> None:
    configure_tracing(settings)


@pytest.fixture(scope="session")
async def engine(settings: ServiceSettings):
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
        await connection.run_sync(effects.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def units_of_work(engine, settings: ServiceSettings) -> UnitOfWorkFactory:
    async with engine.begin() as connection:
        await connection.execute(sa.text("TRUNCATE outbox, inbox, effects"))
    return UnitOfWorkFactory(session_factory(engine), settings)


@pytest.fixture
def order_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
async def producer(settings: ServiceSettings):
    producer = reliable_producer(settings)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def relays(engine, settings: ServiceSettings):
    """Makes relays on the test outbox; each gives its buckets up when the test ends."""
    made: list[OutboxRelay] = []

    def relay(producer) -> OutboxRelay:
        made.append(OutboxRelay(engine, producer, settings))
        return made[-1]

    yield relay
    for relay_made in made:
        await relay_made.close()
