"""Dangerous goods seen in e-commerce air consignments, matched by HS prefix or description.

Loaded from `dangerous-goods` rows (IATA Dangerous Goods Regulations, 67th edition, valid
1 January - 31 December 2026, which carry the ICAO Technical Instructions; the hub's
acceptance policy decides what is refused outright).

Lithium batteries are flagged, not refused: they fly under their packing instruction and
the hub's freighters take Cargo Aircraft Only shipments. Within a family (lithium ion,
lithium metal) the rows are tried in their `precedence` order and the first match wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LithiumBatteryClass:
    un_number: str
    label: str
    handling: str
    hs_prefixes: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ForbiddenGoods:
    rule_id: str
    label: str
    un_numbers: tuple[str, ...]
    hs_prefixes: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DangerousGoodsRules:
    # Per family, the classes in the order they are tried.
    lithium_classes: tuple[tuple[LithiumBatteryClass, ...], ...]
    forbidden_in_air: tuple[ForbiddenGoods, ...]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> DangerousGoodsRules:
        families: dict[str, list[tuple[int, LithiumBatteryClass]]] = {}
        forbidden = []
        for row in rows:
            if row["kind"] == "lithium":
                [un_number] = row["un_numbers"]
                battery = LithiumBatteryClass(
                    un_number,
                    row["label"],
                    row["handling"],
                    tuple(row["hs_prefixes"]),
                    tuple(row["keywords"]),
                )
                families.setdefault(row["family"], []).append((row["precedence"], battery))
            else:
                forbidden.append(
                    ForbiddenGoods(
                        row["rule_id"],
                        row["label"],
                        tuple(row["un_numbers"]),
                        tuple(row["hs_prefixes"]),
                        tuple(row["keywords"]),
                    )
                )
        return cls(
            tuple(
                tuple(battery for _, battery in sorted(classes, key=lambda pair: pair[0]))
                for classes in families.values()
            ),
            tuple(forbidden),
        )
