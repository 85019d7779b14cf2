"""Fulfilment in the saga: what each event teaches the hub about a parcel.

Events from different topics can arrive in any order, so each handler records what it
learnt on the parcel and then lets the hub advance the shipment as far as the facts allow
(`services.fulfillment.hub`). A cancellation request is answered; an order that can never
be paid (capture failed, authorization expired) is withdrawn from the hub.

The consumer hands a whole batch to `prefetch` first, which locks every parcel of its
orders (creating those new to the hub) and their shipments in three statements; the
handlers then find them in the transaction's `ShipmentRepository`, record facts on them
in memory, and the commit writes everything. The batch's bookings draw their air waybill
serials in one statement, and take the hub's build-up lock with its units in two.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.fulfillment.hub import advance, answer_cancellation, withdraw
from services.fulfillment.repository import ShipmentRepository
from services.fulfillment.tables import Parcel
from shared.events import (
    CustomsCleared,
    Envelope,
    Event,
    OrderCancellationRequested,
    OrderPlaced,
    PaymentAuthorizationExpired,
    PaymentCaptured,
    PaymentCaptureFailed,
    Topics,
    utcnow,
)
from shared.messaging.unit_of_work import UnitOfWork

SUBSCRIPTIONS = [Topics.ORDERS, Topics.CUSTOMS, Topics.PAYMENTS]


async def prefetch(events: Sequence[Event], uow: UnitOfWork) -> None:
    shipments = ShipmentRepository.of(uow.session)
    await shipments.lock_orders(event.order_id for event in events)
    # A captured payment is what lets a cleared parcel leave: as a rule, each books one.
    shipments.expect_bookings(sum(isinstance(event, PaymentCaptured) for event in events))


def _parcel(uow: UnitOfWork, event: Event) -> Parcel:
    return ShipmentRepository.of(uow.session).parcel(event.order_id)


async def on_order_placed(event: OrderPlaced, _: Envelope, uow: UnitOfWork) -> None:
    order = event.order
    parcel = _parcel(uow, event)
    parcel.destination_country = order.buyer.address.country
    parcel.weight_kg = sum(item.weight_kg * item.quantity for item in order.items)
    parcel.announced_at = event.placed_at
    await advance(uow, parcel, utcnow())


async def on_customs_cleared(event: CustomsCleared, _: Envelope, uow: UnitOfWork) -> None:
    now = utcnow()
    parcel = _parcel(uow, event)
    parcel.cleared_at = now
    parcel.dangerous_goods = list(event.dangerous_goods)
    await advance(uow, parcel, now)


async def on_payment_captured(event: PaymentCaptured, _: Envelope, uow: UnitOfWork) -> None:
    now = utcnow()
    parcel = _parcel(uow, event)
    parcel.paid_at = now
    await advance(uow, parcel, now)


async def on_order_cancellation_requested(
    event: OrderCancellationRequested, _: Envelope, uow: UnitOfWork
) -> None:
    await answer_cancellation(uow, _parcel(uow, event), event.reason, utcnow())


async def on_payment_capture_failed(
    event: PaymentCaptureFailed, _: Envelope, uow: UnitOfWork
) -> None:
    await withdraw(uow, _parcel(uow, event), f"payment capture failed: {event.reason}", utcnow())


async def on_payment_authorization_expired(
    event: PaymentAuthorizationExpired, _: Envelope, uow: UnitOfWork
) -> None:
    # Customs may release a held order after its authorization lapsed: it must not ship.
    await withdraw(uow, _parcel(uow, event), "payment authorization expired uncaptured", utcnow())


HANDLERS = {
    OrderPlaced: on_order_placed,
    CustomsCleared: on_customs_cleared,
    PaymentCaptured: on_payment_captured,
    OrderCancellationRequested: on_order_cancellation_requested,
    PaymentCaptureFailed: on_payment_capture_failed,
    PaymentAuthorizationExpired: on_payment_authorization_expired,
}
