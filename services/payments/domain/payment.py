"""The Payment aggregate: authorise, capture once, refund; or void, decline, fail.

Card-network semantics as documented by Stripe and Adyen:

- an authorisation holds funds for a limited window (about 7 days for cards);
- one capture per authorisation, of at most the authorised amount; a partial
  capture releases the rest of the hold;
- a void releases the hold before any capture;
- refunds come after the capture and never exceed what remains unrefunded.

Every amount is rounded half-up to the currency's minor units once, when it is
recorded. Every gateway request carries a deterministic idempotency key derived
from the payment and the position of the operation in its log, so a service
that crashes between the gateway call and saving the payment sends the very
same key again on restart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services.payments.domain.errors import (
    AmountExceedsAvailable,
    AuthorizationExpired,
    IllegalTransition,
    InvalidAmount,
    InvalidTimestamp,
)
from shared.money import Money, round_money

DEFAULT_AUTHORIZATION_WINDOW = timedelta(days=7)
MAX_IDEMPOTENCY_KEY_LENGTH = 255


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    CAPTURED = "CAPTURED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    VOIDED = "VOIDED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"


class GatewayOperation(StrEnum):
    """What the payments service asks of a processor."""

    AUTHORIZE = "authorize"
    INCREMENT_AUTHORIZATION = "increment_authorization"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class OperationKind(StrEnum):
    """What happened to the payment, as recorded in its operation log."""

    AUTHORIZATION = "AUTHORIZATION"
    INCREMENTAL_AUTHORIZATION = "INCREMENTAL_AUTHORIZATION"
    DECLINE = "DECLINE"
    CAPTURE = "CAPTURE"
    VOID = "VOID"
    REFUND = "REFUND"
    FAILURE = "FAILURE"


_ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.AUTHORIZED, PaymentStatus.DECLINED, PaymentStatus.FAILED}
    ),
    PaymentStatus.AUTHORIZED: frozenset(
        {PaymentStatus.CAPTURED, PaymentStatus.VOIDED, PaymentStatus.FAILED}
    ),
    PaymentStatus.CAPTURED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
    ),
    PaymentStatus.REFUNDED: frozenset(),
    PaymentStatus.VOIDED: frozenset(),
    PaymentStatus.DECLINED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
}


def can_transition(source: PaymentStatus, target: PaymentStatus) -> bool:
    return target in _ALLOWED_TRANSITIONS[source]


def idempotency_key(payment_id: uuid.UUID, operation: GatewayOperation, sequence: int) -> str:
    """The key for the `sequence`-th operation (1-based) of a payment's log.

    Deterministic, so a retried request reuses its key; the operation is part of
    the key so that, say, a void tried after an unanswered capture is a new
    request rather than a clash with the capture's stored result.
    """
    if sequence < 1:
        raise ValueError(f"operation sequence starts at 1, got {sequence}")
    key = f"payment:{payment_id}:{GatewayOperation(operation).value}:{sequence}"
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValueError(f"idempotency key longer than {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    return key


def refund_request_key(payment_id: uuid.UUID, request_id: uuid.UUID) -> str:
    """The key of an operator's refund, fixed when the request is committed as an intent.

    Not positional: other operations may be recorded while the intent waits for the
    processor, and the refund is recorded under the key the processor was asked with.
    """
    return f"payment:{payment_id}:{GatewayOperation.REFUND.value}:request:{request_id}"


@dataclass(frozen=True, slots=True)
class PaymentOperation:
    kind: OperationKind
    amount: Money
    idempotency_key: str
    at: datetime
    reason: str | None = None


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTimestamp(f"{moment.isoformat()} has no timezone; pass aware UTC time")
    return moment.astimezone(UTC)


def _required_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise ValueError("a reason is required")
    return reason.strip()


@dataclass
class Payment:
    payment_id: uuid.UUID
    order_id: uuid.UUID
    currency: str
    authorized_amount: Money
    captured_amount: Money
    refunded_amount: Money
    status: PaymentStatus = PaymentStatus.PENDING
    authorized_at: datetime | None = None
    expires_at: datetime | None = None
    operations: list[PaymentOperation] = field(default_factory=list)

    @classmethod
    def open(cls, payment_id: uuid.UUID, order_id: uuid.UUID, currency: str) -> Payment:
        zero = Money.zero(currency)
        return cls(
            payment_id=payment_id,
            order_id=order_id,
            currency=currency,
            authorized_amount=zero,
            captured_amount=zero,
            refunded_amount=zero,
        )

    @property
    def refundable_amount(self) -> Money:
        return self.captured_amount - self.refunded_amount

    def next_idempotency_key(self, operation: GatewayOperation) -> str:
        """The key to send with the gateway request whose outcome will be recorded next."""
        return idempotency_key(self.payment_id, operation, len(self.operations) + 1)

    def is_expired(self, now: datetime) -> bool:
        """Whether an authorisation still awaiting capture has outlived its window.

        Once captured, voided or closed the hold no longer exists, so nothing expires.
        """
        if self.status is not PaymentStatus.AUTHORIZED or self.expires_at is None:
            return False
        return _aware_utc(now) >= self.expires_at

    # ---- state changes -----------------------------------------------------------

    def record_authorization(
        self,
        amount: Money,
        at: datetime,
        window: timedelta = DEFAULT_AUTHORIZATION_WINDOW,
    ) -> None:
        self._require(PaymentStatus.AUTHORIZED, "record an authorisation")
        if window <= timedelta(0):
            raise ValueError(f"authorisation window must be positive, got {window}")
        authorized = self._positive_amount(amount)
        at = self._next_moment(at)
        key = self.next_idempotency_key(GatewayOperation.AUTHORIZE)
        self.authorized_amount = authorized
        self.authorized_at = at
        self.expires_at = at + window
        self._append(OperationKind.AUTHORIZATION, authorized, key, at)
        self.status = PaymentStatus.AUTHORIZED

    def record_incremental_authorization(self, amount: Money, at: datetime) -> None:
        """Raise the hold by `amount` before capture (e.g. duties the buyer owes at checkout)."""
        if self.status is not PaymentStatus.AUTHORIZED:
            raise IllegalTransition(
                f"payment {self.payment_id}: cannot increase an authorisation while "
                f"{self.status.value}"
            )
        increment = self._positive_amount(amount)
        at = self._next_moment(at)
        key = self.next_idempotency_key(GatewayOperation.INCREMENT_AUTHORIZATION)
        self.authorized_amount = self.authorized_amount + increment
        self._append(OperationKind.INCREMENTAL_AUTHORIZATION, increment, key, at)

    def record_decline(self, reason: str, at: datetime) -> None:
        self._require(PaymentStatus.DECLINED, "record a decline")
        at = self._next_moment(at)
        key = self.next_idempotency_key(GatewayOperation.AUTHORIZE)
        self._append(OperationKind.DECLINE, self._zero(), key, at, _required_reason(reason))
        self.status = PaymentStatus.DECLINED

    def capture(self, amount: Money, at: datetime) -> Money:
        """Capture once, at most the authorised amount; returns the amount captured."""
        self._require(PaymentStatus.CAPTURED, "capture")
        captured = self._positive_amount(amount)
        at = self._next_moment(at)
        if self.expires_at is not None and at >= self.expires_at:
            raise AuthorizationExpired(
                f"payment {self.payment_id}: authorisation expired at "
                f"{self.expires_at.isoformat()}, capture attempted at {at.isoformat()}"
            )
        if captured.amount > self.authorized_amount.amount:
            raise AmountExceedsAvailable(
                f"payment {self.payment_id}: cannot capture {captured}, "
                f"only {self.authorized_amount} is authorised"
            )
        key = self.next_idempotency_key(GatewayOperation.CAPTURE)
        self.captured_amount = captured
        self._append(OperationKind.CAPTURE, captured, key, at)
        self.status = PaymentStatus.CAPTURED
        return captured

    def void(self, reason: str, at: datetime) -> None:
        """Release the whole hold before capture."""
        self._require(PaymentStatus.VOIDED, "void")
        at = self._next_moment(at)
        key = self.next_idempotency_key(GatewayOperation.VOID)
        self._append(
            OperationKind.VOID,
            self.authorized_amount,
            key,
            at,
            _required_reason(reason),
        )
        self.status = PaymentStatus.VOIDED

    def check_refundable(self, amount: Money) -> Money:
        """Refuse, without changing anything, a refund this payment cannot take; else its amount."""
        self._require(PaymentStatus.PARTIALLY_REFUNDED, "refund")
        refunded = self._positive_amount(amount)
        if refunded.amount > self.refundable_amount.amount:
            raise AmountExceedsAvailable(
                f"payment {self.payment_id}: cannot refund {refunded}, "
                f"only {self.refundable_amount} of {self.captured_amount} captured remains"
            )
        return refunded

    def refund(
        self,
        amount: Money,
        at: datetime,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Money:
        """Refund part or all of what remains captured; returns the amount refunded.

        `idempotency_key` is the key the processor was asked with when it is not this
        operation's positional key (an operator's refund: `refund_request_key`).
        """
        refunded = self.check_refundable(amount)
        at = self._next_moment(at)
        key = idempotency_key or self.next_idempotency_key(GatewayOperation.REFUND)
        self.refunded_amount = self.refunded_amount + refunded
        self._append(OperationKind.REFUND, refunded, key, at, reason)
        fully_refunded = self.refunded_amount.amount == self.captured_amount.amount
        self.status = PaymentStatus.REFUNDED if fully_refunded else PaymentStatus.PARTIALLY_REFUNDED
        return refunded

    def record_failure(self, reason: str, at: datetime) -> None:
        """The processor can never complete the pending step (authorisation or capture)."""
        self._require(PaymentStatus.FAILED, "record a failure")
        at = self._next_moment(at)
        failed_operation = (
            GatewayOperation.AUTHORIZE
            if self.status is PaymentStatus.PENDING
            else GatewayOperation.CAPTURE
        )
        key = self.next_idempotency_key(failed_operation)
        self._append(OperationKind.FAILURE, self._zero(), key, at, _required_reason(reason))
        self.status = PaymentStatus.FAILED

    # ---- rules -------------------------------------------------------------------

    def _require(self, target: PaymentStatus, action: str) -> None:
        if not can_transition(self.status, target):
            raise IllegalTransition(
                f"payment {self.payment_id}: cannot {action} while {self.status.value}"
            )

    def _positive_amount(self, amount: Money) -> Money:
        if amount.currency != self.currency:
            raise InvalidAmount(
                f"payment {self.payment_id} is in {self.currency}, got {amount.currency}"
            )
        rounded = Money(round_money(amount.amount, self.currency), self.currency)
        if rounded.amount <= 0:
            raise InvalidAmount(
                f"payment {self.payment_id}: amount must be positive after rounding, got {amount}"
            )
        return rounded

    def _next_moment(self, at: datetime) -> datetime:
        at = _aware_utc(at)
        if self.operations and at < self.operations[-1].at:
            raise InvalidTimestamp(
                f"payment {self.payment_id}: {at.isoformat()} is before the last operation "
                f"at {self.operations[-1].at.isoformat()}"
            )
        return at

    def _zero(self) -> Money:
        return Money.zero(self.currency)

    def _append(
        self,
        kind: OperationKind,
        amount: Money,
        key: str,
        at: datetime,
        reason: str | None = None,
    ) -> None:
        self.operations.append(PaymentOperation(kind, amount, key, at, reason))
