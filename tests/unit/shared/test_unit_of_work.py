"""The unit of work's bookkeeping around one-statement writes, with a stand-in database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.events import OrderCancellationRequested
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
