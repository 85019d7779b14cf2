"""The port to a card processor, and the built-in sandbox that plays one in test mode.

The domain stays synchronous: it defines the request and response data and a
synchronous `PaymentGateway` protocol. The service's adapter owns the network,
the asyncio and the persistence of idempotency records; `SandboxGateway` is the
in-process processor used when no real one is configured.

Idempotency follows Stripe's documented behaviour: the first definitive result
for a key is stored and replayed to every retry with that key; the same key
with different parameters is refused. A timeout or transient error is not a
result (the processor never finished executing), so it is not stored and a
retry with the same key is executed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.payments.domain.errors import IdempotencyKeyReused
from services.payments.domain.payment import MAX_IDEMPOTENCY_KEY_LENGTH, GatewayOperation
from shared.money import Money


class GatewayOutcome(StrEnum):
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    TRANSIENT_FAILURE = "TRANSIENT_FAILURE"


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    """One request to the processor.

    Capture, void and refund act on an earlier authorisation, named by the
    `authorization_reference` the processor returned when it approved it.
    """

    operation: GatewayOperation
    idempotency_key: str
    token: str
    amount: Money
    authorization_reference: str | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ValueError(
                f"idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
            )
        acts_on_authorization = self.operation is not GatewayOperation.AUTHORIZE
        if acts_on_authorization and not self.authorization_reference:
            raise ValueError(f"{self.operation.value} needs the authorisation reference")
        if not acts_on_authorization and self.authorization_reference:
            raise ValueError("an authorisation cannot refer to an earlier authorisation")


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    outcome: GatewayOutcome
    reason: str | None = None
    gateway_reference: str | None = None

    @property
    def is_transient(self) -> bool:
        return self.outcome is GatewayOutcome.TRANSIENT_FAILURE


class PaymentGateway(Protocol):
    def submit(self, request: GatewayRequest) -> GatewayResponse: ...


@dataclass
class IdempotencyRecord:
    """What a processor remembers about one idempotency key."""

    request: GatewayRequest
    attempts: int = 0
    response: GatewayResponse | None = None


# Stripe's test tokens for approvals and declines, plus sandbox-only tokens for
# behaviours Stripe reaches with other test cards (timeouts, capture failure).
APPROVING_TOKENS = frozenset({"tok_visa", "tok_mastercard"})
DECLINING_TOKENS: dict[str, str] = {
    "tok_chargeDeclined": "card_declined",
    "tok_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "tok_chargeDeclinedExpiredCard": "expired_card",
}
TIMEOUT_TOKEN = "tok_timeout"
TRANSIENT_ERROR_TOKEN = "tok_transientError"
CAPTURE_FAILS_TOKEN = "tok_captureFails"

# token -> (how many first attempts per key fail transiently, the reason they give)
_FAILING_FIRST_ATTEMPTS: dict[str, tuple[int, str]] = {
    TIMEOUT_TOKEN: (1, "timeout"),
    TRANSIENT_ERROR_TOKEN: (2, "processing_error"),
}
_AUTHORIZABLE_TOKENS = APPROVING_TOKENS | {
    TIMEOUT_TOKEN,
    TRANSIENT_ERROR_TOKEN,
    CAPTURE_FAILS_TOKEN,
}


@dataclass
class SandboxAuthorization:
    token: str
    amount: Money
    refunded: Money
    captured: Money | None = None
    voided: bool = False

    @property
    def refundable(self) -> Money:
        if self.captured is None:
            return Money.zero(self.amount.currency)
        return self.captured - self.refunded


def _declined(reason: str) -> GatewayResponse:
    return GatewayResponse(GatewayOutcome.DECLINED, reason)


class SandboxGateway:
    """A deterministic test-mode processor; behaviour is chosen by the card token.

    Capture, void and refund behave according to the token of the authorisation
    they act on, so `tok_timeout` makes the first attempt of every operation on
    that card time out, and `tok_captureFails` approves the authorisation but
    declines its capture for good.
    """

    def __init__(
        self,
        idempotency_records: dict[str, IdempotencyRecord] | None = None,
        authorizations: dict[str, SandboxAuthorization] | None = None,
    ) -> None:
        # Both maps are the processor's memory; the service may load them from and save them
        # to storage shared by its replicas, as a real processor's would be.
        self.idempotency_records = {} if idempotency_records is None else idempotency_records
        self.authorizations = {} if authorizations is None else authorizations

    def submit(self, request: GatewayRequest) -> GatewayResponse:
        record = self._record_for(request)
        if record.response is not None:
            return record.response
        record.attempts += 1
        card_token = self._card_token(request)
        failing_attempts, transient_reason = _FAILING_FIRST_ATTEMPTS.get(card_token, (0, ""))
        if record.attempts <= failing_attempts:
            return GatewayResponse(GatewayOutcome.TRANSIENT_FAILURE, transient_reason)
        record.response = self._execute(request, card_token)
        return record.response

    def _record_for(self, request: GatewayRequest) -> IdempotencyRecord:
        record = self.idempotency_records.get(request.idempotency_key)
        if record is None:
            record = IdempotencyRecord(request)
            self.idempotency_records[request.idempotency_key] = record
        elif record.request != request:
            raise IdempotencyKeyReused(
                f"idempotency key {request.idempotency_key!r} was first used for "
                f"{record.request.operation.value} of {record.request.amount}; "
                f"refusing {request.operation.value} of {request.amount} with it"
            )
        return record

    def _card_token(self, request: GatewayRequest) -> str:
        authorization = self.authorizations.get(request.authorization_reference or "")
        return authorization.token if authorization is not None else request.token

    def _execute(self, request: GatewayRequest, card_token: str) -> GatewayResponse:
        if request.amount.amount <= 0:
            return _declined("invalid_amount")
        if request.operation is GatewayOperation.AUTHORIZE:
            return self._authorize(request)
        authorization = self.authorizations.get(request.authorization_reference or "")
        if authorization is None:
            return _declined("authorization_not_found")
        if request.amount.currency != authorization.amount.currency:
            return _declined("currency_mismatch")
        if request.operation is GatewayOperation.INCREMENT_AUTHORIZATION:
            return self._increment(request, authorization)
        if request.operation is GatewayOperation.CAPTURE:
            return self._capture(request, authorization, card_token)
        if request.operation is GatewayOperation.VOID:
            return self._void(request, authorization)
        return self._refund(request, authorization)

    def _authorize(self, request: GatewayRequest) -> GatewayResponse:
        if request.token in DECLINING_TOKENS:
            return _declined(DECLINING_TOKENS[request.token])
        if request.token not in _AUTHORIZABLE_TOKENS:
            return _declined("invalid_token")
        reference = _reference(request)
        self.authorizations[reference] = SandboxAuthorization(
            request.token, request.amount, refunded=Money.zero(request.amount.currency)
        )
        return _approved(reference)

    def _capture(
        self, request: GatewayRequest, authorization: SandboxAuthorization, card_token: str
    ) -> GatewayResponse:
        if authorization.voided:
            return _declined("authorization_voided")
        if authorization.captured is not None:
            return _declined("already_captured")
        if request.amount.amount > authorization.amount.amount:
            return _declined("amount_exceeds_authorization")
        if card_token == CAPTURE_FAILS_TOKEN:
            return _declined("capture_declined")
        authorization.captured = request.amount
        return _approved(_reference(request))

    def _increment(
        self, request: GatewayRequest, authorization: SandboxAuthorization
    ) -> GatewayResponse:
        if authorization.voided:
            return _declined("authorization_voided")
        if authorization.captured is not None:
            return _declined("already_captured")
        authorization.amount = authorization.amount + request.amount
        return _approved(_reference(request))

    def _void(
        self, request: GatewayRequest, authorization: SandboxAuthorization
    ) -> GatewayResponse:
        if authorization.captured is not None:
            return _declined("already_captured")
        if authorization.voided:
            return _declined("authorization_voided")
        authorization.voided = True
        return _approved(_reference(request))

    def _refund(
        self, request: GatewayRequest, authorization: SandboxAuthorization
    ) -> GatewayResponse:
        if authorization.captured is None:
            return _declined("not_captured")
        if request.amount.amount > authorization.refundable.amount:
            return _declined("amount_exceeds_refundable")
        authorization.refunded = authorization.refunded + request.amount
        return _approved(_reference(request))


def _approved(reference: str) -> GatewayResponse:
    return GatewayResponse(GatewayOutcome.APPROVED, None, reference)


def _reference(request: GatewayRequest) -> str:
    # Derived from the key so a replayed result and a recomputed one agree.
    digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:24]
    return f"sbx_{request.operation.value}_{digest}"
