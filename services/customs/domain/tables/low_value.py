"""EU low-value consignments: the EUR 150 threshold, the duty relief, its exclusions and the
temporary EUR 3 flat duty, each with the dates it applies (loaded from `low-value` rows).

Sources (in the file, per row): Council Reg. (EC) No 1186/2009 Arts 23-24; Council Reg.
(EU) 2026/382 of 11 February 2026 (relief abolished from 1 July 2028, EUR 3 per distinct
tariff subheading for IOSS consignments from 1 July 2026); Delegated Reg. (EU) 2026/1022;
Directive 2006/112/EC Art 143(1)(ca) and Art 369l. "Until 1 July 2028" is read as: 30 June
2028 is the last day of the flat duty and of the relief.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class FlatDuty:
    amount_eur: Decimal
    valid_from: date
    valid_to: date  # last day it applies

    def applies_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


@dataclass(frozen=True, slots=True)
class LowValueRules:
    threshold_eur: Decimal
    relief_last_day: date
    flat_duty_per_subheading: FlatDuty
    # HS prefixes excluded from the relief (Art 24 Reg. 1186/2009), with the reason shown.
    relief_exclusions: dict[str, str]
    # Excise goods: no IOSS, no H7, excise duty assessed by the member state of destination.
    excise_prefixes: dict[str, str]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> LowValueRules:
        by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            by_kind.setdefault(row["kind"], []).append(row)
        [threshold], [relief], [flat] = (
            by_kind["threshold"],
            by_kind["relief"],
            by_kind["flat-duty"],
        )
        return cls(
            threshold_eur=threshold["amount_eur"],
            relief_last_day=relief["valid_to"] or date.max,
            flat_duty_per_subheading=FlatDuty(
                flat["amount_eur"], flat["valid_from"], flat["valid_to"]
            ),
            relief_exclusions={
                r["hs_prefix"]: r["label"] for r in by_kind.get("relief-exclusion", ())
            },
            excise_prefixes={r["hs_prefix"]: r["label"] for r in by_kind.get("excise", ())},
        )

    def relief_exclusion(self, hs_code: str) -> str | None:
        """Why goods with this code cannot have the EUR 150 relief, or None if they can."""
        return _matching(hs_code, self.relief_exclusions)

    def excise_category(self, hs_code: str) -> str | None:
        return _matching(hs_code, self.excise_prefixes)

    def relief_applies_on(self, day: date) -> bool:
        return day <= self.relief_last_day


def _matching(hs_code: str, table: dict[str, str]) -> str | None:
    for prefix, label in table.items():
        if hs_code.startswith(prefix):
            return label
    return None
