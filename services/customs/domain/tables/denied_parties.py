"""Denied parties: entries of the EU consolidated financial sanctions list, as loaded.

The shipped file is a six-entry excerpt of Annex I to Council Reg. (EU) No 269/2014, names
and aliases as spelled in the list plus the Cyrillic original, each with its listing date.
Production loads the full current list (which also covers entities more than 50 % owned by
a listed party) and refreshes it daily.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any


@dataclass(frozen=True, slots=True)
class DeniedParty:
    entry_id: str
    names: tuple[str, ...]  # the listed name first, then aliases and other scripts
    listed_on: date
    regime: str


class DeniedPartyList(tuple[DeniedParty, ...]):
    @cached_property
    def names(self) -> list[tuple[DeniedParty, str]]:
        """Every listed name and alias with its entry (screening reads them for every party
        of every consignment; the list does not change once loaded)."""
        return [(party, name) for party in self for name in party.names]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> DeniedPartyList:
        return cls(
            DeniedParty(row["entry_id"], tuple(row["names"]), row["listed_on"], row["regime"])
            for row in rows
            if row["delisted_on"] is None
        )
