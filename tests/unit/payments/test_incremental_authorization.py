"""Duties owed at checkout raise the hold before capture; refunds are checked before asking."""

from __future__ import annotations

import pytest

from services.payments.domain.errors import AmountExceedsAvailable, IllegalTransition
from services.payments.domain.gateway import (
    GatewayOutcome,
    GatewayRequest,
    SandboxGateway,
)
from services.payments.domain.payment import GatewayOperation, OperationKind, PaymentStatus
from tests.unit.payments.test_payment import T0, authorized, eur, payment_in


def test_incremental_authorization_raises_the_hold_so_the_duty_can_be_captured():
    payment = authorized("57.10")

    payment.record_incremental_authorization(eur("3.00"), T0)
    captured = payment.capture(eur("60.10"), T0)

    assert captured == eur("60.10")
    assert [op.kind for op in payment.operations] == [
        OperationKind.AUTHORIZATION,
        OperationKind.INCREMENTAL_AUTHORIZATION,
        OperationKind.CAPTURE,
    ]
    assert len({op.idempotency_key for op in payment.operations}) == 3


@pytest.mark.parametrize(
    "status",
    [s for s in PaymentStatus if s is not PaymentStatus.AUTHORIZED],
)
def test_incremental_authorization_only_while_authorized(status):
    with pytest.raises(IllegalTransition):
        payment_in(status).record_incremental_authorization(eur("1.00"), T0)


def test_check_refundable_refuses_without_changing_anything():
    payment = payment_in(PaymentStatus.PARTIALLY_REFUNDED)  # 80 captured, 30 refunded
    before = (payment.status, payment.refunded_amount, len(payment.operations))

    with pytest.raises(AmountExceedsAvailable):
        payment.check_refundable(eur("50.01"))

    assert payment.check_refundable(eur("50.00")) == eur("50.00")
    assert (payment.status, payment.refunded_amount, len(payment.operations)) == before


def test_sandbox_capture_may_take_the_incremented_amount_and_no_more():
    sandbox = SandboxGateway()
    auth = sandbox.submit(
        GatewayRequest(GatewayOperation.AUTHORIZE, "k1", "tok_visa", eur("57.10"))
    )
    reference = auth.gateway_reference

    def ask(operation: GatewayOperation, key: str, amount: str):
        return sandbox.submit(
            GatewayRequest(
                operation, key, "tok_visa", eur(amount), authorization_reference=reference
            )
        )

    assert ask(GatewayOperation.CAPTURE, "k2", "60.10").reason == "amount_exceeds_authorization"
    assert ask(GatewayOperation.INCREMENT_AUTHORIZATION, "k3", "3.00").outcome is (
        GatewayOutcome.APPROVED
    )
    assert ask(GatewayOperation.CAPTURE, "k4", "60.10").outcome is GatewayOutcome.APPROVED
    assert ask(GatewayOperation.INCREMENT_AUTHORIZATION, "k5", "1.00").reason == "already_captured"
