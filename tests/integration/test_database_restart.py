"""A PostgreSQL fast restart on the real cluster (issue 9 defect 6): the pooled connections the
server closed are replaced at checkout, so no statement fails on one; while the database is
down, what reaching it raises is recognised as the database being unavailable."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.db import create_engine, database_unavailable
from tests.infrastructure import devstack

pytestmark = pytest.mark.integration

POOLED = 8


@pytest.fixture
async def restarts(engine):
    """The suite's own engine (tests/integration/conftest.py) pools connections the restart
    closes: they are let go afterwards, so the tests that follow connect afresh."""
    yield
    await engine.dispose()


async def select_one(engine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(text("SELECT 1"))


async def test_connections_pooled_before_a_fast_restart_are_replaced_not_failed(settings, restarts):
    engine = create_engine(settings.model_copy(update={"db_pool_size": POOLED}))
    try:
        held = [await engine.connect() for _ in range(POOLED)]
        for connection in held:
            await connection.execute(text("SELECT 1"))
        for connection in held:
            await connection.close()
        assert engine.pool.checkedin() == POOLED

        await asyncio.to_thread(devstack.restart_postgres)

        results = await asyncio.gather(
            *(select_one(engine) for _ in range(POOLED)), return_exceptions=True
        )
        assert results == [1] * POOLED
    finally:
        await engine.dispose()


async def test_a_stopped_database_is_recognised_as_unavailable(settings, restarts):
    engine = create_engine(settings)
    try:
        assert await select_one(engine) == 1
        await asyncio.to_thread(devstack.stop_postgres)
        try:
            with pytest.raises(Exception) as raised:
                await select_one(engine)
        finally:
            await asyncio.to_thread(devstack.start_postgres)
        assert database_unavailable(raised.value), repr(raised.value)
        assert await select_one(engine) == 1
    finally:
        await engine.dispose()
