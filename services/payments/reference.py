"""The ECB reference rates payments reports amounts in EUR with: loader, status, memory cache.

    python -m services.payments.reference load ecb-rates [FILE]   the ECB CSV, zipped or not
    python -m services.payments.reference load-shipped            the shipped ECB history
    python -m services.payments.reference status

A file is checked whole before anything is written (a bad file changes nothing and the
command exits 2 naming its line); loading the same file again (same SHA-256) changes
nothing. The service keeps the rates it may still use (those of the last `max_age`) in
memory and rereads them only after a new load, which it looks for every few seconds in a
background job, so no payment waits on a rate query.
Rates are never invented for days the data does not cover: the table's `max_age` decides
how stale a rate may be, beyond that the amount is not reported in EUR.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.domain.fx import ExchangeRateTable, ecb_reference_rates
from services.payments.settings import PaymentsSettings
from services.payments.tables import RateLoad, ReportingRate
from shared.db import create_engine, session_factory
from shared.metrics import REFERENCE_COVERAGE_END
from shared.migrations import upgrade_to_head
from shared.reference_files import (
    ECB_SOURCE,
    ReferenceFileError,
    csv_text,
    parse_ecb_csv,
    read_file,
)
from shared.service import ServiceRuntime

ECB_RATES = "ecb-rates"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def load_ecb_rates(session: AsyncSession, path: Path, loaded_by: str) -> str:
    facts = read_file(path)
    existing = await session.scalar(
        select(RateLoad).where(RateLoad.table_name == ECB_RATES, RateLoad.sha256 == facts.sha256)
    )
    if existing is not None:
        return f"already loaded as #{existing.id}: {existing.row_count} rates"
    published = parse_ecb_csv(csv_text(facts), facts.file_name)
    rates = ecb_reference_rates((rate.day, rate.currency, rate.rate) for rate in published)
    load = RateLoad(
        table_name=ECB_RATES,
        source=ECB_SOURCE,
        file_name=facts.file_name,
        sha256=facts.sha256,
        loaded_by=loaded_by,
        covers_from=min(rate.date for rate in rates),
        covers_to=max(rate.date for rate in rates),
        row_count=len(rates),
    )
    session.add(load)
    await session.flush()
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(
        ReportingRate.__tablename__,
        records=[(load.id, rate.date, rate.pair.quote, rate.rate) for rate in rates],
        columns=["load_id", "published_on", "quote", "rate"],
    )
    return f"loaded as #{load.id}: {len(rates)} rates, {load.covers_from} to {load.covers_to}"


class ReportingRates:
    """The loaded rates in memory; `table` is what conversions read."""

    def __init__(self, max_age: timedelta, interval_seconds: float = 5.0) -> None:
        self.max_age = max_age
        self.interval_seconds = interval_seconds
        self.table = ExchangeRateTable((), max_age=max_age)
        self._latest = -1

    async def refresh(self, session: AsyncSession) -> None:
        latest, end = (
            await session.execute(
                select(func.coalesce(func.max(RateLoad.id), 0), func.max(RateLoad.covers_to))
            )
        ).one()
        if latest == self._latest:
            return
        # Amounts are reported at today's rate, never at one older than `max_age`: the rest
        # of the history since 1999 (221,000 rates, 12 MB as a table) would sit unread.
        oldest_usable = datetime.now(UTC).date() - self.max_age
        rows = await session.execute(
            select(ReportingRate.published_on, ReportingRate.quote, ReportingRate.rate)
            .where(ReportingRate.published_on >= oldest_usable)
            .distinct(ReportingRate.published_on, ReportingRate.quote)
            .order_by(ReportingRate.published_on, ReportingRate.quote, ReportingRate.load_id.desc())
        )
        rates = ecb_reference_rates((day, quote, rate.normalize()) for day, quote, rate in rows)
        self.table = ExchangeRateTable(rates, max_age=self.max_age)
        self._latest = latest
        REFERENCE_COVERAGE_END.labels("payments", ECB_RATES).set(
            0.0
            if end is None
            else datetime.combine(end + timedelta(days=1), dt_time(), UTC).timestamp()
        )

    async def watch(self, runtime: ServiceRuntime) -> None:
        """The service's background job that keeps `table` current."""
        while True:
            async with runtime.units_of_work() as uow:
                await self.refresh(uow.session)
            await asyncio.sleep(self.interval_seconds)


async def _status(session: AsyncSession) -> None:
    for load in (await session.scalars(select(RateLoad).order_by(RateLoad.id))).all():
        print(
            f"{load.table_name:<10} #{load.id:<4} {load.covers_from} to {load.covers_to}  "
            f"{load.row_count} rates  {load.file_name} ({load.sha256[:12]}), {load.loaded_by}, "
            f"{load.loaded_at:%Y-%m-%d %H:%M}"
        )


async def _run(arguments: argparse.Namespace, settings: PaymentsSettings) -> None:
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session, session.begin():
            by = arguments.by or f"{getpass.getuser()}@{socket.gethostname()}"
            if arguments.command == "status":
                await _status(session)
                return
            path = getattr(arguments, "file", None) or settings.ecb_rates_file
            print(f"{ECB_RATES}: {await load_ecb_rates(session, path, by)}")
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.payments.reference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--by", help="who loads (recorded); default user@host")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="load the ECB reference rates")
    load.add_argument("table", choices=[ECB_RATES])
    load.add_argument("file", nargs="?", type=Path)
    commands.add_parser("load-shipped", help="load the shipped ECB history (idempotent)")
    commands.add_parser("status", help="every load and what it covers")
    arguments = parser.parse_args()
    settings = PaymentsSettings()
    upgrade_to_head(MIGRATIONS, settings.database_url)
    try:
        asyncio.run(_run(arguments, settings))
    except ReferenceFileError as error:
        print(f"refused, nothing changed: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
