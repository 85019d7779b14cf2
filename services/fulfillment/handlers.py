"""Fulfilment in the saga: a parcel is received at Liège once cleared, and leaves once paid.

Goods never leave the hub for an order whose payment was not captured: the shipment is
received on `CustomsCleared` but booked onto a departure only after `PaymentCaptured`.
Events from different topics can arrive in any order, so each handler records what it
learnt on the parcel and then advances the shipment as far as the facts allow.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.fulfillment.domain.booking import book
from services.fulfillment.domain.errors import NoEligibleDeparture
from services.fulfillment.domain.schedule import choose_departure
from services.fulfillment.domain.shipment import ScanCode, Shipment, TrackingStatus
from services.fulfillment.repository import ShipmentRepository
from services.fulfillment.tables import (
    Parcel,
    ShipmentRecord,
    house_awb_serials,
    master_awb_serials,
    next_serial,
)
from shared.events import (
    CustomsCleared,
    Envelope,
    OrderPlaced,
    PaymentCaptured,
    ShipmentDispatched,
    ShipmentReceived,
    Topics,
)
from shared.messaging.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SUBSCRIPTIONS = [Topics.ORDERS, Topics.CUSTOMS, Topics.PAYMENTS]
HUB = "LGG"

# Shipment ids derive from the order id: a redelivered event can never create a second one.
SHIPMENT_ID_NAMESPACE = uuid.UUID("0b5f7a3e-92d4-4c1b-8f0e-3d7a5c9e2f61")


def now() -> datetime:
    return datetime.now(UTC)


async def _record(uow: UnitOfWork, order_id: uuid.UUID, **facts: object) -> Parcel:
    """Upsert what one event taught us about the parcel, and lock it for this transaction."""
    await uow.session.execute(
        insert(Parcel)
        .values({"order_id": order_id, "dangerous_goods": [], **facts})
        .on_conflict_do_update(index_elements=[Parcel.order_id], set_=facts)
    )
    parcel = await uow.session.scalar(
        select(Parcel)
        .where(Parcel.order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert parcel is not None
    return parcel


async def on_order_placed(event: OrderPlaced, _: Envelope, uow: UnitOfWork) -> None:
    order = event.order
    weight = sum(item.weight_kg * item.quantity for item in order.items)
    parcel = await _record(
        uow,
        event.order_id,
        destination_country=order.buyer.address.country,
        weight_kg=weight,
        announced_at=event.placed_at,
    )
    await advance(parcel, uow)


async def on_customs_cleared(event: CustomsCleared, _: Envelope, uow: UnitOfWork) -> None:
    parcel = await _record(
        uow, event.order_id, cleared_at=now(), dangerous_goods=list(event.dangerous_goods)
    )
    await advance(parcel, uow)


async def on_payment_captured(event: PaymentCaptured, _: Envelope, uow: UnitOfWork) -> None:
    parcel = await _record(uow, event.order_id, paid_at=now())
    await advance(parcel, uow)


async def advance(parcel: Parcel, uow: UnitOfWork) -> None:
    if parcel.announced_at is None or parcel.cleared_at is None:
        return
    shipments = ShipmentRepository(uow.session)
    shipment = await shipments.for_order(parcel.order_id)
    if shipment is None:
        shipment = Shipment.create(
            uuid.uuid5(SHIPMENT_ID_NAMESPACE, str(parcel.order_id)),
            parcel.order_id,
            parcel.destination_country or "",
            now(),
        )
        shipment.apply_scan(ScanCode.RCS, now())
        shipments.add(shipment)
        await uow.emit(
            ShipmentReceived(order_id=parcel.order_id, shipment_id=shipment.shipment_id, hub=HUB)
        )
    if parcel.paid_at is not None and shipment.status is TrackingStatus.RECEIVED_AT_HUB:
        await _book(shipment, parcel, shipments, uow)


async def _book(
    shipment: Shipment, parcel: Parcel, shipments: ShipmentRepository, uow: UnitOfWork
) -> None:
    try:
        departure = choose_departure(shipment.destination, now(), parcel.dangerous_goods)
    except NoEligibleDeparture as error:
        shipment.report_exception(str(error), now())
        shipments.save(shipment)
        log.warning(
            "shipment held: no eligible departure", extra={"order_id": str(parcel.order_id)}
        )
        return
    booking = book(
        departure,
        house_serial=await uow.session.scalar(select(next_serial(house_awb_serials))),
        master_serial=await uow.session.scalar(select(next_serial(master_awb_serials))),
    )
    shipment.apply_scan(ScanCode.BKD, now())
    shipments.save(shipment)
    record: ShipmentRecord = shipments.record_of(shipment)
    record.house_awb = booking.house_awb.number
    record.master_awb = str(booking.master_awb.number) if booking.master_awb else None
    record.leg_id = departure.leg.leg_id
    record.departs_at = departure.departs_at
    record.arrives_at = departure.arrives_at
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


HANDLERS = {
    OrderPlaced: on_order_placed,
    CustomsCleared: on_customs_cleared,
    PaymentCaptured: on_payment_captured,
}
