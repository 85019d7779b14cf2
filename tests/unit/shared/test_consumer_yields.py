"""A long consumer batch shares the event loop: the process's HTTP requests are not held
behind it while its records are parsed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka import ConsumerRecord

from shared.events import PaymentAuthorized
from shared.messaging.consumer import IGNORED, RECORDS_PARSED_BETWEEN_YIELDS, EventConsumer
from shared.settings import ServiceSettings
from shared.telemetry import EVENT_TYPE_HEADER

SETTINGS = ServiceSettings(service_name="orders", database_url="postgresql+asyncpg://x@127.0.0.1/x")


def unhandled(offset: int) -> ConsumerRecord:
    return ConsumerRecord(
        topic="customs.events",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"order",
        value=b"{}",
        checksum=None,
        serialized_key_size=5,
        serialized_value_size=2,
        headers=[(EVENT_TYPE_HEADER, b"CustomsCleared")],
    )


async def never_called(*_: object) -> None:
    raise AssertionError("no record of the batch is handled")


async def test_a_batch_lets_other_tasks_run_while_its_records_are_parsed():
    consumer = EventConsumer(
        None, None, SimpleNamespace(settings=SETTINGS), {PaymentAuthorized: never_called}
    )
    records = [unhandled(offset) for offset in range(10 * RECORDS_PARSED_BETWEEN_YIELDS)]
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    started = turns
    outcomes = await consumer.process_batch(records)
    other.cancel()

    assert outcomes == [IGNORED] * len(records)
    assert turns - started >= 9, "the other task ran between every slice of the batch"
