"""Database engine and session set-up, one way for all services."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Table, TextClause, bindparam, event, exc, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from shared.settings import ServiceSettings

T = TypeVar("T")

_PER_TRANSACTION = "ehub.per_transaction"

# SQLSTATEs of a database that is gone or going: connection exceptions (class 08), and the
# server shutting down or not accepting connections yet (57P01 admin, 57P02 crash, 57P03).
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# What reaching the database can raise: the driver's connect errors are not wrapped.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    exc.DBAPIError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    ConnectionError,
    TimeoutError,
)


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # No pre-ping: it costs a round trip per checkout. A connection gone stale (a database
        # restart) fails its statement; consumers and relays retry such failures.
        pool_pre_ping=False,
        connect_args={"server_settings": {"application_name": settings.service_name}},
    )
    # Rows a unit of work adds go out as one multi-row INSERT per table, not one per row.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection, connection_record, connection_proxy) -> None:
    """A pooled connection the server closed (a restart) is replaced before use, at no round
    trip: the driver saw the close. The pool retries the checkout with a new connection."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("pooled connection closed by the server")


_UNREACHABLE = (
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
)


def database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached or dropped the connection: not the request's fault nor
    the message's, and gone once the database is back."""
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and (
        sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES
    ):
        return True
    # The driver's own error, raised bare at connect or as the cause of the wrapped one.
    return any(isinstance(cause, _UNREACHABLE) for cause in (error, error.__cause__))


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def lock_rows(
    session: AsyncSession,
    model: type[T],
    key: str,
    values: Iterable[Any],
    new_row: Callable[[Any], dict[str, Any]] | None = None,
) -> dict[Any, T]:
    """The rows of `model` whose `key` column is in `values`, created first from
    `new_row(value)` where missing (when `new_row` is given),
    locked for the rest of the transaction and returned by key: two statements for a
    whole batch.

    Services that join several events about one order (arriving in any order, on different
    topics) keep the facts on one row: a consumer batch locks every row it will touch here,
    the handlers change them in memory, and the unit of work writes them at commit. Rows are
    locked in key order, so two transactions locking overlapping sets queue, never deadlock.
    """
    wanted = sorted(set(values))
    if not wanted:
        return {}
    column = getattr(model, key)
    if new_row is not None:
        await insert_missing(
            session, model, [{**new_row(value), key: value} for value in wanted], conflict=key
        )
    rows = await session.scalars(
        select(model)
        .where(column.in_(wanted))
        .order_by(column)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {getattr(row, key): row for row in rows}


async def insert_missing(
    session: AsyncSession, model: type, rows: Sequence[dict[str, Any]], conflict: str = ""
) -> None:
    """Insert the `rows` (dicts with the same keys) of `model` that do not exist yet (ON
    CONFLICT DO NOTHING, on the `conflict` columns if given, else any unique constraint), in
    one executemany. Each row gives every column that has a Python-side default."""
    if rows:
        statement = _insert_missing(model.__table__, tuple(rows[0]), conflict)
        await session.execute(statement, list(rows))


@functools.cache
def _insert_missing(table: Table, columns: tuple[str, ...], conflict: str) -> TextClause:
    """Built once per table and columns: the dialect's `insert().on_conflict_do_nothing()`
    has no cache key, so SQLAlchemy would compile it again for every batch."""
    defaulted = {column.name for column in table.columns if column.default is not None} - set(
        columns
    )
    if defaulted:
        raise ValueError(f"rows of {table.name} must give {sorted(defaulted)}: no defaults here")
    target = f"({conflict}) " if conflict else ""
    return text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(f':{name}' for name in columns)}) "
        f"ON CONFLICT {target}DO NOTHING"
    ).bindparams(*(bindparam(name, type_=table.c[name].type) for name in columns))


def per_transaction(session: AsyncSession, key: Hashable, make: Callable[[], T]) -> T:
    """The state a transaction keeps under `key` (built by `make` on first use): the rows a
    batch's prefetch locked, what a repository has looked up. Forgotten when the transaction
    ends, committed or rolled back: its locks are gone, and after a rollback its rows no
    longer say what the database holds. Holding rows here also keeps them in the session's
    identity map, which holds unchanged rows only weakly."""
    states: dict[Hashable, Any] | None = session.info.get(_PER_TRANSACTION)
    if states is None:
        states = session.info[_PER_TRANSACTION] = {}
        event.listen(session.sync_session, "after_transaction_end", _forget_transaction)
    if key not in states:
        states[key] = make()
    return states[key]


def _forget_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info[_PER_TRANSACTION].clear()
