from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.payments.domain.errors import (
    AmountExceedsAvailable,
    AuthorizationExpired,
    IllegalTransition,
    InvalidAmount,
    InvalidTimestamp,
    PaymentsDomainError,
)
from services.payments.domain.payment import (
    DEFAULT_AUTHORIZATION_WINDOW,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    GatewayOperation,
    OperationKind,
    Payment,
    PaymentStatus,
    idempotency_key,
)
from shared.money import Money

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PAYMENT_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")
ORDER_ID = uuid.UUID("99999999-8888-7777-6666-555555555555")


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def new_payment(currency: str = "EUR") -> Payment:
    return Payment.open(PAYMENT_ID, ORDER_ID, currency)


def authorized(amount: str = "100.00") -> Payment:
    payment = new_payment()
    payment.record_authorization(eur(amount), T0)
    return payment


def payment_in(status: PaymentStatus) -> Payment:
    payment = new_payment()
    if status is PaymentStatus.PENDING:
        return payment
    if status is PaymentStatus.DECLINED:
        payment.record_decline("card_declined", T0)
        return payment
    if status is PaymentStatus.FAILED:
        payment.record_failure("processor unreachable", T0)
        return payment
    payment.record_authorization(eur("100.00"), T0)
    if status is PaymentStatus.VOIDED:
        payment.void("order cancelled", T0)
    elif status is not PaymentStatus.AUTHORIZED:
        payment.capture(eur("80.00"), T0)
        if status is PaymentStatus.PARTIALLY_REFUNDED:
            payment.refund(eur("30.00"), T0)
        elif status is PaymentStatus.REFUNDED:
            payment.refund(eur("80.00"), T0)
    assert payment.status is status
    return payment


# ---- lifecycle ------------------------------------------------------------------------


def test_open_payment_is_pending_with_zero_amounts() -> None:
    payment = new_payment()
    assert payment.status is PaymentStatus.PENDING
    assert (
        payment.authorized_amount == payment.captured_amount == payment.refunded_amount == eur("0")
    )
    assert payment.operations == []


def test_authorization_sets_window_of_seven_days_by_default() -> None:
    payment = authorized("120.50")
    assert payment.status is PaymentStatus.AUTHORIZED
    assert payment.authorized_amount == eur("120.50")
    assert payment.authorized_at == T0
    assert payment.expires_at == T0 + DEFAULT_AUTHORIZATION_WINDOW == T0 + timedelta(days=7)


def test_authorization_window_is_configurable() -> None:
    payment = new_payment()
    payment.record_authorization(eur("10"), T0, window=timedelta(days=30))
    assert payment.expires_at == T0 + timedelta(days=30)


def test_authorization_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        new_payment().record_authorization(eur("10"), T0, window=timedelta(0))


def test_full_journey_capture_partially_then_refund_everything() -> None:
    payment = authorized("100.00")
    statuses = []
    assert payment.capture(eur("90.00"), T0 + timedelta(days=1)) == eur("90.00")
    statuses.append(payment.status)
    payment.refund(eur("40.00"), T0 + timedelta(days=2), reason="one item returned")
    statuses.append(payment.status)
    assert payment.refundable_amount == eur("50.00")
    payment.refund(eur("50.00"), T0 + timedelta(days=3))
    statuses.append(payment.status)
    assert statuses == [
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
    ]
    assert payment.refunded_amount == eur("90.00")
    assert [operation.kind for operation in payment.operations] == [
        OperationKind.AUTHORIZATION,
        OperationKind.CAPTURE,
        OperationKind.REFUND,
        OperationKind.REFUND,
    ]


def test_full_refund_at_once_moves_straight_to_refunded() -> None:
    payment = authorized("100.00")
    payment.capture(eur("100.00"), T0)
    payment.refund(eur("100.00"), T0)
    assert payment.status is PaymentStatus.REFUNDED


def test_capture_is_rounded_half_up_to_minor_units() -> None:
    payment = authorized("100.00")
    assert payment.capture(eur("10.005"), T0) == eur("10.01")
    assert payment.captured_amount.amount == Decimal("10.01")


def test_yen_amounts_have_no_minor_units() -> None:
    payment = new_payment("JPY")
    payment.record_authorization(Money.of("15000.4", "JPY"), T0)
    assert payment.authorized_amount == Money.of("15000", "JPY")
    assert payment.capture(Money.of("9999.5", "JPY"), T0) == Money.of("10000", "JPY")


def test_capture_above_authorization_is_refused() -> None:
    payment = authorized("100.00")
    with pytest.raises(AmountExceedsAvailable, match=r"only 100\.00 EUR is authorised"):
        payment.capture(eur("100.01"), T0)
    assert payment.status is PaymentStatus.AUTHORIZED


def test_second_capture_is_refused_even_after_a_partial_one() -> None:
    payment = authorized("100.00")
    payment.capture(eur("60.00"), T0)
    with pytest.raises(IllegalTransition, match="cannot capture while CAPTURED"):
        payment.capture(eur("40.00"), T0)


def test_refund_above_remaining_is_refused() -> None:
    payment = authorized("100.00")
    payment.capture(eur("100.00"), T0)
    payment.refund(eur("70.00"), T0)
    with pytest.raises(AmountExceedsAvailable, match=r"only 30\.00 EUR"):
        payment.refund(eur("30.01"), T0)
    assert payment.refunded_amount == eur("70.00")


def test_capture_after_expiry_is_refused() -> None:
    payment = authorized()
    with pytest.raises(AuthorizationExpired):
        payment.capture(eur("10"), T0 + timedelta(days=7))
    assert payment.status is PaymentStatus.AUTHORIZED


def test_is_expired_only_while_awaiting_capture() -> None:
    payment = authorized()
    assert not payment.is_expired(T0 + timedelta(days=6, hours=23))
    assert payment.is_expired(T0 + timedelta(days=7))
    payment.void("expired hold released", T0 + timedelta(days=8))
    assert not payment.is_expired(T0 + timedelta(days=30))
    assert not new_payment().is_expired(T0)


def test_void_releases_the_whole_hold() -> None:
    payment = authorized("55.00")
    payment.void("order cancelled", T0)
    assert payment.status is PaymentStatus.VOIDED
    assert payment.operations[-1].kind is OperationKind.VOID
    assert payment.operations[-1].amount == eur("55.00")
    assert payment.operations[-1].reason == "order cancelled"


def test_decline_records_reason() -> None:
    payment = new_payment()
    payment.record_decline("insufficient_funds", T0)
    assert payment.status is PaymentStatus.DECLINED
    assert payment.operations[-1].reason == "insufficient_funds"


def test_reason_is_required() -> None:
    with pytest.raises(ValueError, match="reason"):
        authorized().void("  ", T0)


@pytest.mark.parametrize("amount", ["0", "-5", "0.004"])
def test_non_positive_amounts_are_refused(amount: str) -> None:
    with pytest.raises(InvalidAmount, match="positive"):
        new_payment().record_authorization(eur(amount), T0)


def test_other_currency_is_refused() -> None:
    with pytest.raises(InvalidAmount, match="is in EUR, got USD"):
        authorized().capture(Money.of("10", "USD"), T0)


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidTimestamp, match="no timezone"):
        new_payment().record_authorization(eur("10"), datetime(2026, 3, 2, 9, 0))


def test_time_running_backwards_is_refused() -> None:
    payment = authorized()
    with pytest.raises(InvalidTimestamp, match="before the last operation"):
        payment.capture(eur("10"), T0 - timedelta(seconds=1))


def test_other_timezones_are_stored_as_utc() -> None:
    brussels_winter = timezone(timedelta(hours=1))
    payment = new_payment()
    payment.record_authorization(eur("10"), datetime(2026, 3, 2, 10, 0, tzinfo=brussels_winter))
    assert payment.authorized_at == T0
    assert payment.authorized_at.tzinfo is UTC


def test_failure_while_authorized_is_a_failed_capture() -> None:
    payment = authorized()
    expected_key = payment.next_idempotency_key(GatewayOperation.CAPTURE)
    payment.record_failure("capture_declined", T0)
    assert payment.status is PaymentStatus.FAILED
    assert payment.operations[-1].idempotency_key == expected_key


# ---- illegal transitions, table-driven ------------------------------------------------

ACTIONS: dict[str, Callable[[Payment], object]] = {
    "authorize": lambda p: p.record_authorization(eur("10.00"), T0),
    "decline": lambda p: p.record_decline("card_declined", T0),
    "capture": lambda p: p.capture(eur("10.00"), T0),
    "void": lambda p: p.void("cancelled", T0),
    "refund": lambda p: p.refund(eur("10.00"), T0),
    "fail": lambda p: p.record_failure("gave up", T0),
}
ALLOWED: dict[PaymentStatus, set[str]] = {
    PaymentStatus.PENDING: {"authorize", "decline", "fail"},
    PaymentStatus.AUTHORIZED: {"capture", "void", "fail"},
    PaymentStatus.CAPTURED: {"refund"},
    PaymentStatus.PARTIALLY_REFUNDED: {"refund"},
    PaymentStatus.REFUNDED: set(),
    PaymentStatus.VOIDED: set(),
    PaymentStatus.DECLINED: set(),
    PaymentStatus.FAILED: set(),
}
CASES = [
    (status, action, action in ALLOWED[status]) for status in PaymentStatus for action in ACTIONS
]


@pytest.mark.parametrize(("status", "action", "allowed"), CASES)
def test_transition_table(status: PaymentStatus, action: str, allowed: bool) -> None:
    payment = payment_in(status)
    operations_before = list(payment.operations)
    if allowed:
        ACTIONS[action](payment)
        assert len(payment.operations) == len(operations_before) + 1
    else:
        with pytest.raises(IllegalTransition, match=f"while {status.value}"):
            ACTIONS[action](payment)
        assert payment.status is status
        assert payment.operations == operations_before


# ---- idempotency keys -----------------------------------------------------------------


def test_idempotency_key_is_deterministic_and_distinct() -> None:
    key = idempotency_key(PAYMENT_ID, GatewayOperation.CAPTURE, 2)
    assert key == idempotency_key(PAYMENT_ID, GatewayOperation.CAPTURE, 2)
    assert key == f"payment:{PAYMENT_ID}:capture:2"
    assert key != idempotency_key(PAYMENT_ID, GatewayOperation.VOID, 2)
    assert key != idempotency_key(PAYMENT_ID, GatewayOperation.CAPTURE, 3)
    assert len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH


def test_idempotency_sequence_starts_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        idempotency_key(PAYMENT_ID, GatewayOperation.AUTHORIZE, 0)


def test_next_key_is_stable_until_the_outcome_is_recorded() -> None:
    payment = new_payment()
    key = payment.next_idempotency_key(GatewayOperation.AUTHORIZE)
    assert key == payment.next_idempotency_key(GatewayOperation.AUTHORIZE)
    payment.record_authorization(eur("10"), T0)
    assert payment.operations[-1].idempotency_key == key
    capture_key = payment.next_idempotency_key(GatewayOperation.CAPTURE)
    assert capture_key != key
    payment.capture(eur("10"), T0)
    assert payment.operations[-1].idempotency_key == capture_key


@given(
    payment_id=st.uuids(),
    operation=st.sampled_from(GatewayOperation),
    sequence=st.integers(min_value=1, max_value=10**12),
)
def test_idempotency_keys_fit_the_processor_limit(
    payment_id: uuid.UUID, operation: GatewayOperation, sequence: int
) -> None:
    assert 0 < len(idempotency_key(payment_id, operation, sequence)) <= MAX_IDEMPOTENCY_KEY_LENGTH


# ---- invariants under any sequence of operations --------------------------------------

amounts = st.decimals(min_value=Decimal("-5"), max_value=Decimal("250"), places=3)
steps = st.tuples(
    st.sampled_from(["authorize", "decline", "capture", "void", "refund", "fail"]),
    amounts,
    st.integers(min_value=0, max_value=3 * 24 * 3600),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=12))
def test_amount_invariants_hold_for_any_operation_sequence(
    sequence: list[tuple[str, Decimal, int]],
) -> None:
    payment = new_payment()
    now = T0
    for action, amount, seconds_later in sequence:
        now += timedelta(seconds=seconds_later)
        money = eur(str(amount))
        operations_before = len(payment.operations)
        try:
            if action == "authorize":
                payment.record_authorization(money, now)
            elif action == "decline":
                payment.record_decline("card_declined", now)
            elif action == "capture":
                payment.capture(money, now)
            elif action == "void":
                payment.void("cancelled", now)
            elif action == "refund":
                payment.refund(money, now)
            else:
                payment.record_failure("gave up", now)
        except PaymentsDomainError:
            assert len(payment.operations) == operations_before
        zero = Decimal(0)
        assert zero <= payment.refunded_amount.amount <= payment.captured_amount.amount
        assert payment.captured_amount.amount <= payment.authorized_amount.amount
        assert all(operation.amount.amount >= zero for operation in payment.operations)
        assert all(
            operation.amount.amount == operation.amount.amount.quantize(Decimal("0.01"))
            for operation in payment.operations
        )
        captures = [op for op in payment.operations if op.kind is OperationKind.CAPTURE]
        assert len(captures) <= 1
        keys = [operation.idempotency_key for operation in payment.operations]
        assert len(set(keys)) == len(keys)
