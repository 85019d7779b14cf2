"""Places of a member state outside the EU VAT area (or customs territory), and places
outside the EU treated as a member state, decided by country and postal code.

Sources (per row in the `vat-territories` file): Directive 2006/112/EC Art 6(1) (Mount
Athos, Canary Islands, the French territories of Art 349 TFEU, Åland: in the customs
territory, outside the VAT area) and Art 6(2) (Heligoland, Büsingen, Ceuta, Melilla,
Livigno, Campione d'Italia: outside both), Art 7(1) (Monaco treated as France); UCC
(Reg. (EU) No 952/2013) Art 4 (the customs territory).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Treatment(StrEnum):
    OUTSIDE_VAT_AREA = "outside-vat-area"  # EU customs territory, not the VAT area
    OUTSIDE_CUSTOMS_TERRITORY = "outside-customs-territory"  # neither: not an EU import
    VAT_AS = "vat-as"  # outside the EU, treated as `vat_country` (Monaco as France)


@dataclass(frozen=True, slots=True)
class Territory:
    country: str
    postal_prefix: str  # empty: the whole country
    name: str
    treatment: Treatment
    vat_country: str | None
    source: str


class VatTerritories:
    def __init__(self, territories: Iterable[Territory]) -> None:
        # Longest prefix first, so a more precise postal code wins.
        self.territories = tuple(
            sorted(territories, key=lambda territory: -len(territory.postal_prefix))
        )

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> VatTerritories:
        return cls(
            Territory(
                row["country"],
                row["postal_prefix"],
                row["territory"],
                Treatment(row["treatment"]),
                row["vat_country"],
                row["source"],
            )
            for row in rows
        )

    def place(self, country: str, postal_code: str | None) -> Territory | None:
        """The special territory an address is in, or None for the ordinary member state."""
        code = "".join(char for char in (postal_code or "") if char.isalnum()).upper()
        for territory in self.territories:
            if territory.country == country and code.startswith(territory.postal_prefix):
                return territory
        return None
