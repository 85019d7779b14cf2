"""China cross-border e-commerce (CBEC) retail import: limits, tax share and the positive list
with the statutory VAT and consumption tax of each line (loaded from `cbec-limits` and
`cbec-positive-list` rows).

Sources: 财关税〔2016〕18号 and 财关税〔2018〕49号 (CNY 5,000 per transaction, CNY 26,000 per
person per calendar year; within the limits tariff 0 % and VAT and consumption tax at 70 %);
positive list 2022 edition (MOF et al. Announcement 2022 No. 7, from 1 March 2022); VAT 13 %
/ 9 % (MOF/SAT/GACC Announcement 2019 No. 39); high-end cosmetics 15 % from CNY 10 per ml or
g, or CNY 15 per piece or sheet (财税〔2016〕103号); wine 10 %. Codes are China's tariff
codes, which may differ from EU CN codes after the sixth digit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class CbecLimits:
    transaction_limit_cny: Decimal
    annual_limit_cny: Decimal
    tax_share_within_limits: Decimal
    high_end_cosmetics_cny_per_ml_or_g: Decimal
    high_end_cosmetics_cny_per_piece: Decimal

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> CbecLimits:
        values = {row["name"]: row["amount"] for row in rows}
        return cls(
            transaction_limit_cny=values["transaction-limit-cny"],
            annual_limit_cny=values["annual-limit-cny"],
            tax_share_within_limits=values["tax-share-within-limits"],
            high_end_cosmetics_cny_per_ml_or_g=values["high-end-cosmetics-cny-per-ml-or-g"],
            high_end_cosmetics_cny_per_piece=values["high-end-cosmetics-cny-per-piece"],
        )


@dataclass(frozen=True, slots=True)
class PositiveListLine:
    code: str
    description: str
    vat_percent: Decimal
    consumption_tax_percent: Decimal
    # The consumption tax applies only to high-end cosmetics (price per ml, g or piece).
    consumption_tax_high_end_only: bool = False
    # False where the GACC quarantine list bars direct-purchase parcels (bonded 1210 only).
    direct_purchase_allowed: bool = True


class PositiveList:
    def __init__(self, lines: Iterable[PositiveListLine], valid_from: date) -> None:
        self.lines = {line.code: line for line in lines}
        self.valid_from = valid_from

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> PositiveList:
        rows = list(rows)
        return cls(
            (
                PositiveListLine(
                    row["code"],
                    row["description"],
                    row["vat_percent"],
                    row["consumption_tax_percent"],
                    row["high_end_only"],
                    row["direct_purchase_allowed"],
                )
                for row in rows
            ),
            min(row["valid_from"] for row in rows),
        )

    def line(self, hs_code: str) -> PositiveListLine | None:
        """The positive-list line of an 8-10 digit Chinese tariff code; None if not listed."""
        return self.lines.get(hs_code[:8])
