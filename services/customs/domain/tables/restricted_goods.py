"""Prohibited and restricted goods, matched by HS prefix or by words of the description.

REJECT: the goods may not travel at all (weapons, narcotics, counterfeits, ivory).
HOLD: the goods may travel once a licence, certificate or check is produced, which the
engine cannot see (medicines, animal products, plants, suspected replicas).

Each entry cites its legal basis. Keywords are matched as whole normalised words; where a
word is also used for lawful goods ("replica" football shirts, "cannabis sativa" seed oil)
the entry holds for a check rather than rejecting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.customs.domain import sources
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


_BOTH = frozenset({Lane.EU_IMPORT, Lane.CN_CBEC_9610})
_EU = frozenset({Lane.EU_IMPORT})

RESTRICTED_GOODS: tuple[RestrictedGoods, ...] = (
    RestrictedGoods(
        "PR-WEAPONS",
        "arms and ammunition",
        ScreeningAction.REJECT,
        ("93",),
        ("taser", "stun gun", "pepper spray", "knuckle duster", "brass knuckles"),
        _BOTH,
        sources.WEAPONS,
    ),
    RestrictedGoods(
        "PR-NARCOTICS",
        "narcotic drugs",
        ScreeningAction.REJECT,
        (),
        ("cocaine", "heroin", "methamphetamine", "fentanyl", "marijuana"),
        _BOTH,
        sources.NARCOTICS,
    ),
    RestrictedGoods(
        "PR-CANNABIS",
        "cannabis products (lawful only below national THC limits)",
        ScreeningAction.HOLD,
        (),
        ("cannabis", "thc", "cbd"),
        _BOTH,
        sources.NARCOTICS,
    ),
    RestrictedGoods(
        "PR-COUNTERFEIT",
        "counterfeit goods",
        ScreeningAction.REJECT,
        (),
        ("counterfeit", "knockoff", "knock off"),
        _BOTH,
        sources.IPR_ENFORCEMENT,
    ),
    RestrictedGoods(
        "PR-REPLICA",
        "suspected replica of a protected brand",
        ScreeningAction.HOLD,
        (),
        ("replica",),
        _BOTH,
        sources.IPR_ENFORCEMENT,
    ),
    RestrictedGoods(
        "PR-IVORY",
        "ivory (CITES Appendix I/II specimens)",
        ScreeningAction.REJECT,
        ("050710",),
        # Not "ivory" alone: it is also a colour ("ivory silk blouse").
        ("elephant ivory", "carved ivory", "ivory carving", "raw ivory"),
        _BOTH,
        sources.CITES,
    ),
    RestrictedGoods(
        "PR-MEDICINES",
        "medicinal products",
        ScreeningAction.HOLD,
        ("3003", "3004"),
        ("prescription drug", "prescription medicine"),
        _EU,
        sources.MEDICINES,
    ),
    RestrictedGoods(
        "PR-ANIMAL-PRODUCTS",
        "products of animal origin (border control post check)",
        ScreeningAction.HOLD,
        (
            "02",
            "0401",
            "0402",
            "0403",
            "0404",
            "0405",
            "0406",
            "0407",
            "0408",
            "0409",
            "1601",
            "1602",
        ),
        (),
        _EU,
        sources.ANIMAL_PRODUCTS,
    ),
    RestrictedGoods(
        "PR-PLANTS",
        "plants and seeds for sowing (phytosanitary certificate)",
        ScreeningAction.HOLD,
        ("06", "1209"),
        (),
        _EU,
        sources.PLANT_HEALTH,
    ),
)
