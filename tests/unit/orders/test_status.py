"""The order status only moves forward, whatever order the services' events arrive in."""

from __future__ import annotations

import itertools

import pytest

from services.orders.domain import (
    DEPARTED_STATUSES,
    FINAL_STATUSES,
    CancellationRefused,
    OrderStatus,
    check_cancellable,
    status_after,
)

HAPPY_PATH = ["PaymentAuthorized", "CustomsCleared", "PaymentCaptured", "ShipmentDispatched"]


@pytest.mark.parametrize(
    ("current", "event", "expected"),
    [
        (OrderStatus.PENDING, "PaymentAuthorized", OrderStatus.PAYMENT_AUTHORIZED),
        (OrderStatus.PENDING, "PaymentDeclined", OrderStatus.PAYMENT_DECLINED),
        (OrderStatus.PAYMENT_AUTHORIZED, "CustomsHeld", OrderStatus.CUSTOMS_HELD),
        (OrderStatus.CUSTOMS_HELD, "CustomsCleared", OrderStatus.CUSTOMS_CLEARED),
        (OrderStatus.PAYMENT_AUTHORIZED, "CustomsRejected", OrderStatus.CUSTOMS_REJECTED),
        (OrderStatus.CUSTOMS_CLEARED, "ShipmentDispatched", OrderStatus.SHIPPED),
        (OrderStatus.CUSTOMS_CLEARED, "PaymentCaptured", OrderStatus.CUSTOMS_CLEARED),
        (OrderStatus.CUSTOMS_CLEARED, "PaymentCaptureFailed", OrderStatus.PAYMENT_FAILED),
        (OrderStatus.CUSTOMS_REJECTED, "PaymentVoided", OrderStatus.CUSTOMS_REJECTED),
    ],
)
def test_status_after_event(current, event, expected):
    assert status_after(current, event) == expected


def test_a_late_event_never_sets_the_status_back():
    assert status_after(OrderStatus.SHIPPED, "PaymentAuthorized") == OrderStatus.SHIPPED
    assert status_after(OrderStatus.CUSTOMS_CLEARED, "CustomsHeld") == OrderStatus.CUSTOMS_CLEARED


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_a_final_status_is_never_left(final):
    for event in HAPPY_PATH + ["CustomsHeld", "PaymentDeclined"]:
        assert status_after(final, event) == final


@pytest.mark.parametrize("arrival", list(itertools.permutations(HAPPY_PATH)))
def test_happy_path_ends_shipped_in_any_arrival_order(arrival):
    status = OrderStatus.PENDING
    for event in arrival:
        status = status_after(status, event)
    assert status == OrderStatus.SHIPPED


@pytest.mark.parametrize(
    ("tracking", "expected"),
    [
        ("CONSOLIDATED", OrderStatus.SHIPPED),
        ("DEPARTED", OrderStatus.IN_TRANSIT),
        ("OUT_FOR_DELIVERY", OrderStatus.IN_TRANSIT),
        ("DELIVERED", OrderStatus.DELIVERED),
    ],
)
def test_tracking_moves_a_shipped_order_on(tracking, expected):
    assert status_after(OrderStatus.SHIPPED, "ShipmentTracked", tracking) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("FulfilmentCancelled", OrderStatus.CANCELLED),
        ("ShipmentException", OrderStatus.SHIPMENT_FAILED),
        ("PaymentAuthorizationExpired", OrderStatus.PAYMENT_EXPIRED),
    ],
)
def test_saga_endings(event, expected):
    assert status_after(OrderStatus.SHIPPED, event) == expected


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.PENDING,
        OrderStatus.CUSTOMS_HELD,
        OrderStatus.CUSTOMS_CLEARED,
        OrderStatus.SHIPPED,
    ],
)
def test_an_order_can_be_cancelled_until_its_goods_depart(status):
    check_cancellable(status)


@pytest.mark.parametrize("status", sorted(DEPARTED_STATUSES | FINAL_STATUSES))
def test_departed_or_final_orders_cannot_be_cancelled(status):
    with pytest.raises(CancellationRefused):
        check_cancellable(status)
