"""One database transaction holding a state change and the events it emits.

Handlers and routes change state through a `UnitOfWork`; `emit` stages the event in
the outbox table inside the same transaction, so the event exists if and only if
the state change was committed.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events import Envelope, Event
from shared.messaging.tables import outbox
from shared.settings import ServiceSettings
from shared.telemetry import current_trace_context


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
        self._emitted = 0
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        await self.session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.session.in_transaction():
            await self.session.rollback()
        await self.session.close()

    async def emit(self, event: Event) -> Envelope:
        envelope = Envelope.wrap(event, self._settings.source)
        await self.session.execute(
            insert(outbox).values(
                event_id=envelope.id,
                topic=self._settings.topic(event.topic),
                partition_key=envelope.subject,
                event_type=envelope.type,
                payload=envelope.to_bytes(),
                trace_context=current_trace_context(),
            )
        )
        self._emitted += 1
        return envelope

    async def commit(self) -> None:
        await self.session.commit()
        if self._emitted:
            self._emitted = 0
            self._on_commit_with_events()


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
