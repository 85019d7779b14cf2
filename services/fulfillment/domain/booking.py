"""Air waybills for a booked shipment: a house AWB of the hub's own, and the master AWB
of the carrier's consolidation when the leg flies."""

from __future__ import annotations

from dataclasses import dataclass

from services.fulfillment.domain.awb import HouseAirWaybill, MasterAirWaybill, make_awb
from services.fulfillment.domain.schedule import Departure, TransportMode

# The hub books its own flown legs under one carrier prefix; road and rail legs travel
# under a CMR / CIM consignment note and have no master air waybill.
HUB_CARRIER_PREFIX = "176"
FLOWN_MODES = frozenset({TransportMode.FREIGHTER, TransportMode.PASSENGER_BELLY})
# Road feeder services are flights by truck: they carry air cargo built up in ULDs, ready to
# be transferred. The rail leg loads its own containers, so its shipments travel loose.
BUILT_UP_MODES = FLOWN_MODES | {TransportMode.ROAD}


@dataclass(frozen=True, slots=True)
class Booking:
    departure: Departure
    house_awb: HouseAirWaybill
    master_awb: MasterAirWaybill | None


def book(departure: Departure, house_serial: int, master_serial: int) -> Booking:
    """`house_serial` and `master_serial` are the next numbers of the hub's own sequences."""
    house = HouseAirWaybill(f"LGG{house_serial % 10**9:09d}")
    if departure.leg.mode not in FLOWN_MODES:
        return Booking(departure, house, None)
    master = MasterAirWaybill(make_awb(HUB_CARRIER_PREFIX, f"{master_serial % 10**7:07d}"))
    return Booking(departure, house.consolidated_under(master), master)


def travels_in_ulds(departure: Departure) -> bool:
    return departure.leg.mode in BUILT_UP_MODES
