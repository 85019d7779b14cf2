"""The unit of work's bookkeeping around one-statement writes, with a stand-in session."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.events import OrderCancellationRequested
from shared.messaging.unit_of_work import WRITE_OUTBOX, UnitOfWork
from shared.settings import ServiceSettings

SETTINGS = ServiceSettings(service_name="orders", database_url="postgresql+asyncpg://x@127.0.0.1/x")


class Session:
    """Records what the unit of work executes; holds no connection."""

    def __init__(self) -> None:
        self.executed: list[tuple[Any, dict[str, Any]]] = []
        self.options: list[dict[str, Any]] = []
        self.committed = False
        # No row was loaded, so none changed for the commit to write.
        self.dirty: list[Any] = []

    async def begin(self) -> None:
        pass

    async def connection(self, execution_options: dict[str, Any]) -> None:
        self.options.append(execution_options)

    async def execute(self, statement: Any, parameters: dict[str, Any]) -> None:
        self.executed.append((statement, parameters))

    async def commit(self) -> None:
        self.committed = True

    def in_transaction(self) -> bool:
        return False

    async def close(self) -> None:
        pass


def event() -> OrderCancellationRequested:
    return OrderCancellationRequested(order_id=uuid.uuid4(), reason="changed my mind")


async def test_a_statement_written_at_once_carries_the_events_and_commit_writes_none_again():
    session, woken = Session(), []
    async with UnitOfWork(lambda: session, SETTINGS, lambda: woken.append(True)) as uow:
        envelope = await uow.emit(event())
        await uow.write_at_once("the statement", {"own": 1})
        await uow.commit()

    [(statement, parameters)] = session.executed
    assert (statement, parameters["own"], parameters["ids"]) == ("the statement", 1, [envelope.id])
    assert session.options == [{"isolation_level": "AUTOCOMMIT"}]
    assert all(statement is not WRITE_OUTBOX for statement, _ in session.executed)
    assert session.committed and woken == [True], "the relay is woken for the written event"


async def test_an_event_emitted_after_the_one_statement_is_refused():
    session = Session()
    async with UnitOfWork(lambda: session, SETTINGS) as uow:
        await uow.emit(event())
        await uow.write_at_once("the statement", {})
        with pytest.raises(RuntimeError, match="emit before it"):
            await uow.emit(event())
