"""Denied parties: a small excerpt of the EU consolidated financial sanctions list.

Source: Annex I to Council Reg. (EU) No 269/2014 (asset freeze, Ukraine territorial
integrity regime), as carried in the EU consolidated financial sanctions list (FSF). Each
entry keeps the listing date of the Council act that added it; names and aliases are the
spellings used in the list plus the Cyrillic original. Excerpt taken for the engine and its
tests, list status as of the listing dates shown: production screening loads the full
current list (which also covers entities more than 50 % owned by a listed party) and
refreshes it daily.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

REGIME = "Council Reg. (EU) No 269/2014, Annex I"


@dataclass(frozen=True, slots=True)
class DeniedParty:
    entry_id: str
    names: tuple[str, ...]  # the listed name first, then aliases and other scripts
    listed_on: date
    regime: str = REGIME


DENIED_PARTIES: tuple[DeniedParty, ...] = (
    DeniedParty(
        "EU.RU.PUTIN",
        ("Vladimir Vladimirovich PUTIN", "Владимир Владимирович Путин"),
        date(2022, 2, 25),
    ),
    DeniedParty(
        "EU.RU.LAVROV",
        ("Sergey Viktorovich LAVROV", "Sergei Viktorovich Lavrov", "Сергей Викторович Лавров"),
        date(2022, 2, 25),
    ),
    DeniedParty(
        "EU.RU.USMANOV",
        (
            "Alisher Burhanovich USMANOV",
            "Alisher Burkhanovich Usmanov",
            "Алишер Бурханович Усманов",
        ),
        date(2022, 2, 28),
    ),
    DeniedParty(
        "EU.RU.ABRAMOVICH",
        (
            "Roman Arkadyevich ABRAMOVICH",
            "Roman Arkadievich Abramovich",
            "Роман Аркадьевич Абрамович",
        ),
        date(2022, 3, 15),
    ),
    DeniedParty(
        "EU.RU.IRA",
        ("Internet Research Agency", "Glavset", "Агентство интернет-исследований"),
        date(2022, 2, 23),
    ),
    DeniedParty(
        "EU.RU.SOGAZ",
        ("Gas Industry Insurance Company SOGAZ", "SOGAZ", "АО СОГАЗ"),
        date(2022, 2, 28),
    ),
)
