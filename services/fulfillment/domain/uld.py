"""Unit load devices (ULDs) and consolidating shipments into them.

A ULD id is the 3-letter type code, a 4 or 5 digit serial and the 2-character
owner code (usually the airline designator): `AKE 12345 DL`.

A ULD type's maximum gross weight includes its own tare, so what it can carry
is the difference. Figures and where they come from:

- AKE, the LD3 lower-deck container: 1,588 kg maximum gross (Union Cargo,
  "Dimensions and specifications of air containers and pallets", 2024); tare
  70 to 90 kg depending on build (Wikipédia, "LD3"), we count 90.
- DKE: the same container, not certified for dangerous goods (Wikipédia, "LD3").
- PMC, the 96 x 125 in pallet: 6,804 kg maximum permissible gross (Supath,
  "PMC 10 ft pallet"); a tare of 120 kg with its net is our assumption, to be
  replaced by the owner's figure.

Consolidation groups shipments by destination, keeps dangerous goods apart
from general cargo in their own loads (flagged with their UN numbers for the
captain's notification), and packs each group first-fit decreasing into the
largest type offered, then swaps every load for the smallest offered type that
still carries it (an uncertified one when sizes tie, so that certified units
stay free for dangerous goods). Only weight is planned; volume and contour are
not.

The hub books shipments one at a time, as their payments are captured, so it
builds up each departure's units as it goes (`choose_unit`): a shipment joins
the first unit being built up for its departure that carries its kind of cargo
and still has the weight room; otherwise it opens a new unit of the type
`plan_consolidation` would give it alone. New units come from the hub's own
pool, numbered from a sequence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from services.fulfillment.domain.dangerous_goods import un_numbers
from services.fulfillment.domain.errors import InvalidUldId, NoSuitableUld, ShipmentTooHeavy

_ULD_ID = re.compile(r"([A-Z]{3}) ?([0-9]{4,5}) ?([A-Z0-9]{2})")


@dataclass(frozen=True, slots=True)
class UldType:
    code: str
    description: str
    max_gross_weight_kg: Decimal
    tare_weight_kg: Decimal
    dangerous_goods_certified: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z]{3}", self.code):
            raise InvalidUldId(f"a ULD type code is 3 capital letters, got {self.code!r}")
        if not 0 <= self.tare_weight_kg < self.max_gross_weight_kg:
            raise ValueError(f"{self.code}: tare must be below the maximum gross weight")

    @property
    def payload_kg(self) -> Decimal:
        return self.max_gross_weight_kg - self.tare_weight_kg


AKE = UldType("AKE", "LD3 lower-deck container", Decimal("1588"), Decimal("90"))
DKE = UldType(
    "DKE",
    "LD3 container not certified for dangerous goods",
    Decimal("1588"),
    Decimal("90"),
    dangerous_goods_certified=False,
)
PMC = UldType("PMC", "96 x 125 in pallet with net", Decimal("6804"), Decimal("120"))
ULD_TYPES = {uld_type.code: uld_type for uld_type in (AKE, DKE, PMC)}

# Owner code of the hub's own ULD pool in this demo; an illustrative code, where a real pool
# carries its owner's IATA designator.
HUB_ULD_OWNER = "EH"


@dataclass(frozen=True, slots=True)
class UldId:
    type_code: str
    serial: str
    owner: str

    def __post_init__(self) -> None:
        if _ULD_ID.fullmatch(f"{self.type_code} {self.serial} {self.owner}") is None:
            raise InvalidUldId(
                f"{self.type_code!r} {self.serial!r} {self.owner!r} is not a ULD id "
                "(3 letters, 4 or 5 digits, 2 letters or digits)"
            )

    @classmethod
    def parse(cls, text: str) -> UldId:
        """Accepts `AKE 12345 DL` or `AKE12345DL`."""
        match = _ULD_ID.fullmatch(text.strip().upper())
        if match is None:
            raise InvalidUldId(f"{text!r} is not a ULD id such as 'AKE 12345 DL'")
        return cls(*match.groups())

    def __str__(self) -> str:
        return f"{self.type_code} {self.serial} {self.owner}"


def hub_uld_id(uld_type: UldType, serial: int) -> UldId:
    """`serial` is the next number of the hub's ULD sequence; ULD serials have 5 digits."""
    return UldId(uld_type.code, f"{serial % 10**5:05d}", HUB_ULD_OWNER)


@dataclass(frozen=True, slots=True)
class ShipmentLoad:
    """A shipment as the load planner sees it."""

    shipment_id: str
    destination: str
    weight_kg: Decimal
    dangerous_goods: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.weight_kg, Decimal) or not self.weight_kg > 0:
            raise ValueError(f"shipment {self.shipment_id}: weight must be a positive Decimal")
        object.__setattr__(self, "dangerous_goods", un_numbers(self.dangerous_goods))


@dataclass(frozen=True, slots=True)
class UnitLoad:
    uld_type: UldType
    destination: str
    shipments: tuple[ShipmentLoad, ...]

    @property
    def net_weight_kg(self) -> Decimal:
        return sum((shipment.weight_kg for shipment in self.shipments), Decimal(0))

    @property
    def gross_weight_kg(self) -> Decimal:
        return self.uld_type.tare_weight_kg + self.net_weight_kg

    @property
    def dangerous_goods(self) -> frozenset[str]:
        """UN numbers aboard, to declare on the notification to the captain."""
        return frozenset().union(*(shipment.dangerous_goods for shipment in self.shipments))


@dataclass
class _OpenLoad:
    payload_kg: Decimal
    shipments: list[ShipmentLoad] = field(default_factory=list)
    net_weight_kg: Decimal = Decimal(0)

    def fits(self, shipment: ShipmentLoad) -> bool:
        return self.net_weight_kg + shipment.weight_kg <= self.payload_kg

    def add(self, shipment: ShipmentLoad) -> None:
        self.shipments.append(shipment)
        self.net_weight_kg += shipment.weight_kg


def plan_consolidation(
    shipments: Iterable[ShipmentLoad], uld_types: Sequence[UldType] = (PMC, AKE)
) -> tuple[UnitLoad, ...]:
    """Loads ordered by destination, general cargo before dangerous goods."""
    if not uld_types:
        raise ValueError("at least one ULD type is needed")
    pending = list(shipments)
    ids = [shipment.shipment_id for shipment in pending]
    if len(set(ids)) != len(ids):
        raise ValueError("each shipment can be planned only once")

    def group_key(shipment: ShipmentLoad) -> tuple[str, bool]:
        return shipment.destination, bool(shipment.dangerous_goods)

    loads: list[UnitLoad] = []
    for (destination, dangerous), group in groupby(sorted(pending, key=group_key), key=group_key):
        offered = [t for t in uld_types if t.dangerous_goods_certified or not dangerous]
        loads.extend(_pack(list(group), destination, offered, dangerous))
    return tuple(loads)


def _pack(
    group: list[ShipmentLoad], destination: str, offered: list[UldType], dangerous: bool
) -> list[UnitLoad]:
    if not offered:
        raise NoSuitableUld(
            f"dangerous goods for {destination} need a ULD certified for them; none was offered"
        )
    largest = max(offered, key=lambda uld_type: uld_type.payload_kg)
    for shipment in group:
        if shipment.weight_kg > largest.payload_kg:
            raise ShipmentTooHeavy(
                f"shipment {shipment.shipment_id} weighs {shipment.weight_kg} kg; the largest "
                f"ULD on offer ({largest.code}) carries {largest.payload_kg} kg"
                + (" of dangerous goods" if dangerous else "")
            )
    heaviest_first = sorted(group, key=lambda s: (-s.weight_kg, s.shipment_id))
    open_loads: list[_OpenLoad] = []
    for shipment in heaviest_first:
        target = next((load for load in open_loads if load.fits(shipment)), None)
        if target is None:
            target = _OpenLoad(largest.payload_kg)
            open_loads.append(target)
        target.add(shipment)
    return [
        UnitLoad(
            _smallest_carrying(offered, load.net_weight_kg), destination, tuple(load.shipments)
        )
        for load in open_loads
    ]


def _smallest_carrying(offered: list[UldType], net_weight_kg: Decimal) -> UldType:
    carrying = [t for t in offered if t.payload_kg >= net_weight_kg]
    # Between equal sizes prefer the uncertified one, keeping certified units for dangerous goods.
    return min(
        carrying,
        key=lambda t: (t.max_gross_weight_kg, t.dangerous_goods_certified, t.code),
    )


@dataclass(frozen=True, slots=True)
class BuildingUnit:
    """A ULD being built up for a departure, with the net weight it already carries."""

    uld_id: UldId
    uld_type: UldType
    destination: str
    dangerous_goods: bool
    net_weight_kg: Decimal

    def takes(self, shipment: ShipmentLoad) -> bool:
        return (
            self.destination == shipment.destination
            and self.dangerous_goods == bool(shipment.dangerous_goods)
            and self.net_weight_kg + shipment.weight_kg <= self.uld_type.payload_kg
        )


@dataclass(frozen=True, slots=True)
class UnitChoice:
    """Where a shipment is built up: into `uld_id`, or into a new unit of `uld_type`."""

    uld_type: UldType
    uld_id: UldId | None


def choose_unit(
    shipment: ShipmentLoad,
    building: Iterable[BuildingUnit],
    uld_types: Sequence[UldType] = (PMC, AKE),
) -> UnitChoice:
    """The first unit being built up that takes the shipment, else a new unit for it.

    Raises `NoSuitableUld` (or `ShipmentTooHeavy`) when no type on offer can carry it.
    """
    for unit in building:
        if unit.takes(shipment):
            return UnitChoice(unit.uld_type, unit.uld_id)
    (alone,) = plan_consolidation([shipment], uld_types)
    return UnitChoice(alone.uld_type, None)
