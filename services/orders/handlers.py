"""Orders listens to every service and keeps each order's status and timeline."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.orders.domain import OrderStatus, status_after
from services.orders.tables import Order, TimelineRecord
from services.orders.webhooks import announce
from shared.events import (
    CustomsCleared,
    CustomsHeld,
    CustomsRejected,
    Envelope,
    Event,
    FulfilmentCancellationRefused,
    FulfilmentCancelled,
    PaymentAuthorizationExpired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentCaptureFailed,
    PaymentDeclined,
    PaymentRefunded,
    PaymentVoided,
    ShipmentDispatched,
    ShipmentException,
    ShipmentReceived,
    ShipmentTracked,
    Topics,
)
from shared.messaging.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SUBSCRIPTIONS = [Topics.PAYMENTS, Topics.CUSTOMS, Topics.FULFILLMENT]

_ORDER_FIELDS = {"order_id"}


async def record_in_timeline(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
    order = await uow.session.get(Order, event.order_id, with_for_update=True)
    if order is None:
        log.warning("event for an unknown order", extra={"order_id": str(event.order_id)})
        return
    event_name = type(event).__name__
    tracking = event.status if isinstance(event, ShipmentTracked) else None
    order.status = status_after(OrderStatus(order.status), event_name, tracking)
    if isinstance(event, FulfilmentCancellationRefused):
        order.cancellation_requested_at = None
    order.updated_at = datetime.now(UTC)
    detail = event.model_dump(mode="json", exclude=_ORDER_FIELDS)
    uow.session.add(
        TimelineRecord(
            order_id=order.id,
            event_id=envelope.id,
            event_type=event_name,
            source_service=envelope.source.rsplit("/", 1)[-1],
            occurred_at=envelope.time,
            detail=detail,
        )
    )
    await announce(uow, order, event_name, detail)


HANDLERS = {
    contract: record_in_timeline
    for contract in (
        PaymentAuthorized,
        PaymentDeclined,
        PaymentCaptured,
        PaymentCaptureFailed,
        PaymentVoided,
        PaymentRefunded,
        CustomsHeld,
        CustomsCleared,
        CustomsRejected,
        ShipmentReceived,
        ShipmentDispatched,
        ShipmentTracked,
        ShipmentException,
        PaymentAuthorizationExpired,
        FulfilmentCancelled,
        FulfilmentCancellationRefused,
    )
}
