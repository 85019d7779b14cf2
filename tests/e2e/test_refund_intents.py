"""An operator's refund is committed as an intent before the processor is asked; a crash
before or after the processor's answer leaves a pending intent that the payments service's
recovery job settles by asking again with the same key: paid out once, recorded once."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.payments.domain.gateway import GatewayOutcome, GatewayRequest
from services.payments.domain.payment import GatewayOperation, refund_request_key
from services.payments.sandbox_store import StoredSandbox
from shared.money import Money
from tests.e2e.orders import order_body, place, wait_for_event, wait_for_status
from tests.infrastructure import admin_url

pytestmark = pytest.mark.e2e

# What `Payments.request_refund` commits before the processor is asked.
COMMIT_INTENT = """
INSERT INTO refund_intents (id, payment_id, idempotency_key, amount, reason, requested_by,
                            requested_at)
VALUES (:id, :payment_id, :key, :amount, 'goodwill', 'finance.maes', now() - interval '1 minute')
"""
REFUND_OPERATIONS = """
SELECT count(*) FROM payment_operations WHERE idempotency_key = :key AND kind = 'REFUND'
"""
PROCESSOR_REFUNDED = """
SELECT state -> 'refunded' ->> 'amount' FROM sandbox_memory
WHERE key = (SELECT authorization_reference FROM payments WHERE id = :payment_id)
"""


def _captured_payment(partner, operator) -> dict:
    order_id = place(partner, order_body()).raise_for_status().json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    with operator("payments", "finance.maes") as payments:
        return payments.get("/v1/payments", params={"order_id": order_id}).json()[0]


async def _ask_processor_like_the_service(payment: dict, key: str, amount: str) -> None:
    """The processor's side of a refund the service asked for and then crashed."""
    engine = create_async_engine(admin_url("ehub_payments_test"))
    try:
        async with AsyncSession(engine) as session, session.begin():
            reference, token = (
                await session.execute(
                    text("SELECT authorization_reference, token FROM payments WHERE id = :id"),
                    {"id": payment["id"]},
                )
            ).one()
            answer = await StoredSandbox(session).submit(
                GatewayRequest(
                    GatewayOperation.REFUND,
                    key,
                    token,
                    Money(Decimal(amount), payment["currency"]),
                    authorization_reference=reference,
                )
            )
        assert answer.outcome is GatewayOutcome.APPROVED
    finally:
        await engine.dispose()


@pytest.mark.parametrize("processor_answered", [False, True], ids=["before", "after"])
async def test_a_refund_pending_after_a_crash_is_settled_once_with_the_same_key(
    partner, operator, databases, processor_answered
):
    payment = _captured_payment(partner, operator)
    intent_id = uuid.uuid4()
    key = refund_request_key(uuid.UUID(payment["id"]), intent_id)
    await databases.execute(
        "payments", COMMIT_INTENT, id=intent_id, payment_id=payment["id"], key=key, amount="5.00"
    )
    if processor_answered:
        await _ask_processor_like_the_service(payment, key, "5.00")

    deadline = time.monotonic() + 30
    outcome = None
    while outcome is None and time.monotonic() < deadline:
        outcome = await databases.scalar(
            "payments", "SELECT outcome FROM refund_intents WHERE id = :id", id=intent_id
        )
        await asyncio.sleep(0.5)

    assert outcome == "APPROVED"
    assert await databases.scalar("payments", REFUND_OPERATIONS, key=key) == 1
    assert Decimal(
        await databases.scalar("payments", PROCESSOR_REFUNDED, payment_id=payment["id"])
    ) == Decimal("5.00")
    with operator("payments", "finance.maes") as payments:
        after = payments.get(f"/v1/payments/{payment['id']}").json()
    assert Decimal(after["refunded_amount"]) == Decimal("5.00")
    wait_for_event(partner, payment["order_id"], "PaymentRefunded")


async def test_a_refund_through_the_route_commits_its_intent_and_settles_it(
    partner, operator, databases
):
    payment = _captured_payment(partner, operator)

    with operator("payments", "finance.maes") as payments:
        response = payments.post(
            f"/v1/payments/{payment['id']}/refunds", json={"amount": "3.00", "reason": "goodwill"}
        )

    assert response.status_code == 201, response.text
    refund = response.json()["refund"]
    assert refund["outcome"] == "APPROVED"
    assert refund["requested_by"] == "finance.maes"
    assert Decimal(response.json()["refunded_amount"]) == Decimal("3.00")
    assert await databases.scalar("payments", REFUND_OPERATIONS, key=refund["idempotency_key"]) == 1
