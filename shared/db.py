"""Database engine and session set-up, one way for all services."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.settings import ServiceSettings

T = TypeVar("T")


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": settings.service_name}},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def record_facts(
    session: AsyncSession,
    model: type[T],
    key: dict[str, Any],
    facts: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> T:
    """Write what one event taught about the row of `key`, creating it if it is the first,
    and return the row locked for the rest of the transaction.

    Services that join several events about one order (arriving in any order, on different
    topics) keep the facts on one row; the lock makes their handlers take turns on it.
    """
    statement = insert(model).values({**(defaults or {}), **key, **facts})
    index = list(key)
    statement = (
        statement.on_conflict_do_update(index_elements=index, set_=facts)
        if facts
        else statement.on_conflict_do_nothing(index_elements=index)
    )
    await session.execute(statement)
    row = await session.scalar(
        select(model).filter_by(**key).with_for_update().execution_options(populate_existing=True)
    )
    assert row is not None, "the row was just written in this transaction"
    return row
