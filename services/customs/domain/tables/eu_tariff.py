"""Third-country (conventional, erga omnes) import duty rates by CN code, with their dates.

Loaded from a tariff file (CN code, description, duty %, additional component, valid from,
valid to). A key is an 8-digit CN code or a 6-digit HS subheading whose CN subdivisions all
share one rate. Lines with an agricultural component (EA, AD S/Z) or a specific duty keep
the ad valorem part in `percent` and describe the rest in `additional_component`: the
engine holds them for a full assessment instead of under-charging. A code absent from the
table is held for classification when duty is due, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class TariffLine:
    code: str
    percent: Decimal | None
    description: str
    additional_component: str | None = None
    valid_from: date = date.min
    valid_to: date = date.max

    @property
    def fraction(self) -> Decimal | None:
        return None if self.percent is None else self.percent / 100


class Tariff:
    def __init__(self, lines: Iterable[TariffLine]) -> None:
        self._lines: dict[str, list[TariffLine]] = {}
        for line in lines:
            self._lines.setdefault(line.code, []).append(line)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Tariff:
        return cls(
            TariffLine(
                row["cn_code"],
                row["duty_percent"],
                row["description"],
                row["additional_component"],
                row["valid_from"],
                row["valid_to"],
            )
            for row in rows
        )

    @property
    def codes(self) -> list[str]:
        return sorted(self._lines)

    def line(self, hs_code: str, day: date) -> TariffLine | None:
        """The line for a 6-10 digit code on `day`: its 8-digit CN code first, then its
        6-digit subheading."""
        for key in (hs_code[:8], hs_code[:6]):
            for line in self._lines.get(key, ()):
                if line.valid_from <= day <= line.valid_to:
                    return line
        return None
