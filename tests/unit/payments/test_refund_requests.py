"""An operator's refund is recorded under the key its intent was committed with (no I/O)."""

from __future__ import annotations

import uuid

from services.payments.domain.gateway import GatewayOutcome, GatewayRequest, SandboxGateway
from services.payments.domain.payment import (
    GatewayOperation,
    OperationKind,
    PaymentStatus,
    refund_request_key,
)
from tests.unit.payments.test_payment import T0, eur, payment_in


def test_a_refund_request_key_is_fixed_by_the_request_not_by_the_log_position():
    payment = payment_in(PaymentStatus.CAPTURED)
    request_id = uuid.uuid4()
    key = refund_request_key(payment.payment_id, request_id)
    before = len(payment.operations)

    payment.refund(eur("5.00"), T0, "goodwill", idempotency_key=key)

    assert payment.operations[before].kind is OperationKind.REFUND
    assert payment.operations[before].idempotency_key == key
    assert key == refund_request_key(payment.payment_id, request_id)
    assert key != refund_request_key(payment.payment_id, uuid.uuid4())
    assert len(key) <= 255


def test_a_processor_asked_twice_with_a_request_key_refunds_once():
    gateway = SandboxGateway()
    authorization = gateway.submit(
        GatewayRequest(GatewayOperation.AUTHORIZE, "a1", "tok_visa", eur("50.00"))
    ).gateway_reference
    gateway.submit(
        GatewayRequest(
            GatewayOperation.CAPTURE,
            "c1",
            "tok_visa",
            eur("50.00"),
            authorization_reference=authorization,
        )
    )
    refund = GatewayRequest(
        GatewayOperation.REFUND,
        refund_request_key(uuid.uuid4(), uuid.uuid4()),
        "tok_visa",
        eur("20.00"),
        authorization_reference=authorization,
    )

    first, second = gateway.submit(refund), gateway.submit(refund)

    assert first == second and first.outcome is GatewayOutcome.APPROVED
    assert gateway.authorizations[authorization].refunded == eur("20.00")
