"""Domain errors of the payments service; each message says what was refused and why."""

from __future__ import annotations


class PaymentsDomainError(Exception):
    """Base of every rule the payments domain refuses to break."""


class IllegalTransition(PaymentsDomainError):
    """An operation that the payment's current status does not allow."""


class AmountExceedsAvailable(PaymentsDomainError):
    """A capture above what was authorised, or a refund above what remains refundable."""


class InvalidAmount(PaymentsDomainError):
    """An amount that is not positive, or in another currency than the payment's."""


class AuthorizationExpired(PaymentsDomainError):
    """A capture attempted after the authorisation window closed."""


class InvalidTimestamp(PaymentsDomainError):
    """A moment without a timezone: the domain only reasons in aware UTC time."""


class IdempotencyKeyReused(PaymentsDomainError):
    """The same idempotency key sent again with different parameters."""


class ExchangeRateUnavailable(PaymentsDomainError):
    """No rate for the currency pair on or shortly before the requested date."""


class MalformedRateData(PaymentsDomainError):
    """Rate text that cannot be read as a table of exchange rates."""
