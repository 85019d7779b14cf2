"""An order's status, derived from the events of the saga, and what a partner may still do.

Events of one order come from several topics, so they may reach the orders service
out of step (a shipment event before the clearance that caused it). Status therefore
only moves forward: an event whose status is behind the current one is recorded in
the timeline but does not set the status back, and a final status is never left.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAYMENT_AUTHORIZED = "PAYMENT_AUTHORIZED"
    CUSTOMS_HELD = "CUSTOMS_HELD"
    CUSTOMS_CLEARED = "CUSTOMS_CLEARED"
    SHIPPED = "SHIPPED"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_EXPIRED = "PAYMENT_EXPIRED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    CUSTOMS_REJECTED = "CUSTOMS_REJECTED"
    SHIPMENT_FAILED = "SHIPMENT_FAILED"
    CANCELLED = "CANCELLED"


_PROGRESS = {
    OrderStatus.PENDING: 0,
    OrderStatus.PAYMENT_AUTHORIZED: 1,
    OrderStatus.CUSTOMS_HELD: 2,
    OrderStatus.CUSTOMS_CLEARED: 3,
    OrderStatus.SHIPPED: 4,
    OrderStatus.IN_TRANSIT: 5,
}

FINAL_STATUSES = frozenset(
    {
        OrderStatus.DELIVERED,
        OrderStatus.PAYMENT_DECLINED,
        OrderStatus.PAYMENT_EXPIRED,
        OrderStatus.PAYMENT_FAILED,
        OrderStatus.CUSTOMS_REJECTED,
        OrderStatus.SHIPMENT_FAILED,
        OrderStatus.CANCELLED,
    }
)

# The goods have left the hub: cancelling is no longer possible.
DEPARTED_STATUSES = frozenset({OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED})

STATUS_AFTER_EVENT: dict[str, OrderStatus] = {
    "PaymentAuthorized": OrderStatus.PAYMENT_AUTHORIZED,
    "PaymentDeclined": OrderStatus.PAYMENT_DECLINED,
    "PaymentCaptureFailed": OrderStatus.PAYMENT_FAILED,
    "PaymentAuthorizationExpired": OrderStatus.PAYMENT_EXPIRED,
    "CustomsHeld": OrderStatus.CUSTOMS_HELD,
    "CustomsCleared": OrderStatus.CUSTOMS_CLEARED,
    "CustomsRejected": OrderStatus.CUSTOMS_REJECTED,
    "ShipmentDispatched": OrderStatus.SHIPPED,
    "ShipmentException": OrderStatus.SHIPMENT_FAILED,
    "FulfilmentCancelled": OrderStatus.CANCELLED,
}

STATUS_AFTER_TRACKING: dict[str, OrderStatus] = {
    "DEPARTED": OrderStatus.IN_TRANSIT,
    "ARRIVED": OrderStatus.IN_TRANSIT,
    "OUT_FOR_DELIVERY": OrderStatus.IN_TRANSIT,
    "DELIVERED": OrderStatus.DELIVERED,
}


def status_after(
    current: OrderStatus, event_name: str, tracking_status: str | None = None
) -> OrderStatus:
    """The status once `event_name` (an event class name) is known to have happened.

    `tracking_status` is the shipment status a `ShipmentTracked` event reports.
    """
    if event_name == "ShipmentTracked":
        target = STATUS_AFTER_TRACKING.get(tracking_status or "")
    else:
        target = STATUS_AFTER_EVENT.get(event_name)
    if target is None or current in FINAL_STATUSES:
        return current
    if target in FINAL_STATUSES:
        return target
    return target if _PROGRESS[target] > _PROGRESS[current] else current


class CancellationRefused(Exception):
    """The order can no longer be cancelled; the message says why."""


def check_cancellable(status: OrderStatus) -> None:
    if status in DEPARTED_STATUSES:
        raise CancellationRefused(
            f"The goods have left the Liège hub (order is {status}); an order can be cancelled "
            "only until its shipment departs"
        )
    if status in FINAL_STATUSES:
        raise CancellationRefused(f"The order is already final ({status})")
