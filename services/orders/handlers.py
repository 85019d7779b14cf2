"""Orders listens to every service and keeps each order's status and timeline.

A consumer batch is one transaction: `prefetch` locks the batch's orders and loads their
partners in one statement (not the orders' details, which no event changes), then each
event's handler changes its order in memory and stages its timeline entry and webhook
delivery; the commit writes the orders (the flush) and each table's new rows in one INSERT.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import defer, joinedload

from services.orders.domain import OrderStatus, status_after
from services.orders.saga_metrics import status_changed
from services.orders.tables import Order, TimelineRecord
from services.orders.webhooks import announce
from shared.db import per_transaction
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


LOCKED_ORDERS = "orders.locked"

# Rows are locked in id order, so two batches sharing orders queue rather than deadlock.
LOCK_ORDERS = (
    select(Order)
    .options(joinedload(Order.partner, innerjoin=True), defer(Order.details, raiseload=True))
    .where(Order.id == any_(bindparam("order_ids", type_=ARRAY(Uuid))))
    .order_by(Order.id)
    .with_for_update(of=Order)
    .execution_options(populate_existing=True)
)


async def prefetch(events: Sequence[Event], uow: UnitOfWork) -> None:
    """Lock the orders of a batch's events, with their partners' webhook settings, into the
    session for the handlers."""
    order_ids = sorted({event.order_id for event in events})
    # Kept for the transaction, so `session.get` finds them in the identity map without SQL.
    per_transaction(uow.session, LOCKED_ORDERS, list).extend(
        await uow.session.scalars(LOCK_ORDERS, {"order_ids": order_ids})
    )


async def record_in_timeline(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
    # Found in the session, where the batch's prefetch locked it: no SQL.
    order = await uow.session.get(Order, event.order_id)
    if order is None:
        log.warning("event for an unknown order", extra={"order_id": str(event.order_id)})
        return
    event_name = type(event).__name__
    tracking = event.status if isinstance(event, ShipmentTracked) else None
    previous = OrderStatus(order.status)
    order.status = status_after(previous, event_name, tracking)
    if order.status != previous:
        status_changed(uow.session, order, previous, envelope.time)
    if isinstance(event, FulfilmentCancellationRefused):
        order.cancellation_requested_at = None
    order.updated_at = datetime.now(UTC)
    detail = event.model_dump(mode="json", exclude=_ORDER_FIELDS)
    uow.insert_at_commit(
        TimelineRecord.__table__,
        {
            "order_id": order.id,
            "event_id": envelope.id,
            "event_type": event_name,
            "source_service": envelope.source.rsplit("/", 1)[-1],
            "occurred_at": envelope.time,
            "detail": detail,
        },
    )
    announce(uow, order, event_name, detail)


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
