"""EU low-value consignments: the EUR 150 threshold, the duty relief, its exclusions and the
temporary EUR 3 flat duty, each with the dates it applies.

Sources:
- Council Reg. (EC) No 1186/2009 Art 23 (relief up to EUR 150 intrinsic value) and Art 24
  (no relief for alcoholic products, perfumes and toilet waters, tobacco and tobacco products).
- Council Reg. (EU) 2026/382 of 11 February 2026 (OJ L, 18.2.2026): the threshold-based
  relief is abolished once the permanent regime applies (1 July 2028); from 1 July 2026 until
  then, goods in consignments not exceeding EUR 150 whose import is VAT-exempt under IOSS
  (Directive 2006/112/EC Art 143(1)(ca)), or sent by post, pay EUR 3 per distinct tariff
  subheading (Council press release of 11 February 2026: one silk and two wool blouses are two
  subheadings, EUR 6). Delegated Reg. (EU) 2026/1022 applies it from 1 July 2026.
- Directive 2006/112/EC Art 143(1)(ca) and Art 369l: IOSS covers the same EUR 150 and
  excludes excise goods.

"Until 1 July 2028" is read as: 30 June 2028 is the last day of the flat duty and of the
relief; from 1 July 2028 the normal tariff applies to every consignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

THRESHOLD_EUR = Decimal("150")

RELIEF_LAST_DAY = date(2028, 6, 30)


@dataclass(frozen=True, slots=True)
class FlatDuty:
    amount_eur: Decimal
    valid_from: date
    valid_to: date  # last day it applies

    def applies_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


FLAT_DUTY_PER_SUBHEADING = FlatDuty(Decimal("3"), date(2026, 7, 1), date(2028, 6, 30))

# HS prefixes excluded from the relief (Art 24 Reg. 1186/2009), with the reason shown to users.
RELIEF_EXCLUSIONS: dict[str, str] = {
    "2203": "alcoholic products (beer)",
    "2204": "alcoholic products (wine)",
    "2205": "alcoholic products (vermouth)",
    "2206": "alcoholic products (cider, mead)",
    "2207": "alcoholic products (ethyl alcohol)",
    "2208": "alcoholic products (spirits)",
    "24": "tobacco and tobacco products",
    "3303": "perfumes and toilet waters",
}

# Excise goods: no IOSS, no H7, excise duty assessed by the member state of destination.
EXCISE_PREFIXES: dict[str, str] = {
    "2203": "beer",
    "2204": "wine",
    "2205": "vermouth",
    "2206": "other fermented beverages",
    "2207": "ethyl alcohol",
    "2208": "spirits",
    "24": "tobacco",
}


def _matching(hs_code: str, table: dict[str, str]) -> str | None:
    for prefix, label in table.items():
        if hs_code.startswith(prefix):
            return label
    return None


def relief_exclusion(hs_code: str) -> str | None:
    """Why goods with this code cannot have the EUR 150 relief, or None if they can."""
    return _matching(hs_code, RELIEF_EXCLUSIONS)


def excise_category(hs_code: str) -> str | None:
    return _matching(hs_code, EXCISE_PREFIXES)


def relief_applies_on(day: date) -> bool:
    return day <= RELIEF_LAST_DAY
