"""One order through orders → payments → customs → fulfilment, as separate processes."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.orders import (
    order_body,
    place,
    timeline_types,
    wait_for_event,
    wait_for_status,
)
from tests.infrastructure import devstack

pytestmark = pytest.mark.e2e

OPERATIONS = """
    SELECT count(*) FROM payment_operations o JOIN payments p ON p.id = o.payment_id
    WHERE p.order_id = :order_id AND o.kind = :kind
"""

CUSTOMS_DECISIONS = """
    SELECT count(*) FROM declaration_decisions d JOIN declarations x ON x.id = d.declaration_id
    WHERE x.order_id = :id
"""


async def test_good_order_is_shipped_with_one_authorization_and_one_capture(partner, databases):
    started = time.monotonic()
    response = place(partner, order_body())
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "PENDING"
    order_id = response.json()["id"]

    order = wait_for_status(partner, order_id, {"SHIPPED", "DELIVERED"})

    print(f"POST to {order['status']}: {(time.monotonic() - started) * 1000:.0f} ms")
    types = timeline_types(order)
    assert types[0] == "OrderPlaced"
    assert {"PaymentAuthorized", "CustomsCleared", "PaymentCaptured", "ShipmentDispatched"} <= set(
        types
    )
    sources = {entry["event_type"]: entry["source_service"] for entry in order["timeline"]}
    assert sources["PaymentAuthorized"] == "payments"
    assert sources["CustomsCleared"] == "customs"
    assert sources["ShipmentDispatched"] == "fulfillment"
    assert (
        await databases.scalar("payments", OPERATIONS, order_id=order_id, kind="AUTHORIZATION") == 1
    )
    assert await databases.scalar("payments", OPERATIONS, order_id=order_id, kind="CAPTURE") == 1
    assert (
        await databases.scalar(
            "fulfillment", "SELECT count(*) FROM shipments WHERE order_id = :id", id=order_id
        )
        == 1
    )


async def test_declined_card_ends_payment_declined_and_nobody_else_acts(partner, databases):
    body = order_body(payment={"token": "tok_chargeDeclined"})
    order_id = place(partner, body).json()["id"]

    order = wait_for_status(partner, order_id, {"PAYMENT_DECLINED"})

    assert "PaymentDeclined" in timeline_types(order)
    time.sleep(1.0)  # give a wrongly acting service the time to show itself
    decisions = await databases.scalar("customs", CUSTOMS_DECISIONS, id=order_id)
    assert decisions == 0, "customs declared a declined order"
    shipments = await databases.scalar(
        "fulfillment", "SELECT count(*) FROM shipments WHERE order_id = :id", id=order_id
    )
    assert shipments == 0, "fulfilment shipped a declined order"
    assert not {"CustomsCleared", "CustomsRejected", "CustomsHeld", "ShipmentReceived"} & set(
        timeline_types(partner.get(f"/v1/orders/{order_id}").json())
    )
    assert await databases.scalar("payments", OPERATIONS, order_id=order_id, kind="CAPTURE") == 0


async def test_customs_rejection_voids_the_authorization_and_ships_nothing(partner, databases):
    pistol = {
        "sku": "PISTOL-1",
        "description": "Pistol, semi-automatic",
        "hs_code": "930200",
        "quantity": 1,
        "unit_price": "120.00",
        "weight_kg": "0.900",
        "origin_country": "CN",
    }
    order_id = place(partner, order_body(items=[pistol])).json()["id"]

    order = wait_for_status(partner, order_id, {"CUSTOMS_REJECTED"})

    reasons = next(e for e in order["timeline"] if e["event_type"] == "CustomsRejected")
    assert reasons["detail"]["reasons"]
    voided = wait_for_event(partner, order_id, "PaymentVoided")
    assert voided["status"] == "CUSTOMS_REJECTED"
    assert await databases.scalar("payments", OPERATIONS, order_id=order_id, kind="VOID") == 1
    assert await databases.scalar("payments", OPERATIONS, order_id=order_id, kind="CAPTURE") == 0
    assert (
        await databases.scalar(
            "fulfillment", "SELECT count(*) FROM shipments WHERE order_id = :id", id=order_id
        )
        == 0
    )


def test_one_order_is_one_trace_across_the_four_services(partner, stack):
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED", "DELIVERED"})

    traces: dict[str, set[str]] = {}
    for service in ("orders", "payments", "customs", "fulfillment"):
        log_file = devstack.LOGS / f"{stack.process_name(service)}.log"
        for line in log_file.read_text().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("order_id") == order_id and "trace_id" in entry:
                traces.setdefault(entry["trace_id"], set()).add(service)

    assert len(traces) == 1, f"the order's log lines carry {len(traces)} trace ids"
    assert next(iter(traces.values())) == {"orders", "payments", "customs", "fulfillment"}
