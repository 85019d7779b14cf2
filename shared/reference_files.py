"""Reading operator-loaded reference files: the ECB's daily rates, and what a load records.

Customs and payments each load the same ECB file into their own database; this module only
reads bytes into validated rows (no database, no network). A file is validated whole before
anything is written: the first bad line is named in `ReferenceFileError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

SHIPPED_ECB_FILE = Path(__file__).parent / "data" / "eurofxref-hist.zip"
ECB_SOURCE = "European Central Bank, euro foreign exchange reference rates (eurofxref-hist)"
_NOT_QUOTED = {"N/A", ""}


class ReferenceFileError(ValueError):
    """A reference file that cannot be loaded; the message names the line at fault."""


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a load records about the file itself."""

    file_name: str
    sha256: str
    content: bytes


def read_file(path: Path) -> FileFacts:
    content = path.read_bytes()
    return FileFacts(path.name, hashlib.sha256(content).hexdigest(), content)


def csv_text(facts: FileFacts) -> str:
    """The CSV inside: a zip holding one `.csv` member, or the bytes themselves (UTF-8)."""
    content = facts.content
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [name for name in archive.namelist() if name.lower().endswith(".csv")]
            if len(members) != 1:
                raise ReferenceFileError(
                    f"{facts.file_name}: a zip must hold exactly one .csv, found {members}"
                )
            content = archive.read(members[0])
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReferenceFileError(f"{facts.file_name}: not UTF-8 text ({error})") from None


@dataclass(frozen=True, slots=True)
class EcbRate:
    """One EUR buys `rate` units of `currency` on `day` (the ECB's quotation)."""

    day: date
    currency: str
    rate: Decimal


def parse_ecb_csv(text: str, file_name: str = "ECB file") -> list[EcbRate]:
    """The ECB's wide CSV (`Date,USD,JPY,…`), every line checked; `N/A` means not quoted."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise ReferenceFileError(f"{file_name} line 1: expected the ECB header 'Date,USD,…'")
    currencies = [name.strip() for name in header[1:]]
    for name in currencies:
        if name and not (len(name) == 3 and name.isalpha() and name.isupper()):
            raise ReferenceFileError(f"{file_name} line 1: {name!r} is not an ISO 4217 code")
    rates: list[EcbRate] = []
    seen: set[date] = set()
    for line_number, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise ReferenceFileError(
                f"{file_name} line {line_number}: {row[0]!r} is not a YYYY-MM-DD date"
            ) from None
        if day in seen:
            raise ReferenceFileError(f"{file_name} line {line_number}: {day} appears twice")
        seen.add(day)
        for currency, cell in zip(currencies, row[1:], strict=False):
            value = cell.strip()
            if not currency or value in _NOT_QUOTED:
                continue
            try:
                rate = Decimal(value)
            except InvalidOperation:
                rate = Decimal(0)
            if not rate.is_finite() or rate <= 0:
                raise ReferenceFileError(
                    f"{file_name} line {line_number}: {currency} rate {value!r} is not a "
                    "positive number"
                )
            rates.append(EcbRate(day, currency, rate))
    if not rates:
        raise ReferenceFileError(f"{file_name}: no rates")
    return rates
