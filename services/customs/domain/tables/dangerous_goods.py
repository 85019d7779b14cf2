"""Dangerous goods seen in e-commerce air consignments, matched by HS prefix or description.

Source: IATA Dangerous Goods Regulations, 67th edition (valid 1 January - 31 December 2026),
which carry the ICAO Technical Instructions; the hub's acceptance policy for e-commerce
consignments decides what is refused outright.

Lithium batteries are flagged, not refused: they fly under their packing instruction and
the hub's freighters take Cargo Aircraft Only shipments. A battery inside or packed with a
device (UN3481/UN3091) takes precedence over the same words describing a battery alone.
"""

from __future__ import annotations

from dataclasses import dataclass


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


LITHIUM_ION_IN_EQUIPMENT = LithiumBatteryClass(
    "UN3481",
    "lithium ion batteries contained in or packed with equipment",
    "PI 966/967",
    ("851713", "851714", "851762", "847130", "950450"),
    (
        "with lithium ion battery",
        "contains lithium ion battery",
        "lithium ion battery included",
        "packed with lithium ion battery",
    ),
)
LITHIUM_ION_ALONE = LithiumBatteryClass(
    "UN3480",
    "lithium ion batteries (alone, power banks)",
    "PI 965, Cargo Aircraft Only, state of charge at most 30 %",
    ("850760",),
    ("power bank", "powerbank", "lithium ion battery", "li ion battery", "lithium polymer battery"),
)
LITHIUM_METAL_IN_EQUIPMENT = LithiumBatteryClass(
    "UN3091",
    "lithium metal batteries contained in or packed with equipment",
    "PI 969/970",
    (),
    (
        "with lithium metal battery",
        "contains lithium metal battery",
        "lithium metal battery included",
    ),
)
LITHIUM_METAL_ALONE = LithiumBatteryClass(
    "UN3090",
    "lithium metal batteries (alone, coin cells)",
    "PI 968, Cargo Aircraft Only",
    ("850650",),
    ("lithium metal battery", "lithium coin cell", "lithium button cell", "cr2032"),
)

# In each pair the equipment class is tried first. Keywords are multi-word phrases on
# purpose: "lighter" alone would refuse a "lighter weight jacket".
LITHIUM_CLASSES: tuple[tuple[LithiumBatteryClass, LithiumBatteryClass], ...] = (
    (LITHIUM_ION_IN_EQUIPMENT, LITHIUM_ION_ALONE),
    (LITHIUM_METAL_IN_EQUIPMENT, LITHIUM_METAL_ALONE),
)

FORBIDDEN_IN_AIR: tuple[ForbiddenGoods, ...] = (
    ForbiddenGoods(
        "DG-FIREWORKS",
        "fireworks (explosives, class 1)",
        ("UN0336", "UN0337"),
        ("3604",),
        ("fireworks", "firecracker", "firecrackers", "sparklers"),
    ),
    ForbiddenGoods(
        "DG-MATCHES",
        "matches (flammable solid)",
        ("UN1944", "UN1945"),
        ("3605",),
        ("safety matches", "strike anywhere matches", "matchbox"),
    ),
    ForbiddenGoods(
        "DG-LIGHTERS",
        "lighters and lighter refills containing fuel",
        ("UN1057",),
        ("9613",),
        (
            "cigarette lighter",
            "gas lighter",
            "pocket lighter",
            "torch lighter",
            "lighter fluid",
            "butane refill",
        ),
    ),
    ForbiddenGoods(
        "DG-FLAMMABLE-GAS",
        "flammable gas cylinders and cartridges",
        ("UN2037",),
        ("2711",),
        ("gas canister", "camping gas", "butane gas"),
    ),
)
