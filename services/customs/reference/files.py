"""The reference files operators load: their columns, how each line is checked, what it covers.

Every table is a CSV file with a header (documented in services/customs/reference/data/
README.md). A file is parsed and checked whole before anything is written; the first
bad line is named (`ReferenceFileError`). Parsing is pure: text in, typed rows out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from services.customs.domain import reference
from services.customs.domain.model import Lane
from services.customs.domain.reference import ReferenceTables, TableVersion, Versioned
from services.customs.domain.tables.china_cbec import CbecLimits, PositiveList
from services.customs.domain.tables.dangerous_goods import DangerousGoodsRules
from services.customs.domain.tables.denied_parties import DeniedPartyList
from services.customs.domain.tables.eu_tariff import Tariff
from services.customs.domain.tables.low_value import LowValueRules
from services.customs.domain.tables.restricted_goods import RestrictedGoodsList
from services.customs.domain.tables.vat_rates import VatTable
from services.customs.domain.tables.vat_territories import VatTerritories
from shared.reference_files import ReferenceFileError

DATA = Path(__file__).parent / "data"

Row = dict[str, Any]


def _text(value: str) -> str:
    if not value:
        raise ValueError("is required")
    return value


def _optional_text(value: str) -> str | None:
    return value or None


def decimal_cell(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{value!r} is not a number >= 0")
    return number


def _optional_decimal(value: str) -> Decimal | None:
    return decimal_cell(value) if value else None


def date_cell(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a YYYY-MM-DD date") from None


def _optional_date(value: str) -> date | None:
    return date_cell(value) if value else None


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(f"{value!r} is not true or false")
    return value == "true"


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def _int(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def pattern_cell(regex: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


def _one_of(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return check


def _lanes(value: str) -> list[str]:
    lanes = _list(value)
    for lane in lanes:
        Lane(lane)
    if not lanes:
        raise ValueError("names no lane")
    return lanes


@dataclass(frozen=True)
class TableSpec:
    """One loadable table: its CSV columns and converters, and how rows become the object."""

    name: str
    columns: Mapping[str, Callable[[str], Any]]
    build: Callable[[list[Row]], Any]
    shipped_file: str
    valid_from_column: str = "valid_from"
    valid_to_column: str | None = "valid_to"

    def covers(self, rows: Sequence[Row]) -> tuple[date, date | None]:
        """First and last day the rows cover; open-ended (None) when some row has no end."""
        start = min(row[self.valid_from_column] for row in rows)
        if self.valid_to_column is None:
            return start, None
        ends = [row[self.valid_to_column] for row in rows]
        return start, None if any(end is None for end in ends) else max(ends)


def _check_validity(row: Row, spec: TableSpec) -> None:
    end = row.get(spec.valid_to_column) if spec.valid_to_column else None
    if end is not None and end < row[spec.valid_from_column]:
        raise ValueError(f"{spec.valid_to_column} {end} is before {spec.valid_from_column}")


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            reference.TARIFF,
            {
                "cn_code": pattern_cell(r"\d{6}|\d{8}", "a 6- or 8-digit code"),
                "description": _text,
                "duty_percent": _optional_decimal,
                "additional_component": _optional_text,
                "valid_from": date_cell,
                "valid_to": date_cell,
            },
            Tariff.from_rows,
            "tariff-2026.csv",
        ),
        TableSpec(
            reference.VAT_RATES,
            {
                "country": pattern_cell(r"[A-Z]{2}", "an ISO 3166-1 code"),
                "percent": decimal_cell,
                "valid_from": date_cell,
                "valid_to": _optional_date,
                "source": _text,
            },
            VatTable.from_rows,
            "vat-rates.csv",
        ),
        TableSpec(
            reference.VAT_TERRITORIES,
            {
                "country": pattern_cell(r"[A-Z]{2}", "an ISO 3166-1 code"),
                "postal_prefix": pattern_cell(r"[0-9A-Z]{0,10}", "a postal code prefix"),
                "territory": _text,
                "treatment": _one_of("outside-vat-area", "outside-customs-territory", "vat-as"),
                "vat_country": _optional_text,
                "source": _text,
                "valid_from": date_cell,
                "valid_to": _optional_date,
            },
            VatTerritories.from_rows,
            "vat-territories.csv",
        ),
        TableSpec(
            reference.LOW_VALUE,
            {
                "kind": _one_of("threshold", "relief", "flat-duty", "relief-exclusion", "excise"),
                "hs_prefix": pattern_cell(r"\d{0,8}", "an HS prefix"),
                "label": _text,
                "amount_eur": _optional_decimal,
                "valid_from": date_cell,
                "valid_to": _optional_date,
                "source": _text,
            },
            LowValueRules.from_rows,
            "low-value.csv",
        ),
        TableSpec(
            reference.CBEC_LIMITS,
            {
                "name": _one_of(
                    "transaction-limit-cny",
                    "annual-limit-cny",
                    "tax-share-within-limits",
                    "high-end-cosmetics-cny-per-ml-or-g",
                    "high-end-cosmetics-cny-per-piece",
                ),
                "amount": decimal_cell,
                "valid_from": date_cell,
                "valid_to": _optional_date,
                "source": _text,
            },
            CbecLimits.from_rows,
            "cbec-limits.csv",
        ),
        TableSpec(
            reference.CBEC_POSITIVE_LIST,
            {
                "code": pattern_cell(r"\d{8}", "an 8-digit Chinese tariff code"),
                "description": _text,
                "vat_percent": decimal_cell,
                "consumption_tax_percent": decimal_cell,
                "high_end_only": _bool,
                "direct_purchase_allowed": _bool,
                "valid_from": date_cell,
                "valid_to": _optional_date,
            },
            PositiveList.from_rows,
            "cbec-positive-list.csv",
        ),
        TableSpec(
            reference.RESTRICTED_GOODS,
            {
                "rule_id": pattern_cell(r"PR-[A-Z-]+", "a rule id PR-…"),
                "label": _text,
                "action": _one_of("REJECT", "HOLD"),
                "hs_prefixes": _list,
                "keywords": _list,
                "lanes": _lanes,
                "source": _text,
                "valid_from": date_cell,
                "valid_to": _optional_date,
            },
            RestrictedGoodsList.from_rows,
            "restricted-goods.csv",
        ),
        TableSpec(
            reference.DENIED_PARTIES,
            {
                "entry_id": _text,
                "names": _list,
                "listed_on": date_cell,
                "delisted_on": _optional_date,
                "regime": _text,
            },
            DeniedPartyList.from_rows,
            "denied-parties.csv",
            valid_from_column="listed_on",
            valid_to_column=None,
        ),
        TableSpec(
            reference.DANGEROUS_GOODS,
            {
                "rule_id": pattern_cell(r"DG-[A-Z0-9-]+", "a rule id DG-…"),
                "kind": _one_of("lithium", "forbidden"),
                "family": _optional_text,
                "precedence": _int,
                "un_numbers": _list,
                "label": _text,
                "handling": _text,
                "hs_prefixes": _list,
                "keywords": _list,
                "valid_from": date_cell,
                "valid_to": _optional_date,
            },
            DangerousGoodsRules.from_rows,
            "dangerous-goods.csv",
        ),
    )
}


def parse_table(spec: TableSpec, text: str, file_name: str) -> list[Row]:
    """Every line of a table file checked and typed; a `ReferenceFileError` names the first
    bad line (header = line 1)."""
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    if header != list(spec.columns):
        raise ReferenceFileError(
            f"{file_name} line 1: columns must be {','.join(spec.columns)}, "
            f"found {','.join(header)}"
        )
    rows: list[Row] = []
    for line_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise ReferenceFileError(
                f"{file_name} line {line_number}: {len(cells)} fields, expected {len(header)}"
            )
        row: Row = {}
        for (column, convert), cell in zip(spec.columns.items(), cells, strict=True):
            try:
                row[column] = convert(cell.strip())
            except ValueError as error:
                raise ReferenceFileError(
                    f"{file_name} line {line_number}: {column}: {error}"
                ) from None
        try:
            _check_validity(row, spec)
        except ValueError as error:
            raise ReferenceFileError(f"{file_name} line {line_number}: {error}") from None
        row["line"] = line_number
        row["cells"] = dict(zip(spec.columns, (cell.strip() for cell in cells), strict=True))
        rows.append(row)
    if not rows:
        raise ReferenceFileError(f"{file_name}: no rows")
    try:
        spec.build(rows)
    except (KeyError, ValueError) as error:
        raise ReferenceFileError(f"{file_name}: the rows do not make a table: {error!r}") from None
    return rows


def build_tables(loads: Sequence[tuple[TableVersion, list[Row]]]) -> ReferenceTables:
    """The rules' tables from loaded versions and their rows (any order; newest load wins)."""
    by_table: dict[str, list[tuple[TableVersion, Any]]] = {name: [] for name in TABLES}
    for version, rows in sorted(loads, key=lambda load: load[0].load_id, reverse=True):
        if version.table in by_table:
            by_table[version.table].append((version, TABLES[version.table].build(rows)))

    def versioned(name: str) -> Versioned:
        return Versioned(name, tuple(by_table[name]))

    return ReferenceTables(
        tariff=versioned(reference.TARIFF),
        vat_rates=versioned(reference.VAT_RATES),
        vat_territories=versioned(reference.VAT_TERRITORIES),
        low_value=versioned(reference.LOW_VALUE),
        cbec_limits=versioned(reference.CBEC_LIMITS),
        positive_list=versioned(reference.CBEC_POSITIVE_LIST),
        restricted_goods=versioned(reference.RESTRICTED_GOODS),
        denied_parties=versioned(reference.DENIED_PARTIES),
        dangerous_goods=versioned(reference.DANGEROUS_GOODS),
    )


def shipped_loads() -> list[tuple[TableVersion, list[Row]]]:
    """The shipped files parsed, numbered as if loaded in table order (for tests and demos)."""
    loads = []
    for load_id, spec in enumerate(TABLES.values(), start=1):
        path = DATA / spec.shipped_file
        rows = parse_table(spec, path.read_text(encoding="utf-8"), path.name)
        covers_from, covers_to = spec.covers(rows)
        loads.append((TableVersion(spec.name, load_id, "shipped", covers_from, covers_to), rows))
    return loads
