"""Prohibited and restricted goods, matched by HS prefix or by words of the description.

REJECT: the goods may not travel at all (weapons, narcotics, counterfeits, ivory).
HOLD: the goods may travel once a licence, certificate or check is produced, which the
engine cannot see (medicines, animal products, plants, suspected replicas).

Each entry (a row of the `restricted-goods` file) cites its legal basis. Keywords are
matched as whole normalised words; where a word is also used for lawful goods ("replica"
football shirts, "cannabis sativa" seed oil) the entry holds for a check rather than
rejecting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.customs.domain.model import Lane


class ScreeningAction(StrEnum):
    REJECT = "REJECT"
    HOLD = "HOLD"


@dataclass(frozen=True, slots=True)
class RestrictedGoods:
    rule_id: str
    label: str
    action: ScreeningAction
    hs_prefixes: tuple[str, ...]
    keywords: tuple[str, ...]
    lanes: frozenset[Lane]
    source: str


class RestrictedGoodsList(tuple[RestrictedGoods, ...]):
    """The entries in force, as loaded from `restricted-goods` rows."""

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> RestrictedGoodsList:
        return cls(
            RestrictedGoods(
                row["rule_id"],
                row["label"],
                ScreeningAction(row["action"]),
                tuple(row["hs_prefixes"]),
                tuple(row["keywords"]),
                frozenset(Lane(lane) for lane in row["lanes"]),
                row["source"],
            )
            for row in rows
        )
