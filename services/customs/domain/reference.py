"""Reference tables as the rules receive them: plain objects, each version with its dates.

Operators load each table from a file (`python -m services.customs.reference`); every load
is a `TableVersion` covering a date range. For a given day the newest version covering it
answers; a day no version covers is held (`reference-data-missing`), never guessed. The
rules read these objects only: no file, database or clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from services.customs.domain.tables.china_cbec import CbecLimits, PositiveList
from services.customs.domain.tables.dangerous_goods import DangerousGoodsRules
from services.customs.domain.tables.denied_parties import DeniedPartyList
from services.customs.domain.tables.eu_tariff import Tariff
from services.customs.domain.tables.low_value import LowValueRules
from services.customs.domain.tables.restricted_goods import RestrictedGoodsList
from services.customs.domain.tables.vat_rates import VatTable
from services.customs.domain.tables.vat_territories import VatTerritories

T = TypeVar("T")

TARIFF = "tariff"
VAT_RATES = "vat-rates"
VAT_TERRITORIES = "vat-territories"
LOW_VALUE = "low-value"
CBEC_LIMITS = "cbec-limits"
CBEC_POSITIVE_LIST = "cbec-positive-list"
RESTRICTED_GOODS = "restricted-goods"
DENIED_PARTIES = "denied-parties"
DANGEROUS_GOODS = "dangerous-goods"
ECB_RATES = "ecb-rates"
CFETS_RATES = "cfets-rates"


@dataclass(frozen=True, slots=True)
class TableVersion:
    """One load of one table: what the declaration records as the version it used."""

    table: str
    load_id: int
    sha256: str
    covers_from: date
    covers_to: date | None  # last day covered; None while open-ended
    provisional: bool = False

    def covers(self, day: date) -> bool:
        return self.covers_from <= day and (self.covers_to is None or day <= self.covers_to)

    def describe(self) -> str:
        end = self.covers_to or "open"
        label = "PROVISIONAL extension" if self.provisional else "load"
        return f"{self.table} {label} #{self.load_id} ({self.covers_from} to {end})"


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    """The versions of one table, newest load first."""

    name: str
    versions: tuple[tuple[TableVersion, T], ...] = ()

    def on(self, day: date) -> tuple[TableVersion, T] | None:
        for version, table in self.versions:
            if version.covers(day):
                return version, table
        return None

    def coverage_end(self, day: date) -> date | None:
        """The last day covered without a gap from `day` on; None if open-ended or not covered."""
        covered = self.on(day)
        if covered is None:
            return day.fromordinal(day.toordinal() - 1)
        end = covered[0].covers_to
        while end is not None:
            following = self.on(end.fromordinal(end.toordinal() + 1))
            if following is None:
                return end
            end = following[0].covers_to
        return None


@dataclass(frozen=True, slots=True)
class ReferenceTables:
    tariff: Versioned[Tariff]
    vat_rates: Versioned[VatTable]
    vat_territories: Versioned[VatTerritories]
    low_value: Versioned[LowValueRules]
    cbec_limits: Versioned[CbecLimits]
    positive_list: Versioned[PositiveList]
    restricted_goods: Versioned[RestrictedGoodsList]
    denied_parties: Versioned[DeniedPartyList]
    dangerous_goods: Versioned[DangerousGoodsRules]

    def all(self) -> tuple[Versioned, ...]:
        return (
            self.tariff,
            self.vat_rates,
            self.vat_territories,
            self.low_value,
            self.cbec_limits,
            self.positive_list,
            self.restricted_goods,
            self.denied_parties,
            self.dangerous_goods,
        )
