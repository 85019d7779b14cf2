"""The unit of work's bookkeeping around one-statement writes, with a stand-in database."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from shared.events import OrderCancellationRequested
from shared.logging import JsonFormatter
from shared.messaging.unit_of_work import WRITE_OUTBOX, UnitOfWork
from shared.settings import ServiceSettings

SETTINGS = ServiceSettings(service_name="orders", database_url="postgresql+asyncpg://x@127.0.0.1/x")


class Database:
    """Records what the unit of work executes on its connections, and whether it made an
    ORM session; holds no connection."""

    def __init__(self) -> None:
        self.executed: list[tuple[Any, dict[str, Any]]] = []
        self.options: list[dict[str, Any]] = []
        self.sessions_made = 0

    def connect(self) -> Connection:
        return Connection(self)


class Connection:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass

    async def execution_options(self, **options: Any) -> Connection:
        self._database.options.append(options)
        return self

    async def execute(self, statement: Any, parameters: dict[str, Any]) -> None:
        self._database.executed.append((statement, parameters))


class Sessions:
    """Stands for an `async_sessionmaker` bound to `database`."""

    def __init__(self, database: Database) -> None:
        self.kw = {"bind": database}
        self._database = database

    def __call__(self) -> None:
        self._database.sessions_made += 1


def event() -> OrderCancellationRequested:
    return OrderCancellationRequested(order_id=uuid.uuid4(), reason="changed my mind")


async def test_a_statement_written_at_once_carries_the_events_and_commit_writes_none_again():
    database, woken = Database(), []
    async with UnitOfWork(Sessions(database), SETTINGS, lambda: woken.append(True)) as uow:
        envelope = await uow.emit(event())
        await uow.write_at_once("the statement", {"own": 1})
        await uow.commit()

    [(statement, parameters)] = database.executed
    assert (statement, parameters["own"], parameters["ids"]) == ("the statement", 1, [envelope.id])
    assert database.options == [{"isolation_level": "AUTOCOMMIT"}]
    assert all(statement is not WRITE_OUTBOX for statement, _ in database.executed)
    assert database.sessions_made == 0, "the statement was the whole unit of work: no session"
    assert woken == [True], "the relay is woken for the written event"


async def test_an_event_emitted_after_the_one_statement_is_refused():
    async with UnitOfWork(Sessions(Database()), SETTINGS) as uow:
        await uow.emit(event())
        await uow.write_at_once("the statement", {})
        with pytest.raises(RuntimeError, match="emit before it"):
            await uow.emit(event())


async def test_an_emitted_event_is_announced_in_the_trace_it_was_emitted_in():
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter("orders"))
    announcer = logging.getLogger("shared.messaging.unit_of_work")
    announcer.addHandler(handler)
    level = announcer.level
    announcer.setLevel(logging.INFO)
    emitting = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    try:
        async with UnitOfWork(Sessions(Database()), SETTINGS) as uow:
            with trace.use_span(NonRecordingSpan(emitting)):
                envelope = await uow.emit(event())
            await uow.write_at_once("the statement", {})
            await uow.commit()
    finally:
        announcer.removeHandler(handler)
        announcer.setLevel(level)

    [line] = [json.loads(text) for text in lines.getvalue().splitlines()]
    assert (line["message"], line["event_type"], line["order_id"]) == (
        "event emitted",
        envelope.type,
        envelope.subject,
    )
    assert (line["trace_id"], line["span_id"]) == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
    ), "the line is in the emitting span, though the commit ran outside it"
