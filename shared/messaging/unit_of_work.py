"""One database transaction holding a state change and the events it emits.

Handlers and routes change state through a `UnitOfWork`; `emit` stages the event, and
`commit` writes every staged event to the outbox table with one statement inside the same
transaction, so an event exists if and only if the state change was committed.

A unit of work whose whole change is one statement (placing an order) runs it with
`write_at_once`: the statement writes the staged events itself, through `OUTBOX_ROWS`, and is
its own transaction (autocommit) on a connection of the engine, so the change costs one round
trip instead of four (BEGIN, statement, outbox, COMMIT) and no ORM session. The session is made
only when something asks for it.

The rows the unit of work loaded and changed are written at commit by one UPDATE per table
and set of changed columns (`write_changed_rows`), not one per row.

Rows that are only ever appended (an order's timeline, its webhook deliveries) can be staged
with `insert_at_commit` instead of added to the session as ORM objects: a consumer batch's
rows for one table are written at commit by one multi-row INSERT, without an object, its
state and its flush per row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext
from sqlalchemy import Executable, Result, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import write_changed_rows
from shared.events import Envelope, Event
from shared.settings import ServiceSettings
from shared.telemetry import current_trace_context, use_context

log = logging.getLogger(__name__)

# The staged events as rows of the outbox, from the parameters `_outbox_parameters` gives.
OUTBOX_ROWS = (
    "INSERT INTO outbox (event_id, topic, partition_key, event_type, payload, trace_context) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS varchar[]), "
    "CAST(:keys AS varchar[]), CAST(:types AS varchar[]), CAST(:payloads AS bytea[]), "
    "CAST(:contexts AS jsonb[]))"
)
WRITE_OUTBOX = text(OUTBOX_ROWS)


class StagedEvent(NamedTuple):
    envelope: Envelope
    topic: str
    trace_context: str
    """The W3C context it was emitted in, as the outbox stores it (JSON)."""
    span_context: SpanContext
    """The same context as the logs read it, so that announcing the event parses nothing."""


class UnitOfWork:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: ServiceSettings,
        on_commit_with_events: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._on_commit_with_events = on_commit_with_events
        self._staged: list[StagedEvent] = []
        # Events a statement of `write_at_once` wrote to the outbox itself.
        self._written: list[StagedEvent] = []
        self._rows: dict[Table, list[dict[str, Any]]] = {}
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The ORM session of this unit of work, made at its first use (a unit of work that
        only writes at once never needs one)."""
        if self._session is None:
            self._session = self._sessions()
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._staged.clear()
        self._rows.clear()
        self._written.clear()
        session, self._session = self._session, None
        if session is None:
            return
        if session.in_transaction():
            await session.rollback()
        await session.close()

    @property
    def database(self) -> AsyncEngine:
        """The engine behind the sessions, for a read that is no part of this unit of work."""
        return self._sessions.kw["bind"]

    async def emit(self, event: Event) -> Envelope:
        """Stage `event` for the outbox; it is written with the transaction's commit, along
        with the trace context it was emitted in."""
        if self._written:
            raise RuntimeError("write_at_once was the whole unit of work: emit before it")
        envelope = Envelope.wrap(event, self._settings.source)
        self._staged.append(
            StagedEvent(
                envelope,
                self._settings.topic(event.topic),
                json.dumps(current_trace_context()),
                trace.get_current_span().get_span_context(),
            )
        )
        return envelope

    def insert_at_commit(self, table: Table, row: dict[str, Any]) -> None:
        """Stage `row` (every row of a table with the same keys) to be inserted into `table`
        at commit, after the session's own changes."""
        self._rows.setdefault(table, []).append(row)

    async def write_at_once(self, statement: Executable, parameters: dict[str, Any]) -> Result[Any]:
        """Run `statement` as the whole unit of work, in its own transaction (autocommit),
        with `parameters` and the staged events' outbox parameters (for its `OUTBOX_ROWS`).
        `commit` then only announces the events. The result is buffered: it outlives the
        connection, which goes back to the pool at once."""
        async with self.database.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            result = await autocommit.execute(
                statement, {**parameters, **_outbox_parameters(self._staged)}
            )
        self._written, self._staged = self._staged, []
        return result

    async def commit(self) -> None:
        staged, self._staged = self._staged, []
        rows, self._rows = self._rows, {}
        if self._session is not None or rows or staged:
            await write_changed_rows(self.session)
            for table, table_rows in rows.items():
                await self.session.execute(insert(table), table_rows)
            if staged:
                await self.session.execute(WRITE_OUTBOX, _outbox_parameters(staged))
            await self.session.commit()
        committed, self._written = self._written + staged, []
        if committed:
            self._on_commit_with_events()
            # An emitted event is a committed state change of the saga: worth a line at INFO,
            # in the trace it was emitted in.
            if not log.isEnabledFor(logging.INFO):
                return
            for event in committed:
                span = NonRecordingSpan(event.span_context)
                with use_context(trace.set_span_in_context(span)):
                    log.info(
                        "event emitted",
                        extra={
                            "event_type": event.envelope.type,
                            "order_id": event.envelope.subject,
                        },
                    )


def _outbox_parameters(staged: list[StagedEvent]) -> dict[str, list[Any]]:
    return {
        "ids": [event.envelope.id for event in staged],
        "topics": [event.topic for event in staged],
        "keys": [event.envelope.subject for event in staged],
        "types": [event.envelope.type for event in staged],
        "payloads": [event.envelope.to_bytes() for event in staged],
        "contexts": [event.trace_context for event in staged],
    }


class UnitOfWorkFactory:
    """Makes units of work bound to one service's database and relay."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: ServiceSettings,
        on_commit_with_events: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.on_commit_with_events = on_commit_with_events

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.settings, self.on_commit_with_events)
