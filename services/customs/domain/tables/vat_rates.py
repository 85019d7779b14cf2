"""Standard VAT rates of the EU member states, each with the dates it applies.

Import VAT is charged at the rate in force on the day the customs declaration is accepted.
Loaded from a file of country, percent, valid from, valid to (empty while in force), source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


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


class VatTable:
    def __init__(self, rates: Iterable[VatRate]) -> None:
        self.rates = tuple(rates)
        # ISO 3166-1 codes; the table writes Greece as GR (the VAT prefix is EL).
        self.countries = frozenset(rate.country for rate in self.rates)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> VatTable:
        return cls(
            VatRate(
                row["country"], row["percent"], row["valid_from"], row["valid_to"], row["source"]
            )
            for row in rows
        )

    def standard_rate(self, country: str, day: date) -> VatRate | None:
        """The standard rate of `country` on `day`; None outside the EU or the table's dates."""
        for rate in self.rates:
            if rate.country == country and rate.applies_on(day):
                return rate
        return None
