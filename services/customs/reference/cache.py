"""The reference tables in memory for the consumer's hot path, reloaded when a load happens.

Reading every table per event would cost more than the assessment; instead the cache asks
the database for the newest load id at most every `interval` seconds and rebuilds only when
it changed. Coverage is published as a gauge, and tables ending within `WARN_DAYS` are
logged and shown in /readyz (a warning, not a failure).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.customs.domain.model import RateAuthority
from services.customs.domain.reference import CFETS_RATES, ECB_RATES, ReferenceTables
from services.customs.domain.tables.exchange_rates import ExchangeRates, ExchangeRateTable
from services.customs.reference import store
from shared.metrics import REFERENCE_COVERAGE_END

log = logging.getLogger(__name__)

WARN_DAYS = 30
RATE_TABLES = {ECB_RATES: RateAuthority.EU, CFETS_RATES: RateAuthority.CN}


def coverage(
    tables: ReferenceTables, fx: ExchangeRateTable, today: date
) -> dict[str, date | None | str]:
    """Each table's last covered day from `today` on (None: open-ended; "none": not loaded)."""
    ends: dict[str, date | None | str] = {}
    for versioned in tables.all():
        ends[versioned.name] = versioned.coverage_end(today) if versioned.versions else "none"
    for name, authority in RATE_TABLES.items():
        last = fx.last_month(authority)
        ends[name] = store.month_end(last) if last else "none"
    return ends


def ending_soon(
    ends: dict[str, date | None | str], today: date, days: int = WARN_DAYS
) -> list[str]:
    horizon = today + timedelta(days=days)
    notes = []
    for name, end in ends.items():
        if end == "none":
            notes.append(f"reference table {name} is not loaded")
        elif isinstance(end, date) and end < horizon:
            notes.append(f"reference table {name} ends on {end} (within {days} days)")
    return notes


class ReferenceCache:
    def __init__(self, service: str, interval_seconds: float = 5.0) -> None:
        self.service = service
        self.interval_seconds = interval_seconds
        self.tables: ReferenceTables | None = None
        self.fx: ExchangeRateTable = ExchangeRateTable(())
        self._latest = -1
        self._checked_at = float("-inf")

    @property
    def exchange_rates(self) -> ExchangeRates:
        return self.fx

    async def refresh(self, session: AsyncSession) -> None:
        """Rebuild if a load happened since the last look; look at most every interval."""
        if time.monotonic() - self._checked_at < self.interval_seconds:
            return
        latest = await store.latest_load_id(session)
        self._checked_at = time.monotonic()
        if latest == self._latest:
            return
        self.tables, self.fx, _ = await store.read_tables(session)
        self._latest = latest
        log.info("reference tables loaded", extra={"latest_load": latest})
        for note in self.warnings():
            log.warning(note)
        self._publish()

    def coverage(self, today: date | None = None) -> dict[str, date | None | str]:
        if self.tables is None:
            return {}
        return coverage(self.tables, self.fx, today or datetime.now(UTC).date())

    def warnings(self) -> list[str]:
        if self.tables is None:
            return ["reference tables not read yet"]
        today = datetime.now(UTC).date()
        return ending_soon(self.coverage(today), today)

    def _publish(self) -> None:
        for name, end in self.coverage().items():
            if end == "none":
                value = 0.0
            elif end is None:
                value = float("inf")
            else:
                value = datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp() + 86400
            REFERENCE_COVERAGE_END.labels(self.service, name).set(value)
