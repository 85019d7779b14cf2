"""An order's status, derived from the events of the saga.

Events of one order come from several topics, so they may reach the orders service
out of step (a shipment event before the clearance that caused it). Status therefore
only moves forward: an event whose status is behind the current one is recorded in
the timeline but does not set the status back, and a final status is never left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAYMENT_AUTHORIZED = "PAYMENT_AUTHORIZED"
    CUSTOMS_HELD = "CUSTOMS_HELD"
    CUSTOMS_CLEARED = "CUSTOMS_CLEARED"
    SHIPPED = "SHIPPED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    CUSTOMS_REJECTED = "CUSTOMS_REJECTED"
    PAYMENT_FAILED = "PAYMENT_FAILED"


_PROGRESS = {
    OrderStatus.PENDING: 0,
    OrderStatus.PAYMENT_AUTHORIZED: 1,
    OrderStatus.CUSTOMS_HELD: 2,
    OrderStatus.CUSTOMS_CLEARED: 3,
    OrderStatus.SHIPPED: 4,
}

FINAL_STATUSES = frozenset(
    {
        OrderStatus.PAYMENT_DECLINED,
        OrderStatus.CUSTOMS_REJECTED,
        OrderStatus.PAYMENT_FAILED,
    }
)

STATUS_AFTER_EVENT: dict[str, OrderStatus] = {
    "PaymentAuthorized": OrderStatus.PAYMENT_AUTHORIZED,
    "PaymentDeclined": OrderStatus.PAYMENT_DECLINED,
    "PaymentCaptureFailed": OrderStatus.PAYMENT_FAILED,
    "CustomsHeld": OrderStatus.CUSTOMS_HELD,
    "CustomsCleared": OrderStatus.CUSTOMS_CLEARED,
    "CustomsRejected": OrderStatus.CUSTOMS_REJECTED,
    "ShipmentDispatched": OrderStatus.SHIPPED,
}


def status_after(current: OrderStatus, event_name: str) -> OrderStatus:
    """The status once `event_name` (an event class name) is known to have happened."""
    target = STATUS_AFTER_EVENT.get(event_name)
    if target is None or current in FINAL_STATUSES:
        return current
    if target in FINAL_STATUSES:
        return target
    return target if _PROGRESS[target] > _PROGRESS[current] else current


@dataclass(frozen=True)
class TimelineEntry:
    event_type: str
    occurred_at: datetime
    source_service: str
    detail: dict[str, object]
