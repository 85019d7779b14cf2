"""Every path an order takes through the saga, with money returned wherever it was taken."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import httpx
import pytest

from tests.e2e.conftest import AUTHORIZATION_WINDOW_SECONDS, OPERATOR_KEYS
from tests.e2e.orders import (
    order_body,
    place,
    timeline_types,
    wait_for_event,
    wait_for_status,
)

pytestmark = pytest.mark.e2e

OPERATIONS = """
    SELECT count(*) FROM payment_operations o JOIN payments p ON p.id = o.payment_id
    WHERE p.order_id = :order_id AND o.kind = :kind
"""
SHIPMENTS = "SELECT count(*) FROM shipments WHERE order_id = :order_id AND status <> 'CANCELLED'"
# A near match on the EU consolidated sanctions list: customs holds it for an officer.
NEAR_MATCH_BUYER = "Alisher Usmanow"


async def operations(databases, order_id: str, kind: str) -> int:
    return await databases.scalar("payments", OPERATIONS, order_id=order_id, kind=kind)


async def shipments(databases, order_id: str) -> int:
    return await databases.scalar("fulfillment", SHIPMENTS, order_id=order_id)


async def wait_for_declaration(databases, order_id: str, status: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = await databases.scalar(
            "customs", "SELECT status FROM declarations WHERE order_id = :id", id=order_id
        )
        if current == status:
            return True
        await asyncio.sleep(0.1)
    raise AssertionError(f"declaration of {order_id} stayed {current}, wanted {status}")


def held_order(partner) -> str:
    body = order_body()
    body["buyer"]["name"] = NEAR_MATCH_BUYER
    order_id = place(partner, body).json()["id"]
    wait_for_status(partner, order_id, {"CUSTOMS_HELD"})
    return order_id


def payment_of(operator, order_id: str) -> dict:
    with operator("payments", "finance.maes") as payments:
        [payment] = payments.get("/v1/payments", params={"order_id": order_id}).json()
    return payment


# ---- customs officers -----------------------------------------------------------------


async def test_held_order_released_by_an_officer_is_shipped(partner, operator, databases):
    order_id = held_order(partner)
    with operator("customs", "officer.janssens") as customs:
        held = customs.get("/v1/declarations", params={"status": "HELD"}).json()["items"]
        [declaration] = [d for d in held if d["order_id"] == order_id]
        detail = customs.get(f"/v1/declarations/{order_id}").json()
        assert any("denied party" in reason for reason in detail["assessment"]["reasons"])

        released = customs.post(
            f"/v1/declarations/{declaration['id']}/release",
            json={"reason": "different person: date of birth checked"},
        )

        assert released.status_code == 200, released.text
        decisions = customs.get(f"/v1/declarations/{order_id}").json()["decisions"]
    assert [d["outcome"] for d in decisions] == ["HELD", "CLEARED"]
    assert decisions[-1]["decided_by"] == "officer.janssens"
    wait_for_status(partner, order_id, {"SHIPPED"})
    assert await operations(databases, order_id, "CAPTURE") == 1


async def test_held_order_rejected_by_an_officer_voids_the_authorization(
    partner, operator, databases
):
    order_id = held_order(partner)
    with operator("customs", "officer.peeters") as customs:
        rejected = customs.post(
            f"/v1/declarations/{order_id}/reject",
            json={"reason": "confirmed match on the sanctions list"},
        )
        assert rejected.status_code == 200, rejected.text
        again = customs.post(f"/v1/declarations/{order_id}/release", json={"reason": "oops"})
        assert again.status_code == 409, "a decided declaration is not decided twice"

    wait_for_status(partner, order_id, {"CUSTOMS_REJECTED"})
    wait_for_event(partner, order_id, "PaymentVoided")
    assert await operations(databases, order_id, "VOID") == 1
    assert await operations(databases, order_id, "CAPTURE") == 0
    assert await shipments(databases, order_id) == 0


async def test_officer_decisions_cannot_be_edited(partner, operator, databases):
    held_order(partner)
    with pytest.raises(Exception, match="append-only"):
        await databases.execute(
            "customs", "UPDATE declaration_decisions SET decided_by = 'someone else'"
        )


def test_officer_endpoints_refuse_a_partner_key(stack, partner):
    response = httpx.get(
        f"http://127.0.0.1:{stack.admin_port('customs')}/v1/declarations",
        headers={"Authorization": partner.headers["Authorization"]},
    )
    assert response.status_code == 401


# ---- payments -------------------------------------------------------------------------


async def test_gateway_timeout_then_success_captures_exactly_once(partner, operator, databases):
    order_id = place(partner, order_body(payment={"token": "tok_timeout"})).json()["id"]

    wait_for_status(partner, order_id, {"SHIPPED"})

    assert await operations(databases, order_id, "AUTHORIZATION") == 1
    assert await operations(databases, order_id, "CAPTURE") == 1
    payment_id = payment_of(operator, order_id)["id"]
    attempts = await databases.scalar(
        "payments",
        "SELECT (state->>'attempts')::int FROM sandbox_memory WHERE key LIKE :key",
        key=f"payment:{payment_id}:capture:%",
    )
    assert attempts == 2, "the capture timed out once and was retried with the same key"


async def test_duties_owed_at_checkout_are_captured_after_an_incremental_authorization(
    partner, operator, databases
):
    order_id = place(partner, order_body()).json()["id"]
    order = wait_for_status(partner, order_id, {"SHIPPED"})

    cleared = next(e for e in order["timeline"] if e["event_type"] == "CustomsCleared")
    duty = Decimal(cleared["detail"]["duties_and_taxes"]["total"]["amount"])
    assert cleared["detail"]["duties_and_taxes"]["collected_at_checkout"] is True
    assert duty == Decimal("3.00"), "one tariff subheading under IOSS: EUR 3 flat duty"
    payment = payment_of(operator, order_id)
    assert Decimal(payment["captured_amount"]) == Decimal(order["totals"]["total"]) + duty
    assert await operations(databases, order_id, "INCREMENTAL_AUTHORIZATION") == 1


async def test_capture_that_fails_releases_the_hold_and_ships_nothing(partner, databases):
    order_id = place(partner, order_body(payment={"token": "tok_captureFails"})).json()["id"]

    order = wait_for_status(partner, order_id, {"PAYMENT_FAILED"})

    wait_for_event(partner, order_id, "PaymentVoided")
    assert "PaymentCaptureFailed" in timeline_types(order)
    assert await operations(databases, order_id, "CAPTURE") == 0
    assert await operations(databases, order_id, "VOID") == 1
    time.sleep(0.5)
    assert await shipments(databases, order_id) == 0


async def test_uncaptured_authorization_expires_and_the_order_is_told(partner, databases):
    order_id = held_order(partner)

    order = wait_for_status(
        partner, order_id, {"PAYMENT_EXPIRED"}, timeout=AUTHORIZATION_WINDOW_SECONDS + 15
    )

    assert "PaymentAuthorizationExpired" in timeline_types(order)
    assert await operations(databases, order_id, "VOID") == 1
    assert await operations(databases, order_id, "CAPTURE") == 0


async def test_refunds_never_exceed_the_capture_even_when_concurrent(partner, operator, stack):
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    payment = payment_of(operator, order_id)
    captured = Decimal(payment["captured_amount"])
    share = (captured * Decimal("0.4")).quantize(Decimal("0.01"))

    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{stack.admin_port('payments')}",
        headers={"Authorization": f"Bearer {OPERATOR_KEYS['finance.maes']}"},
        timeout=20,
    ) as payments:
        answers = await asyncio.gather(
            *(
                payments.post(
                    f"/v1/payments/{payment['id']}/refunds",
                    json={"amount": str(share), "reason": "goodwill"},
                )
                for _ in range(5)
            )
        )

    assert sorted(answer.status_code for answer in answers) == [201, 201, 409, 409, 409]
    refused = next(answer for answer in answers if answer.status_code == 409).json()
    assert refused["type"].endswith("/refund-refused")
    after = payment_of(operator, order_id)
    assert Decimal(after["refunded_amount"]) == share * 2
    assert after["status"] == "PARTIALLY_REFUNDED"


# ---- cancellation ---------------------------------------------------------------------


async def test_cancel_before_capture_voids_the_authorization(partner, databases):
    order_id = held_order(partner)

    response = partner.post(f"/v1/orders/{order_id}/cancel", json={"reason": "buyer changed mind"})

    assert response.status_code == 202, response.text
    order = wait_for_status(partner, order_id, {"CANCELLED"})
    wait_for_event(partner, order_id, "PaymentVoided")
    assert "FulfilmentCancelled" in timeline_types(order)
    assert await operations(databases, order_id, "VOID") == 1
    assert await wait_for_declaration(databases, order_id, "WITHDRAWN")
    assert await operations(databases, order_id, "CAPTURE") == 0
    assert await shipments(databases, order_id) == 0


async def test_cancel_after_capture_refunds_in_full(partner, operator, databases):
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})

    response = partner.post(f"/v1/orders/{order_id}/cancel", json={"reason": "buyer changed mind"})

    assert response.status_code == 202, response.text
    wait_for_status(partner, order_id, {"CANCELLED"})
    wait_for_event(partner, order_id, "PaymentRefunded")
    payment = payment_of(operator, order_id)
    assert payment["status"] == "REFUNDED"
    assert Decimal(payment["refunded_amount"]) == Decimal(payment["captured_amount"])
    assert await shipments(databases, order_id) == 0, "the booked shipment is cancelled"


def test_cancelling_a_final_order_is_a_409_problem(partner):
    order_id = place(partner, order_body(payment={"token": "tok_chargeDeclined"})).json()["id"]
    wait_for_status(partner, order_id, {"PAYMENT_DECLINED"})

    response = partner.post(f"/v1/orders/{order_id}/cancel", json={"reason": "too late"})

    assert response.status_code == 409
    assert response.json()["type"].endswith("/order-not-cancellable")


# ---- another currency, another lane ---------------------------------------------------


async def test_belgian_chocolate_to_shanghai_is_charged_in_cny_and_reported_in_eur(
    partner, operator
):
    body = order_body(
        currency="CNY",
        seller={"name": "Chocolaterie Liégeoise SRL", "country": "BE"},
        buyer={
            "name": "Li Wei",
            "email": "li.wei@example.cn",
            "address": {
                "line1": "88 Century Avenue",
                "city": "Shanghai",
                "postal_code": "200120",
                "country": "CN",
            },
            "identity": {"document_type": "CN_RESIDENT_ID", "number": "310101199001011234"},
        },
        items=[
            {
                "sku": "PRALINES-500",
                "description": "Chocolate pralines, filled, 500 g box",
                "hs_code": "18063100",
                "quantity": 10,
                "unit_price": "380.00",
                "weight_kg": "0.600",
                "origin_country": "BE",
            }
        ],
        shipping_cost="180.00",
        insurance_cost="20.00",
        payment={"token": "tok_visa", "payer_name": "Li Wei"},
    )
    order_id = place(partner, body).json()["id"]

    order = wait_for_status(partner, order_id, {"SHIPPED", "CUSTOMS_REJECTED", "CUSTOMS_HELD"})

    assert order["status"] == "SHIPPED", order["timeline"]
    cleared = next(e for e in order["timeline"] if e["event_type"] == "CustomsCleared")
    assert cleared["detail"]["lane"] == "CN_CBEC_9610"
    payment = payment_of(operator, order_id)
    assert payment["currency"] == "CNY"
    assert Decimal(payment["amount_eur"]) > 0
    assert payment["exchange_rate"]["pair"].startswith("CNY")


# ---- after the goods leave -------------------------------------------------------------


def departed(partner, operator) -> tuple[str, str]:
    """An order whose shipment left Liège, as the orders service knows."""
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    with operator("fulfillment") as hub:
        [shipment] = hub.get("/v1/shipments", params={"order_id": order_id}).json()
        assert hub.post(f"/v1/shipments/{shipment['id']}/scans", json={"code": "DEP"}).is_success
    wait_for_status(partner, order_id, {"IN_TRANSIT"})
    return order_id, shipment["id"]


def test_cancelling_after_departure_is_a_409_problem_that_changes_nothing(partner, operator):
    order_id, _ = departed(partner, operator)

    response = partner.post(f"/v1/orders/{order_id}/cancel", json={"reason": "changed mind"})

    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("/order-not-cancellable")
    assert "left the Liège hub" in problem["detail"]
    order = partner.get(f"/v1/orders/{order_id}").json()
    assert order["status"] == "IN_TRANSIT"
    assert order["cancellation_requested_at"] is None
    assert payment_of(operator, order_id)["status"] == "CAPTURED"


async def test_shipment_exception_after_capture_refunds_in_full(partner, operator):
    order_id, shipment_id = departed(partner, operator)

    with operator("fulfillment") as hub:
        scanned = hub.post(
            f"/v1/shipments/{shipment_id}/scans",
            json={"code": "DIS", "reason": "parcel crushed in the truck"},
        )
        assert scanned.status_code == 201, scanned.text

    wait_for_status(partner, order_id, {"SHIPMENT_FAILED"})
    wait_for_event(partner, order_id, "PaymentRefunded")
    payment = payment_of(operator, order_id)
    assert payment["status"] == "REFUNDED"
    assert Decimal(payment["refunded_amount"]) == Decimal(payment["captured_amount"])


def chocolate_to_shanghai(passport: str) -> dict:
    """CNY 4,500 of Belgian pralines (goods 4,000, shipping 400, insurance 100)."""
    return order_body(
        currency="CNY",
        seller={"name": "Chocolaterie Liégeoise SRL", "country": "BE"},
        buyer={
            "name": "Chen Jie",
            "email": "chen.jie@example.cn",
            "address": {
                "line1": "1 Nanjing Road",
                "city": "Shanghai",
                "postal_code": "200001",
                "country": "CN",
            },
            "identity": {"document_type": "PASSPORT", "number": passport},
        },
        items=[
            {
                "sku": "PRALINES-500",
                "description": "Chocolate pralines, filled, 500 g box",
                "hs_code": "18063100",
                "quantity": 10,
                "unit_price": "400.00",
                "weight_kg": "0.600",
                "origin_country": "BE",
            }
        ],
        shipping_cost="400.00",
        insurance_cost="100.00",
        payment={"token": "tok_visa", "payer_name": "Chen Jie"},
    )


async def test_a_buyers_cbec_year_counts_cleared_orders_only(partner, databases):
    passport = f"E{uuid.uuid4().int % 10**8:08d}"
    shipped = []
    for _ in range(5):  # 5 x CNY 4,500 = 22,500 of the CNY 26,000 a year
        order_id = place(partner, chocolate_to_shanghai(passport)).json()["id"]
        wait_for_status(partner, order_id, {"SHIPPED"})
        shipped.append(order_id)

    over = place(partner, chocolate_to_shanghai(passport)).json()["id"]
    refused = wait_for_status(partner, over, {"CUSTOMS_REJECTED"})
    reasons = next(e for e in refused["timeline"] if e["event_type"] == "CustomsRejected")
    assert any("26000" in r or "26,000" in r for r in reasons["detail"]["reasons"]), reasons

    cancelled = partner.post(f"/v1/orders/{shipped[0]}/cancel", json={"reason": "duplicate"})
    assert cancelled.status_code == 202
    wait_for_status(partner, shipped[0], {"CANCELLED"})
    assert await wait_for_declaration(databases, shipped[0], "WITHDRAWN")

    again = place(partner, chocolate_to_shanghai(passport)).json()["id"]
    assert wait_for_status(partner, again, {"SHIPPED", "CUSTOMS_REJECTED"})["status"] == "SHIPPED"
