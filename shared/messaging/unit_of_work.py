"""One database transaction holding a state change and the events it emits.

Handlers and routes change state through a `UnitOfWork`; `emit` stages the event, and
`commit` writes every staged event to the outbox table with one statement inside the same
transaction, so an event exists if and only if the state change was committed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events import Envelope, Event
from shared.settings import ServiceSettings
from shared.telemetry import context_from, current_trace_context, use_context

log = logging.getLogger(__name__)

WRITE_OUTBOX = text(
    "INSERT INTO outbox (event_id, topic, partition_key, event_type, payload, trace_context) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS varchar[]), "
    "CAST(:keys AS varchar[]), CAST(:types AS varchar[]), CAST(:payloads AS bytea[]), "
    "CAST(:contexts AS jsonb[]))"
)


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
        self._staged: list[tuple[Envelope, str, str]] = []
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
        self._staged.clear()
        if self.session.in_transaction():
            await self.session.rollback()
        await self.session.close()

    async def emit(self, event: Event) -> Envelope:
        """Stage `event` for the outbox; it is written with the transaction's commit, along
        with the trace context it was emitted in."""
        envelope = Envelope.wrap(event, self._settings.source)
        self._staged.append(
            (envelope, self._settings.topic(event.topic), json.dumps(current_trace_context()))
        )
        return envelope

    async def commit(self) -> None:
        staged, self._staged = self._staged, []
        if staged:
            await self.session.execute(
                WRITE_OUTBOX,
                {
                    "ids": [envelope.id for envelope, _, _ in staged],
                    "topics": [topic for _, topic, _ in staged],
                    "keys": [envelope.subject for envelope, _, _ in staged],
                    "types": [envelope.type for envelope, _, _ in staged],
                    "payloads": [envelope.to_bytes() for envelope, _, _ in staged],
                    "contexts": [context for _, _, context in staged],
                },
            )
        await self.session.commit()
        if staged:
            self._on_commit_with_events()
            # An emitted event is a committed state change of the saga: worth a line at INFO,
            # in the trace it was emitted in.
            for envelope, _, context in staged:
                with use_context(context_from(json.loads(context))):
                    log.info(
                        "event emitted",
                        extra={"event_type": envelope.type, "order_id": envelope.subject},
                    )


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
