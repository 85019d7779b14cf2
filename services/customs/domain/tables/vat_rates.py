"""Standard VAT rates of the 27 EU member states, each with the dates it applies.

Coverage starts on 2024-01-01: a `valid_from` of 2024-01-01 means "in force when the
table starts", not the date the rate was introduced. Later changes carry their own date
and source. Import VAT is charged at the rate in force on the day the customs
declaration is accepted.

Sources: European Commission, "VAT rates applied in the Member States of the European
Union" (situation at 1 January 2024), and for each later change the national act below,
cross-checked against the tax administrations' and advisers' notices (vero.fi,
slov-lex.sk, Law 141/2025 published in Monitorul Oficial no. 699 of 25 July 2025).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

TABLE_START = date(2024, 1, 1)

_COMMISSION_TABLE = "European Commission, VAT rates applied in the Member States (1 January 2024)"


@dataclass(frozen=True, slots=True)
class VatRate:
    country: str
    percent: Decimal
    valid_from: date
    valid_to: date | None  # last day the rate applies; None while in force
    source: str

    @property
    def fraction(self) -> Decimal:
        return self.percent / 100

    def applies_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def _unchanged(country: str, percent: str) -> VatRate:
    return VatRate(country, Decimal(percent), TABLE_START, None, _COMMISSION_TABLE)


STANDARD_RATES: tuple[VatRate, ...] = (
    _unchanged("AT", "20"),
    _unchanged("BE", "21"),
    _unchanged("BG", "20"),
    _unchanged("CY", "19"),
    _unchanged("CZ", "21"),
    _unchanged("DE", "19"),
    _unchanged("DK", "25"),
    VatRate(
        "EE",
        Decimal("22"),
        TABLE_START,
        date(2025, 6, 30),
        "Estonian VAT Act: 20 % -> 22 % from 1 January 2024",
    ),
    VatRate(
        "EE",
        Decimal("24"),
        date(2025, 7, 1),
        None,
        "Estonian VAT Act: 22 % -> 24 % from 1 July 2025",
    ),
    _unchanged("ES", "21"),
    VatRate("FI", Decimal("24"), TABLE_START, date(2024, 8, 31), _COMMISSION_TABLE),
    VatRate(
        "FI",
        Decimal("25.5"),
        date(2024, 9, 1),
        None,
        "Finnish VAT Act amendment: 24 % -> 25.5 % from 1 September 2024",
    ),
    _unchanged("FR", "20"),
    _unchanged("GR", "24"),
    _unchanged("HR", "25"),
    _unchanged("HU", "27"),
    _unchanged("IE", "23"),
    _unchanged("IT", "22"),
    _unchanged("LT", "21"),
    VatRate(
        "LU",
        Decimal("17"),
        TABLE_START,
        None,
        "Luxembourg: temporary 16 % of 2023 ended, 17 % from 1 January 2024",
    ),
    _unchanged("LV", "21"),
    _unchanged("MT", "18"),
    _unchanged("NL", "21"),
    _unchanged("PL", "23"),
    _unchanged("PT", "23"),
    VatRate("RO", Decimal("19"), TABLE_START, date(2025, 7, 31), _COMMISSION_TABLE),
    VatRate(
        "RO",
        Decimal("21"),
        date(2025, 8, 1),
        None,
        "Romanian Law No 141/2025: 19 % -> 21 % from 1 August 2025",
    ),
    _unchanged("SE", "25"),
    _unchanged("SI", "22"),
    VatRate("SK", Decimal("20"), TABLE_START, date(2024, 12, 31), _COMMISSION_TABLE),
    VatRate(
        "SK",
        Decimal("23"),
        date(2025, 1, 1),
        None,
        "Slovak VAT Act No 222/2004 as amended: 20 % -> 23 % from 1 January 2025",
    ),
)

# ISO 3166-1 codes; the table writes Greece as GR (the VAT prefix is EL).
EU_MEMBER_STATES: frozenset[str] = frozenset(rate.country for rate in STANDARD_RATES)


def standard_rate(country: str, day: date) -> VatRate | None:
    """The standard rate of `country` on `day`; None outside the EU or before the table starts."""
    for rate in STANDARD_RATES:
        if rate.country == country and rate.applies_on(day):
            return rate
    return None
