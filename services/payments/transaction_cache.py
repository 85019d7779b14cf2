"""Rows a transaction has looked up and locked, kept for the rest of that transaction only.

A consumer batch loads, in a few statements, every payment and every memory row of the
sandbox processor its handlers will read; the handlers then find them here, absent ones
included (a row looked up and not found is not looked up again). When the transaction ends,
committed or rolled back, the cache is emptied: its locks are gone, and after a rollback its
rows no longer say what the database holds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_CACHES = "payments.transaction_caches"


def transaction_cache(session: AsyncSession, name: str) -> dict[Any, Any]:
    """The cache called `name` of the session's current transaction."""
    caches = session.info.get(_CACHES)
    if caches is None:
        caches = session.info[_CACHES] = {}
        event.listen(session.sync_session, "after_transaction_end", _empty_caches)
    return caches.setdefault(name, {})


def _empty_caches(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        for cache in session.info[_CACHES].values():
            cache.clear()
