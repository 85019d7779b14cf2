"""Reference loads in the customs database: load a file, extend a table, read what is loaded.

A load is one transaction: the file is read and checked whole first, so a bad file writes
nothing. Loading the same file (same table, same SHA-256) again changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.customs.domain import reference
from services.customs.domain.model import CustomsRate, Quotation, RateAuthority
from services.customs.domain.reference import ReferenceTables, TableVersion
from services.customs.domain.tables.exchange_rates import (
    ExchangeRateTable,
    monthly_customs_rates,
)
from services.customs.reference.files import (
    TABLES,
    Row,
    TableSpec,
    build_tables,
    date_cell,
    decimal_cell,
    parse_table,
    pattern_cell,
)
from services.customs.tables import (
    DailyExchangeRate,
    MonthlyCustomsRate,
    ReferenceLoad,
    ReferenceRow,
)
from shared.reference_files import (
    ECB_SOURCE,
    ReferenceFileError,
    csv_text,
    parse_ecb_csv,
    read_file,
)

RATE_AUTHORITIES = {reference.ECB_RATES: RateAuthority.EU, reference.CFETS_RATES: RateAuthority.CN}
CFETS_SOURCE = "CFETS/PBoC central parity of the RMB (CNY per unit of currency)"


@dataclass(frozen=True, slots=True)
class LoadResult:
    load_id: int
    created: bool
    row_count: int
    covers_from: date
    covers_to: date | None

    def __str__(self) -> str:
        what = "loaded as" if self.created else "already loaded as"
        return (
            f"{what} #{self.load_id}: {self.row_count} rows, covers {self.covers_from} "
            f"to {self.covers_to or 'open'}"
        )


async def _existing(session: AsyncSession, table: str, sha256: str) -> ReferenceLoad | None:
    return await session.scalar(
        select(ReferenceLoad)
        .where(ReferenceLoad.table_name == table, ReferenceLoad.sha256 == sha256)
        .order_by(ReferenceLoad.id.desc())
        .limit(1)
    )


def _result(load: ReferenceLoad, created: bool) -> LoadResult:
    return LoadResult(load.id, created, load.row_count, load.covers_from, load.covers_to)


async def _new_load(session: AsyncSession, **values: object) -> ReferenceLoad:
    load = ReferenceLoad(**values)
    session.add(load)
    await session.flush()
    return load


async def load_table(
    session: AsyncSession, table: str, path: Path, loaded_by: str, source: str
) -> LoadResult:
    """Load a table file (CSV, see data/README.md); nothing is written if any line is bad."""
    spec = TABLES[table]
    facts = read_file(path)
    existing = await _existing(session, table, facts.sha256)
    if existing is not None:
        return _result(existing, created=False)
    rows = parse_table(spec, csv_text(facts), facts.file_name)
    covers_from, covers_to = spec.covers(rows)
    load = await _new_load(
        session,
        table_name=table,
        source=source,
        file_name=facts.file_name,
        sha256=facts.sha256,
        loaded_by=loaded_by,
        covers_from=covers_from,
        covers_to=covers_to,
        provisional=False,
        row_count=len(rows),
    )
    await _insert_rows(session, load.id, spec.valid_from_column, spec.valid_to_column, rows)
    return _result(load, created=True)


async def _insert_rows(
    session: AsyncSession,
    load_id: int,
    valid_from_column: str,
    valid_to_column: str | None,
    rows: Sequence[Row],
) -> None:
    await session.execute(
        insert(ReferenceRow),
        [
            {
                "load_id": load_id,
                "line": row["line"],
                "valid_from": row[valid_from_column],
                "valid_to": row[valid_to_column] if valid_to_column else None,
                "cells": row["cells"],
            }
            for row in rows
        ],
    )


async def _copy(session: AsyncSession, table: str, columns: list[str], records: list) -> None:
    """COPY many rows at once (a full ECB history is some 200,000 rates)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table, records=records, columns=columns)


async def load_rates(
    session: AsyncSession, table: str, path: Path, loaded_by: str, source: str | None = None
) -> LoadResult:
    """Load daily rates (the ECB CSV, zipped or not; or a CFETS CSV `date,currency,rate`) and
    derive every month's customs rate by the authority's legal rule."""
    authority = RATE_AUTHORITIES[table]
    facts = read_file(path)
    existing = await _existing(session, table, facts.sha256)
    if existing is not None:
        return _result(existing, created=False)
    text = csv_text(facts)
    if authority is RateAuthority.EU:
        daily = [
            (rate.day, rate.currency, rate.rate) for rate in parse_ecb_csv(text, facts.file_name)
        ]
        source = source or ECB_SOURCE
    else:
        daily = parse_cfets_csv(text, facts.file_name)
        source = source or CFETS_SOURCE
    monthly = monthly_customs_rates(authority, daily, source)
    if not monthly:
        raise ReferenceFileError(f"{facts.file_name}: too short to decide any month's rate")
    load = await _new_load(
        session,
        table_name=table,
        source=source,
        file_name=facts.file_name,
        sha256=facts.sha256,
        loaded_by=loaded_by,
        covers_from=min(rate.month for rate in monthly),
        covers_to=month_end(max(rate.month for rate in monthly)),
        provisional=False,
        row_count=len(daily),
    )
    await _copy(
        session,
        DailyExchangeRate.__tablename__,
        ["load_id", "authority", "published_on", "currency", "rate"],
        [(load.id, authority.value, day, currency, rate) for day, currency, rate in daily],
    )
    await _copy(
        session,
        MonthlyCustomsRate.__tablename__,
        [
            "load_id",
            "authority",
            "month",
            "currency",
            "rate",
            "fixing_date",
            "published_on",
            "source",
        ],
        [
            (
                load.id,
                authority.value,
                r.month,
                r.currency,
                r.rate,
                r.fixing_date,
                r.published_on,
                r.source,
            )
            for r in monthly
        ],
    )
    return _result(load, created=True)


def month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def parse_cfets_csv(text: str, file_name: str) -> list[tuple[date, str, Decimal]]:
    """`date,currency,cny_per_unit` lines (CNY for one unit of the currency), all checked."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "date,currency,cny_per_unit":
        raise ReferenceFileError(f"{file_name} line 1: columns must be date,currency,cny_per_unit")
    currency_code = pattern_cell(r"[A-Z]{3}", "an ISO 4217 code")
    rates = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        try:
            if len(cells) != 3:
                raise ValueError(f"{len(cells)} fields, expected 3")
            rate = decimal_cell(cells[2])
            if rate == 0:
                raise ValueError("rate must be > 0")
            rates.append((date_cell(cells[0]), currency_code(cells[1]), rate))
        except ValueError as error:
            raise ReferenceFileError(f"{file_name} line {number}: {error}") from None
    return rates


async def extend(session: AsyncSession, table: str, through: date, loaded_by: str) -> LoadResult:
    """Declare the newest load of `table` valid until `through` as a provisional extension.

    Its rows are copied with their end moved from the old coverage end to `through`; the
    extension covers the day after the old end to `through`. A later official load
    supersedes it for the days it covers.
    """
    if table not in TABLES:
        raise ReferenceFileError(f"only the tables {', '.join(TABLES)} can be extended")
    base = await session.scalar(
        select(ReferenceLoad)
        .where(ReferenceLoad.table_name == table, ReferenceLoad.provisional.is_(False))
        .order_by(ReferenceLoad.id.desc())
        .limit(1)
    )
    if base is None or base.covers_to is None:
        raise ReferenceFileError(f"{table} has no loaded version with an end date to extend")
    if through <= base.covers_to:
        raise ReferenceFileError(f"{table} #{base.id} already covers {through}")
    sha256 = f"extension-of-{base.sha256[:40]}-{through}"[:64]
    existing = await _existing(session, table, sha256)
    if existing is not None:
        return _result(existing, created=False)
    spec = TABLES[table]
    rows = (
        await session.scalars(select(ReferenceRow).where(ReferenceRow.load_id == base.id))
    ).all()
    load = await _new_load(
        session,
        table_name=table,
        source=f"PROVISIONAL extension of load #{base.id} ({base.file_name}) until the official "
        "table is loaded",
        file_name=base.file_name,
        sha256=sha256,
        loaded_by=loaded_by,
        covers_from=base.covers_to + timedelta(days=1),
        covers_to=through,
        provisional=True,
        extends_load_id=base.id,
        row_count=len(rows),
    )
    extended_cells = []
    for row in rows:
        cells = dict(row.cells)
        if spec.valid_to_column and cells.get(spec.valid_to_column) == base.covers_to.isoformat():
            cells[spec.valid_to_column] = through.isoformat()
        extended_cells.append(cells)
    extended = parse_table(spec, as_csv(spec, extended_cells), f"extension of #{base.id}")
    await _insert_rows(session, load.id, spec.valid_from_column, spec.valid_to_column, extended)
    return _result(load, created=True)


async def loads(session: AsyncSession) -> list[ReferenceLoad]:
    return list((await session.scalars(select(ReferenceLoad).order_by(ReferenceLoad.id))).all())


async def latest_load_id(session: AsyncSession) -> int:
    return await session.scalar(select(func.coalesce(func.max(ReferenceLoad.id), 0))) or 0


def version_of(load: ReferenceLoad) -> TableVersion:
    return TableVersion(
        load.table_name, load.id, load.sha256, load.covers_from, load.covers_to, load.provisional
    )


async def read_tables(
    session: AsyncSession,
) -> tuple[ReferenceTables, ExchangeRateTable, list[TableVersion]]:
    """Everything loaded, as the rules' objects: every table version and the monthly rates
    (for a month and currency, the newest load deciding it wins)."""
    all_loads = await loads(session)
    table_loads = [load for load in all_loads if load.table_name in TABLES]
    rows = (
        await session.scalars(
            select(ReferenceRow)
            .where(ReferenceRow.load_id.in_([load.id for load in table_loads]))
            .order_by(ReferenceRow.load_id, ReferenceRow.line)
        )
    ).all()
    by_load: dict[int, list[Row]] = {}
    for row in rows:
        by_load.setdefault(row.load_id, []).append(row.cells)
    versions = []
    for load in table_loads:
        spec = TABLES[load.table_name]
        parsed = parse_table(spec, as_csv(spec, by_load.get(load.id, [])), f"load #{load.id}")
        versions.append((version_of(load), parsed))
    monthly = await session.execute(
        select(MonthlyCustomsRate)
        .distinct(
            MonthlyCustomsRate.authority, MonthlyCustomsRate.month, MonthlyCustomsRate.currency
        )
        .order_by(
            MonthlyCustomsRate.authority,
            MonthlyCustomsRate.month,
            MonthlyCustomsRate.currency,
            MonthlyCustomsRate.load_id.desc(),
        )
    )
    rates = [
        CustomsRate(
            RateAuthority(rate.authority),
            rate.month,
            rate.currency,
            rate.rate.normalize(),
            Quotation.FOREIGN_PER_HOME if rate.authority == "EU" else Quotation.HOME_PER_FOREIGN,
            rate.fixing_date,
            rate.source,
            rate.published_on,
            rate.load_id,
        )
        for rate in monthly.scalars()
    ]
    rate_versions = [version_of(load) for load in all_loads if load.table_name in RATE_AUTHORITIES]
    return build_tables(versions), ExchangeRateTable(rates), rate_versions


def as_csv(spec: TableSpec, cells_list: Sequence[dict[str, str]]) -> str:
    """Stored cells back into the file form, to be checked and typed by the same parser."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(spec.columns)
    for cells in cells_list:
        writer.writerow(cells[column] for column in spec.columns)
    return buffer.getvalue()
