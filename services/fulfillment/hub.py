"""What the hub does to a shipment, and the event that announces each step.

The consumer, the operators' API and the hub clock all change shipments through these
functions, so a step is announced the same way whoever takes it: receipt
(`ShipmentReceived`), booking (`ShipmentDispatched`), each later step (`ShipmentTracked`),
a discrepancy (`ShipmentException`), and the answer to a cancellation request. An order
that can never be paid is withdrawn without an event: nobody asked, and payments already
told everyone.

Goods never leave the hub for an order whose payment was not captured: a shipment is
received once cleared but booked only once paid.

Each function works on rows its caller's transaction already holds locked
(`ShipmentRepository`: the consumer's prefetch, the hub clock's or the API's own reads):
the domain decides in memory and the flush at commit writes the result. The SQL left is
what only the database can give: air waybill serials from their sequences, and the
build-up lock with the units being built up, taken once per transaction
(`UnitLoadRepository`).
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import datetime

from services.fulfillment.domain.booking import book, travels_in_ulds
from services.fulfillment.domain.errors import (
    CancellationRefused,
    NoEligibleDeparture,
    NoSuitableUld,
)
from services.fulfillment.domain.schedule import HUB, Departure, choose_departure
from services.fulfillment.domain.shipment import (
    LEFT_HUB_STATUSES,
    TRACKED_STATUSES,
    ScanCode,
    Shipment,
    TrackingStatus,
)
from services.fulfillment.domain.uld import ShipmentLoad, UnitChoice, choose_unit
from services.fulfillment.repository import (
    ShipmentRepository,
    UnitLoadRepository,
    shipment_id_for,
)
from services.fulfillment.tables import Parcel
from shared.events import (
    FulfilmentCancellationRefused,
    FulfilmentCancelled,
    ShipmentDispatched,
    ShipmentException,
    ShipmentReceived,
    ShipmentTracked,
)
from shared.messaging.unit_of_work import UnitOfWork
from shared.telemetry import continued_trace, tracer

log = logging.getLogger(__name__)
TRACER = tracer(__name__)


async def advance(uow: UnitOfWork, parcel: Parcel, now: datetime) -> None:
    """Take the parcel's shipment as far as the facts allow."""
    if parcel.cancelled_at is not None or parcel.announced_at is None or parcel.cleared_at is None:
        return
    shipments = ShipmentRepository.of(uow.session)
    shipment = shipments.for_order(parcel.order_id)
    if shipment is None:
        shipment = Shipment.create(
            shipment_id_for(parcel.order_id),
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
    shipment: Shipment,
    scan_code: str,
    at: datetime,
    *,
    reason: str | None = None,
    location: str | None = None,
    recorded_by: str | None = None,
) -> None:
    """Apply a scan (refused by the domain when it makes no sense) and announce it, in the
    order's trace (`continued_trace`: the hub clock's scans and the operators' alike)."""
    shipments = ShipmentRepository.of(uow.session)
    with continued_trace(
        TRACER,
        shipments.trace_context_of(shipment.order_id),
        f"scan {scan_code}",
        {
            "ehub.scan_code": str(scan_code),
            "ehub.scan.recorded_by": recorded_by or "hub clock",
            "ehub.shipment_id": str(shipment.shipment_id),
            "ehub.order_id": str(shipment.order_id),
        },
    ):
        before = shipment.status
        shipment.apply_scan(scan_code, at, reason, location=location, recorded_by=recorded_by)
        shipments.save(shipment)
        if shipment.uld_id is not None and shipment.status is not before:
            units = UnitLoadRepository.of(uow.session)
            if shipment.status is TrackingStatus.DEPARTED:
                await units.departed(shipment.uld_id, at)
            # After departure its unit left with it, and is built up no further.
            elif before not in LEFT_HUB_STATUSES and shipment.status is TrackingStatus.EXCEPTION:
                weight = await shipments.weight_of(shipment.order_id)
                await units.unload(shipment.uld_id, weight, at)
        await _announce(uow, shipment, before)


async def answer_cancellation(uow: UnitOfWork, parcel: Parcel, reason: str, now: datetime) -> None:
    """Cancel what is still at the hub, or refuse; a repeated request gets the same answer."""
    shipment = ShipmentRepository.of(uow.session).for_order(parcel.order_id)
    if parcel.cancelled_at is None:
        try:
            await _cancel(uow, shipment, parcel, reason, now)
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
    shipment = ShipmentRepository.of(uow.session).for_order(parcel.order_id)
    # A shipment in exception is already on its way back to the seller.
    with suppress(CancellationRefused):
        await _cancel(uow, shipment, parcel, reason, now)


async def _cancel(
    uow: UnitOfWork, shipment: Shipment | None, parcel: Parcel, reason: str, now: datetime
) -> None:
    if shipment is not None:
        shipment.cancel(reason, now)
        ShipmentRepository.of(uow.session).save(shipment)
        if shipment.uld_id is not None:
            assert parcel.weight_kg is not None, "a shipment built up has its weight"
            await UnitLoadRepository.of(uow.session).unload(shipment.uld_id, parcel.weight_kg, now)
    parcel.cancelled_at = now
    parcel.cancellation_reason = reason


async def _book(
    uow: UnitOfWork,
    shipments: ShipmentRepository,
    shipment: Shipment,
    parcel: Parcel,
    now: datetime,
) -> None:
    units = UnitLoadRepository.of(uow.session)
    try:
        departure = choose_departure(shipment.destination, now, parcel.dangerous_goods)
        build_up = await _build_up(units, departure, shipment, parcel, now)
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
    house_serial, master_serial = await shipments.next_awb_serials()
    booking = book(departure, house_serial=house_serial, master_serial=master_serial)
    shipment.book(booking, now)
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
    if build_up is not None:
        load, choice = build_up
        shipment.consolidate(await units.load(choice, departure, load, now), now)
        await _announce(uow, shipment, TrackingStatus.BOOKED)
    shipments.save(shipment)


async def _build_up(
    units: UnitLoadRepository,
    departure: Departure,
    shipment: Shipment,
    parcel: Parcel,
    now: datetime,
) -> tuple[ShipmentLoad, UnitChoice] | None:
    """The shipment as the load planner sees it and the ULD it will be built up in, or
    None when its leg carries it loose."""
    if not travels_in_ulds(departure):
        return None
    assert parcel.weight_kg is not None, "an announced parcel has its weight"
    load = ShipmentLoad(
        str(shipment.shipment_id),
        departure.leg.destination,
        parcel.weight_kg,
        frozenset(parcel.dangerous_goods),
    )
    return load, choose_unit(load, await units.building(departure, now))


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
