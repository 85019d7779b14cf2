"""Database engine and session set-up, one way for all services."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import (
    BindParameter,
    ForeignKey,
    Table,
    TextClause,
    bindparam,
    event,
    exc,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import dialect as postgresql_dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    MANYTOMANY,
    ONETOMANY,
    ColumnProperty,
    RelationshipProperty,
    Session,
    SessionTransaction,
)
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from shared.settings import ServiceSettings

T = TypeVar("T")

_PER_TRANSACTION = "ehub.per_transaction"
_POSTGRESQL = postgresql_dialect()
# A change to these relationships writes the related rows (or the association's), never this
# row: the flush still writes them, this row's own columns can go in the batch's UPDATE.
_WRITES_OTHER_ROWS = (ONETOMANY, MANYTOMANY)

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
    one statement that takes each column as an array, so the server executes one INSERT for
    the batch rather than one per row. Each row gives every column that has a Python-side
    default."""
    if rows:
        columns = tuple(rows[0])
        statement = _insert_missing(model.__table__, columns, conflict)
        await session.execute(statement, {name: [row[name] for row in rows] for name in columns})


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
        f"SELECT * FROM unnest({_arrays(table, columns)}) "
        f"ON CONFLICT {target}DO NOTHING"
    ).bindparams(*_array_parameters(table, columns))


async def write_changed_rows(session: AsyncSession) -> None:
    """Write the changed columns of the session's loaded rows as one UPDATE per table and set
    of changed columns, each column given as an array (`UPDATE ... FROM unnest(...)`), so a
    batch that changed hundreds of rows costs the server one statement, not one per row as
    the ORM's flush would. Rows are written in primary-key order, so two transactions writing
    overlapping rows they had not locked queue rather than deadlock. What this cannot write as
    plainly (a changed key, a foreign key checked at once rather than at commit, a many-to-one
    relationship, a table with Python-side or fetched update defaults) is left to the flush,
    as are the rows a one-to-many or many-to-many relationship adds or removes."""
    groups: dict[tuple[Table, tuple[str, ...]], list[tuple[Any, dict[str, Any]]]] = {}
    for instance in session.dirty:
        change = _plain_change(instance)
        if change is not None:
            table, values = change
            groups.setdefault((table, tuple(values)), []).append((instance, values))
    for (table, columns), changed in groups.items():
        keys = [column.name for column in table.primary_key.columns]
        changed.sort(key=lambda pair: tuple(pair[1][name] for name in keys))
        statement, expired = _update_rows(table, columns, tuple(keys))
        result = await session.execute(
            statement, {name: [values[name] for _, values in changed] for name in columns}
        )
        if result.rowcount != len(changed):
            raise StaleDataError(
                f"UPDATE of {table.name} matched {result.rowcount} of {len(changed)} rows"
            )
        for instance, values in changed:
            mapper = inspect(instance).mapper
            for name in columns:
                if name not in keys:
                    prop = mapper.get_property_by_column(table.c[name])
                    set_committed_value(instance, prop.key, values[name])
            if expired:
                session.expire(instance, expired)


def _plain_change(instance: Any) -> tuple[Table, dict[str, Any]] | None:
    """The instance's table and its key and changed columns' new values, by column name;
    None when the flush must write it."""
    state = inspect(instance)
    mapper = state.mapper
    if len(mapper.tables) != 1 or state.key is None:
        return None
    table = mapper.local_table
    if not _updates_in_sql(table):
        return None
    values: dict[str, Any] = {}
    # Only the attributes set since the load are in `committed_state` (their loaded values):
    # walking every attribute of every dirty row cost more than the statement it saves.
    for key in state.committed_state:
        prop = mapper.attrs[key]
        if isinstance(prop, RelationshipProperty) and prop.direction in _WRITES_OTHER_ROWS:
            continue
        if not state.get_history(key, PASSIVE_NO_INITIALIZE).has_changes():
            continue
        if not isinstance(prop, ColumnProperty) or len(prop.columns) != 1:
            return None
        [column] = prop.columns
        if column.table is not table or column.primary_key:
            return None
        if not all(_checked_at_commit(foreign) for foreign in column.foreign_keys):
            # The row it points to may be one the flush inserts after this UPDATE.
            return None
        values[column.name] = state.dict[key]
    if not values:
        return None
    for column, key_value in zip(mapper.primary_key, state.identity, strict=True):
        values[column.name] = key_value
    return table, dict(sorted(values.items()))


def _checked_at_commit(key: ForeignKey) -> bool:
    """Whether the key's constraint is `DEFERRABLE INITIALLY DEFERRED`: a row may point at
    one that is inserted later in the transaction."""
    constraint = key.constraint
    return bool(constraint is not None and constraint.deferrable) and (
        (constraint.initially or "").upper() == "DEFERRED"
    )


@functools.cache
def _updates_in_sql(table: Table) -> bool:
    """Whether every update default of `table` is SQL the batch's UPDATE can carry: none is
    computed in Python or fetched back from the server."""
    return not any(
        column.server_onupdate is not None
        or (column.onupdate is not None and not column.onupdate.is_clause_element)
        for column in table.columns
    )


@functools.cache
def _update_rows(
    table: Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> tuple[TextClause, list[str]]:
    """The UPDATE of `columns` of `table`'s rows by `keys`, from arrays; and the attributes
    its SQL update defaults (`onupdate=func.now()`) leave stale in memory."""
    quote = _POSTGRESQL.identifier_preparer.quote
    alias = {name: f"v{position}" for position, name in enumerate(columns)}
    assignments = [f"{quote(name)} = v.{alias[name]}" for name in columns if name not in keys]
    expired = []
    for column in table.columns:
        if column.onupdate is not None and column.name not in columns:
            sql = column.onupdate.arg.compile(dialect=_POSTGRESQL)
            assignments.append(f"{quote(column.name)} = {sql}")
            expired.append(column.name)
    matches = " AND ".join(f"{quote(table.name)}.{quote(name)} = v.{alias[name]}" for name in keys)
    statement = text(
        f"UPDATE {quote(table.name)} SET {', '.join(assignments)} "
        f"FROM unnest({_arrays(table, columns)}) AS v({', '.join(alias.values())}) "
        f"WHERE {matches}"
    ).bindparams(*_array_parameters(table, columns))
    return statement, expired


def _arrays(table: Table, columns: Iterable[str]) -> str:
    """The `columns` as the typed array parameters `unnest(...)` takes."""
    return ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect=_POSTGRESQL)}[])" for name in columns
    )


def _array_parameters(table: Table, columns: Iterable[str]) -> list[BindParameter]:
    # One dimension: a JSON column's list value is one element, not a nested array.
    return [bindparam(name, type_=ARRAY(table.c[name].type, dimensions=1)) for name in columns]


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
