"""Fulfilment in the saga: what each event teaches the hub about a parcel.

Events from different topics can arrive in any order, so each handler records what it
learnt on the parcel and then lets the hub advance the shipment as far as the facts allow
(`services.fulfillment.hub`). A cancellation request is answered; an order that can never
be paid (capture failed, authorization expired) is withdrawn from the hub.
"""

from __future__ import annotations

import uuid

from services.fulfillment.hub import advance, answer_cancellation, withdraw
from services.fulfillment.tables import Parcel
from shared.db import record_facts
from shared.events import (
    CustomsCleared,
    Envelope,
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


async def _record(uow: UnitOfWork, order_id: uuid.UUID, **facts: object) -> Parcel:
    """What one event taught us about the parcel, on its row locked for this transaction."""
    return await record_facts(
        uow.session, Parcel, {"order_id": order_id}, facts, defaults={"dangerous_goods": []}
    )


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
    await advance(parcel, uow, utcnow())


async def on_customs_cleared(event: CustomsCleared, _: Envelope, uow: UnitOfWork) -> None:
    now = utcnow()
    parcel = await _record(
        uow, event.order_id, cleared_at=now, dangerous_goods=list(event.dangerous_goods)
    )
    await advance(parcel, uow, now)


async def on_payment_captured(event: PaymentCaptured, _: Envelope, uow: UnitOfWork) -> None:
    now = utcnow()
    parcel = await _record(uow, event.order_id, paid_at=now)
    await advance(parcel, uow, now)


async def on_order_cancellation_requested(
    event: OrderCancellationRequested, _: Envelope, uow: UnitOfWork
) -> None:
    parcel = await _record(uow, event.order_id)
    await answer_cancellation(uow, parcel, event.reason, utcnow())


async def on_payment_capture_failed(
    event: PaymentCaptureFailed, _: Envelope, uow: UnitOfWork
) -> None:
    parcel = await _record(uow, event.order_id)
    await withdraw(uow, parcel, f"payment capture failed: {event.reason}", utcnow())


async def on_payment_authorization_expired(
    event: PaymentAuthorizationExpired, _: Envelope, uow: UnitOfWork
) -> None:
    # Customs may release a held order after its authorization lapsed: it must not ship.
    parcel = await _record(uow, event.order_id)
    await withdraw(uow, parcel, "payment authorization expired uncaptured", utcnow())


HANDLERS = {
    OrderPlaced: on_order_placed,
    CustomsCleared: on_customs_cleared,
    PaymentCaptured: on_payment_captured,
    OrderCancellationRequested: on_order_cancellation_requested,
    PaymentCaptureFailed: on_payment_capture_failed,
    PaymentAuthorizationExpired: on_payment_authorization_expired,
}
