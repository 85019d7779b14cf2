from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.payments.domain.errors import IdempotencyKeyReused
from services.payments.domain.gateway import (
    GatewayOutcome,
    GatewayRequest,
    GatewayResponse,
    IdempotencyRecord,
    PaymentGateway,
    SandboxGateway,
)
from services.payments.domain.payment import GatewayOperation, Payment, PaymentStatus
from services.payments.domain.retry import RetryPolicy
from shared.money import Money

EUR_100 = Money.of("100.00", "EUR")


def authorize(token: str, key: str = "auth-1", amount: Money = EUR_100) -> GatewayRequest:
    return GatewayRequest(GatewayOperation.AUTHORIZE, key, token, amount)


def follow_up(
    operation: GatewayOperation,
    reference: str,
    key: str,
    amount: Money = EUR_100,
    token: str = "tok_visa",
) -> GatewayRequest:
    return GatewayRequest(operation, key, token, amount, authorization_reference=reference)


def approved_authorization(gateway: SandboxGateway, token: str = "tok_visa") -> str:
    response = gateway.submit(authorize(token))
    assert response.outcome is GatewayOutcome.APPROVED
    assert response.gateway_reference is not None
    return response.gateway_reference


def test_sandbox_satisfies_the_gateway_protocol() -> None:
    gateway: PaymentGateway = SandboxGateway()
    assert gateway.submit(authorize("tok_mastercard")).outcome is GatewayOutcome.APPROVED


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("tok_chargeDeclinedExpiredCard", "expired_card"),
        ("tok_unknown", "invalid_token"),
    ],
)
def test_declining_tokens(token: str, reason: str) -> None:
    response = SandboxGateway().submit(authorize(token))
    assert response == GatewayResponse(GatewayOutcome.DECLINED, reason, None)


def test_same_key_replays_the_stored_result() -> None:
    gateway = SandboxGateway()
    first = gateway.submit(authorize("tok_visa"))
    again = gateway.submit(authorize("tok_visa"))
    assert again == first
    assert gateway.idempotency_records["auth-1"].attempts == 1


def test_a_stored_decline_is_replayed_too() -> None:
    gateway = SandboxGateway()
    assert gateway.submit(authorize("tok_chargeDeclined")).reason == "card_declined"
    assert gateway.submit(authorize("tok_chargeDeclined")).reason == "card_declined"


@pytest.mark.parametrize(
    "changed",
    [
        authorize("tok_visa", amount=Money.of("100.01", "EUR")),
        authorize("tok_mastercard"),
        authorize("tok_visa", amount=Money.of("100.00", "USD")),
    ],
)
def test_same_key_with_other_parameters_is_refused(changed: GatewayRequest) -> None:
    gateway = SandboxGateway()
    gateway.submit(authorize("tok_visa"))
    with pytest.raises(IdempotencyKeyReused, match="auth-1"):
        gateway.submit(changed)


def test_same_key_for_another_operation_is_refused() -> None:
    gateway = SandboxGateway()
    reference = approved_authorization(gateway)
    with pytest.raises(IdempotencyKeyReused):
        gateway.submit(follow_up(GatewayOperation.CAPTURE, reference, key="auth-1"))


def test_equal_amounts_written_differently_are_the_same_parameters() -> None:
    gateway = SandboxGateway()
    first = gateway.submit(authorize("tok_visa", amount=Money.of("100", "EUR")))
    assert gateway.submit(authorize("tok_visa", amount=Money.of("100.00", "EUR"))) == first


def test_timeout_token_fails_once_per_key_then_succeeds() -> None:
    gateway = SandboxGateway()
    first = gateway.submit(authorize("tok_timeout"))
    assert first == GatewayResponse(GatewayOutcome.TRANSIENT_FAILURE, "timeout")
    assert first.is_transient
    retried = gateway.submit(authorize("tok_timeout"))
    assert retried.outcome is GatewayOutcome.APPROVED
    assert gateway.submit(authorize("tok_timeout")) == retried
    assert retried.gateway_reference is not None
    capture = follow_up(GatewayOperation.CAPTURE, retried.gateway_reference, "capture-2")
    assert gateway.submit(capture).reason == "timeout"
    assert gateway.submit(capture).outcome is GatewayOutcome.APPROVED


def test_transient_error_token_fails_twice_then_succeeds() -> None:
    gateway = SandboxGateway()
    outcomes = [gateway.submit(authorize("tok_transientError")).outcome for _ in range(4)]
    assert outcomes == [
        GatewayOutcome.TRANSIENT_FAILURE,
        GatewayOutcome.TRANSIENT_FAILURE,
        GatewayOutcome.APPROVED,
        GatewayOutcome.APPROVED,
    ]


def test_records_live_in_the_dict_passed_in() -> None:
    records: dict[str, IdempotencyRecord] = {}
    first = SandboxGateway(records).submit(authorize("tok_visa"))
    assert records["auth-1"].response == first
    assert SandboxGateway(records).submit(authorize("tok_visa")) == first


def test_capture_void_and_refund_act_on_the_authorization() -> None:
    gateway = SandboxGateway()
    reference = approved_authorization(gateway)
    capture = gateway.submit(
        follow_up(GatewayOperation.CAPTURE, reference, "c1", Money.of("80", "EUR"))
    )
    assert capture.outcome is GatewayOutcome.APPROVED
    assert capture.gateway_reference not in (None, reference)
    assert (
        gateway.submit(follow_up(GatewayOperation.CAPTURE, reference, "c2")).reason
        == "already_captured"
    )
    assert (
        gateway.submit(follow_up(GatewayOperation.VOID, reference, "v1")).reason
        == "already_captured"
    )
    refund_50 = follow_up(GatewayOperation.REFUND, reference, "r1", Money.of("50", "EUR"))
    assert gateway.submit(refund_50).outcome is GatewayOutcome.APPROVED
    refund_31 = follow_up(GatewayOperation.REFUND, reference, "r2", Money.of("31", "EUR"))
    assert gateway.submit(refund_31).reason == "amount_exceeds_refundable"
    refund_30 = follow_up(GatewayOperation.REFUND, reference, "r3", Money.of("30", "EUR"))
    assert gateway.submit(refund_30).outcome is GatewayOutcome.APPROVED


@pytest.mark.parametrize(
    ("request_for", "reason"),
    [
        (
            lambda ref: follow_up(GatewayOperation.CAPTURE, ref, "k", Money.of("100.01", "EUR")),
            "amount_exceeds_authorization",
        ),
        (
            lambda ref: follow_up(GatewayOperation.CAPTURE, ref, "k", Money.of("10", "USD")),
            "currency_mismatch",
        ),
        (
            lambda ref: follow_up(GatewayOperation.CAPTURE, ref, "k", Money.of("0", "EUR")),
            "invalid_amount",
        ),
        (
            lambda ref: follow_up(GatewayOperation.CAPTURE, "sbx_nothing", "k"),
            "authorization_not_found",
        ),
        (lambda ref: follow_up(GatewayOperation.REFUND, ref, "k"), "not_captured"),
    ],
)
def test_follow_up_declines(request_for: Callable[[str], GatewayRequest], reason: str) -> None:
    gateway = SandboxGateway()
    reference = approved_authorization(gateway)
    assert gateway.submit(request_for(reference)).reason == reason


def test_void_then_capture_is_declined() -> None:
    gateway = SandboxGateway()
    reference = approved_authorization(gateway)
    assert (
        gateway.submit(follow_up(GatewayOperation.VOID, reference, "v1")).outcome
        is GatewayOutcome.APPROVED
    )
    assert (
        gateway.submit(follow_up(GatewayOperation.VOID, reference, "v2")).reason
        == "authorization_voided"
    )
    assert (
        gateway.submit(follow_up(GatewayOperation.CAPTURE, reference, "c1")).reason
        == "authorization_voided"
    )


def test_capture_fails_token_authorizes_but_never_captures() -> None:
    gateway = SandboxGateway()
    reference = approved_authorization(gateway, "tok_captureFails")
    capture = follow_up(GatewayOperation.CAPTURE, reference, "c1", token="tok_captureFails")
    assert gateway.submit(capture) == GatewayResponse(GatewayOutcome.DECLINED, "capture_declined")
    assert gateway.submit(capture).reason == "capture_declined"
    assert (
        gateway.submit(follow_up(GatewayOperation.VOID, reference, "v1")).outcome
        is GatewayOutcome.APPROVED
    )


def test_request_validation() -> None:
    with pytest.raises(ValueError, match="needs the authorisation reference"):
        GatewayRequest(GatewayOperation.CAPTURE, "k", "tok_visa", EUR_100)
    with pytest.raises(ValueError, match="cannot refer"):
        GatewayRequest(GatewayOperation.AUTHORIZE, "k", "tok_visa", EUR_100, "sbx_x")
    with pytest.raises(ValueError, match="1 to 255"):
        GatewayRequest(GatewayOperation.AUTHORIZE, "k" * 256, "tok_visa", EUR_100)


@settings(max_examples=50, deadline=None)
@given(
    token=st.sampled_from(
        ["tok_visa", "tok_timeout", "tok_transientError", "tok_chargeDeclined", "tok_captureFails"]
    ),
    calls=st.integers(min_value=1, max_value=6),
)
def test_once_definitive_a_key_always_answers_the_same(token: str, calls: int) -> None:
    gateway = SandboxGateway()
    responses = [gateway.submit(authorize(token)) for _ in range(calls)]
    definitive = [response for response in responses if not response.is_transient]
    assert all(response == definitive[0] for response in definitive)
    assert all(response.is_transient for response in responses[: len(responses) - len(definitive)])


def test_adapter_style_retry_loop_drives_a_payment_through_timeouts() -> None:
    """What the service adapter does: same key on every retry, backoff between attempts."""
    gateway = SandboxGateway()
    policy = RetryPolicy(max_attempts=3)
    jitter = random.Random(7).random
    payment = Payment.open(uuid.uuid4(), uuid.uuid4(), "EUR")
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def submit_with_retries(request: GatewayRequest) -> GatewayResponse:
        nonlocal now
        attempt = 1
        while True:
            response = gateway.submit(request)
            delay = policy.delay_after(attempt, jitter) if response.is_transient else None
            if delay is None:
                return response
            now += delay
            attempt += 1

    auth = submit_with_retries(
        GatewayRequest(
            GatewayOperation.AUTHORIZE,
            payment.next_idempotency_key(GatewayOperation.AUTHORIZE),
            "tok_transientError",
            EUR_100,
        )
    )
    assert auth.outcome is GatewayOutcome.APPROVED
    payment.record_authorization(EUR_100, now)
    assert auth.gateway_reference is not None
    capture = submit_with_retries(
        GatewayRequest(
            GatewayOperation.CAPTURE,
            payment.next_idempotency_key(GatewayOperation.CAPTURE),
            "tok_transientError",
            Money.of("90.00", "EUR"),
            auth.gateway_reference,
        )
    )
    assert capture.outcome is GatewayOutcome.APPROVED
    payment.capture(Money.of("90.00", "EUR"), now + timedelta(seconds=1))
    assert payment.status is PaymentStatus.CAPTURED
