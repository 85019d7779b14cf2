"""What the hub does to a shipment, and the event that announces each step.

The consumer, the operators' API and the hub clock all change shipments through these
functions, so a step is announced the same way whoever takes it: receipt
(`ShipmentReceived`), booking (`ShipmentDispatched`), each later step (`ShipmentTracked`),
a discrepancy (`ShipmentException`), and the answer to a cancellation request. An order
that can never be paid is withdrawn without an event: nobody asked, and payments already
told everyone.

Goods never leave the hub for an order whose payment was not captured: a shipment is
received once cleared but booked only once paid. Locks are always taken in the same
order, parcel, then shipment, then the departure's build-up, so paths never deadlock.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import suppress
from datetime import datetime

from sqlalchemy import select

from services.fulfillment.domain.booking import book, travels_in_ulds
from services.fulfillment.domain.errors import (
    CancellationRefused,
    NoEligibleDeparture,
    NoSuitableUld,
)
from services.fulfillment.domain.schedule import HUB, Departure, choose_departure
from services.fulfillment.domain.shipment import (
    TRACKED_STATUSES,
    ScanCode,
    Shipment,
    TrackingStatus,
)
from services.fulfillment.domain.uld import ShipmentLoad, UnitChoice, choose_unit
from services.fulfillment.repository import ShipmentRepository, UnitLoadRepository
from services.fulfillment.tables import (
    Parcel,
    house_awb_serials,
    master_awb_serials,
    next_serial,
)
from shared.events import (
    FulfilmentCancellationRefused,
    FulfilmentCancelled,
    ShipmentDispatched,
    ShipmentException,
    ShipmentReceived,
    ShipmentTracked,
)
from shared.messaging.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# Shipment ids derive from the order id: a redelivered event can never create a second one.
SHIPMENT_ID_NAMESPACE = uuid.UUID("0b5f7a3e-92d4-4c1b-8f0e-3d7a5c9e2f61")


async def advance(parcel: Parcel, uow: UnitOfWork, now: datetime) -> None:
    """Take the parcel's shipment as far as the facts allow; `parcel` is locked."""
    if parcel.cancelled_at is not None or parcel.announced_at is None or parcel.cleared_at is None:
        return
    shipments = ShipmentRepository(uow.session)
    shipment = await shipments.for_order(parcel.order_id)
    if shipment is None:
        shipment = Shipment.create(
            uuid.uuid5(SHIPMENT_ID_NAMESPACE, str(parcel.order_id)),
            parcel.order_id,
            parcel.destination_country or "",
            now,
        )
        shipment.apply_scan(ScanCode.RCS, now)
        shipments.add(shipment)
        await uow.emit(
            ShipmentReceived(order_id=parcel.order_id, shipment_id=shipment.shipment_id, hub=HUB)
        )
    if parcel.paid_at is not None and shipment.status is TrackingStatus.RECEIVED_AT_HUB:
        await _book(uow, shipments, shipment, parcel, now)


async def record_scan(
    uow: UnitOfWork,
    shipments: ShipmentRepository,
    shipment: Shipment,
    scan_code: str,
    at: datetime,
    *,
    reason: str | None = None,
    location: str | None = None,
    recorded_by: str | None = None,
) -> None:
    """Apply a scan (refused by the domain when it makes no sense) and announce it."""
    before = shipment.status
    shipment.apply_scan(scan_code, at, reason, location=location, recorded_by=recorded_by)
    shipments.save(shipment)
    await _announce(uow, shipment, before)


async def answer_cancellation(uow: UnitOfWork, parcel: Parcel, reason: str, now: datetime) -> None:
    """Cancel what is still at the hub, or refuse; a repeated request gets the same answer."""
    shipments = ShipmentRepository(uow.session)
    shipment = await shipments.for_order(parcel.order_id)
    if parcel.cancelled_at is None:
        try:
            _cancel(shipments, shipment, parcel, reason, now)
        except CancellationRefused as refusal:
            assert shipment is not None, "only a shipment can be too late to cancel"
            await uow.emit(
                FulfilmentCancellationRefused(
                    order_id=parcel.order_id, shipment_id=shipment.shipment_id, reason=str(refusal)
                )
            )
            return
    await uow.emit(
        FulfilmentCancelled(
            order_id=parcel.order_id,
            shipment_id=None if shipment is None else shipment.shipment_id,
            reason=parcel.cancellation_reason or reason,
        )
    )


async def withdraw(uow: UnitOfWork, parcel: Parcel, reason: str, now: datetime) -> None:
    """The order will never be paid: what waits at the hub is cancelled (its goods go back),
    and nothing is created or booked for it afterwards. Nobody asked, so nobody is answered."""
    if parcel.cancelled_at is not None:
        return
    shipments = ShipmentRepository(uow.session)
    # A shipment in exception is already on its way back to the seller.
    with suppress(CancellationRefused):
        _cancel(shipments, await shipments.for_order(parcel.order_id), parcel, reason, now)


def _cancel(
    shipments: ShipmentRepository,
    shipment: Shipment | None,
    parcel: Parcel,
    reason: str,
    now: datetime,
) -> None:
    if shipment is not None:
        shipment.cancel(reason, now)
        shipments.save(shipment)
    parcel.cancelled_at = now
    parcel.cancellation_reason = reason


async def _book(
    uow: UnitOfWork,
    shipments: ShipmentRepository,
    shipment: Shipment,
    parcel: Parcel,
    now: datetime,
) -> None:
    units = UnitLoadRepository(uow.session)
    try:
        departure = choose_departure(shipment.destination, now, parcel.dangerous_goods)
        unit = await _unit_for(units, departure, shipment, parcel)
    except (NoEligibleDeparture, NoSuitableUld) as refusal:
        reason = str(refusal)
        if shipment.hold_reason != reason:  # the clock's retries that change nothing stay quiet
            log.warning(
                "shipment held at the hub",
                extra={"order_id": str(parcel.order_id), "reason": reason},
            )
        shipment.hold(reason, now)
        shipments.save(shipment)
        return
    booking = book(
        departure,
        house_serial=await uow.session.scalar(select(next_serial(house_awb_serials))),
        master_serial=await uow.session.scalar(select(next_serial(master_awb_serials))),
    )
    shipment.book(booking, now)
    shipments.save(shipment)
    await uow.emit(
        ShipmentDispatched(
            order_id=parcel.order_id,
            shipment_id=shipment.shipment_id,
            house_awb=booking.house_awb.number,
            flight_number=departure.leg.leg_id,
            destination=departure.leg.destination,
            departs_at=departure.departs_at,
        )
    )
    if unit is None:
        return
    uld_id = unit.uld_id or await units.open(
        unit.uld_type, departure, bool(parcel.dangerous_goods), now
    )
    shipment.consolidate(uld_id, now)
    shipments.save(shipment)
    await _announce(uow, shipment, TrackingStatus.BOOKED)


async def _unit_for(
    units: UnitLoadRepository, departure: Departure, shipment: Shipment, parcel: Parcel
) -> UnitChoice | None:
    """The ULD the shipment will be built up in, or None when its leg carries it loose."""
    if not travels_in_ulds(departure):
        return None
    assert parcel.weight_kg is not None, "an announced parcel has its weight"
    load = ShipmentLoad(
        str(shipment.shipment_id),
        departure.leg.destination,
        parcel.weight_kg,
        frozenset(parcel.dangerous_goods),
    )
    await units.lock_departure(departure)
    return choose_unit(load, await units.building(departure))


async def _announce(uow: UnitOfWork, shipment: Shipment, before: TrackingStatus) -> None:
    """Announce the step just taken; a scan that repeats the current status says nothing."""
    if shipment.status is before:
        return
    latest = shipment.history[-1]
    if shipment.status is TrackingStatus.EXCEPTION:
        await uow.emit(
            ShipmentException(
                order_id=shipment.order_id,
                shipment_id=shipment.shipment_id,
                reason=shipment.exception_reason or "discrepancy reported",
            )
        )
    elif shipment.status in TRACKED_STATUSES:
        await uow.emit(
            ShipmentTracked(
                order_id=shipment.order_id,
                shipment_id=shipment.shipment_id,
                status=latest.status,
                scan_code=latest.scan_code,
                location=latest.location,
                reason=latest.reason,
                at=latest.at,
            )
        )
