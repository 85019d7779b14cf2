"""Dangerous goods for air transport: refuse what may not fly, flag lithium batteries.

Both lanes fly (Hangzhou-Liège freighters, onward EU air legs), so the same rules apply to
every consignment.
"""

from __future__ import annotations

from services.customs.domain import sources
from services.customs.domain.model import Consignment, Item
from services.customs.domain.rules.findings import Findings
from services.customs.domain.tables.dangerous_goods import (
    DangerousGoodsRules,
    LithiumBatteryClass,
)
from services.customs.domain.text import contains_phrase, words


def _matches(item: Item, hs_prefixes: tuple[str, ...], keywords: tuple[str, ...]) -> bool:
    description = words(item.description)
    return any(item.hs_code.startswith(prefix) for prefix in hs_prefixes) or any(
        contains_phrase(description, words(keyword)) for keyword in keywords
    )


def _lithium_class(
    item: Item, classes: tuple[LithiumBatteryClass, ...]
) -> LithiumBatteryClass | None:
    """The first class of the family, in precedence order, that the item matches."""
    for battery_class in classes:
        if _matches(item, battery_class.hs_prefixes, battery_class.keywords):
            return battery_class
    return None


def check_dangerous_goods(
    consignment: Consignment, rules: DangerousGoodsRules, findings: Findings
) -> tuple[str, ...]:
    """Record refusals and lithium battery flags; return the UN numbers on board, sorted."""
    un_numbers: set[str] = set()
    for item in consignment.items:
        for forbidden in rules.forbidden_in_air:
            if _matches(item, forbidden.hs_prefixes, forbidden.keywords):
                un_numbers.update(forbidden.un_numbers)
                findings.reject(
                    forbidden.rule_id,
                    f"{item.sku} ({item.description!r}): {forbidden.label} "
                    f"({', '.join(forbidden.un_numbers)}) "
                    "is not accepted in air e-commerce consignments",
                    sources.FORBIDDEN_IN_AIR_ECOMMERCE,
                )
        for classes in rules.lithium_classes:
            battery_class = _lithium_class(item, classes)
            if battery_class is None:
                continue
            un_numbers.add(battery_class.un_number)
            findings.fire(
                f"DG-{battery_class.un_number}",
                f"{item.sku} ({item.description!r}): {battery_class.un_number} "
                f"{battery_class.label}; {battery_class.handling}",
                sources.LITHIUM_BATTERIES,
            )
    return tuple(sorted(un_numbers))
