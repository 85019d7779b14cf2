"""What to authorise at checkout, and what to capture once customs has spoken.

Authorised amount = goods + shipping + insurance + the duties and taxes the
buyer pays at checkout (e.g. IOSS VAT). Duties and taxes collected from the
recipient on delivery (the carrier's "special arrangements") are not ours to
charge and stay out. Everything is in the order currency; the sum is rounded
half-up to that currency's minor units once, at the end.

Capture after customs. The final amount can differ from the authorised one
when customs reassesses what the buyer owes at checkout:

- final equal to, or below, the authorised amount: capture the final amount
  (a partial capture releases the rest of the hold);
- final above the authorised amount: card networks do not let a capture exceed
  its authorisation, and quietly capturing the authorised amount would lose the
  difference without anyone deciding to. We therefore capture nothing yet and
  answer `NeedsIncrementalAuthorization(shortfall)`: the service asks the buyer's
  card for the shortfall (an incremental authorisation where the processor
  supports one, a separate charge otherwise) or holds the order. Whatever it
  chooses, `Payment.capture` still refuses any capture above the authorisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.payments.domain.errors import InvalidAmount
from shared.money import Money, MoneyError


def amount_to_authorize(
    *,
    goods: Money,
    shipping: Money,
    insurance: Money,
    duties_and_taxes_at_checkout: Money | None = None,
) -> Money:
    components = [goods, shipping, insurance]
    if duties_and_taxes_at_checkout is not None:
        components.append(duties_and_taxes_at_checkout)
    currency = goods.currency
    for component in components:
        if component.currency != currency:
            raise MoneyError(
                f"every component must be in the order currency {currency}, got {component}"
            )
        if component.amount < 0:
            raise InvalidAmount(f"an order component cannot be negative, got {component}")
    total = sum(components[1:], start=components[0]).rounded()
    if total.amount <= 0:
        raise InvalidAmount(f"nothing to authorise: the order totals {total}")
    return total


@dataclass(frozen=True, slots=True)
class Capture:
    """Capture this amount; when below the authorisation the rest of the hold is released."""

    amount: Money


@dataclass(frozen=True, slots=True)
class NeedsIncrementalAuthorization:
    """The final amount exceeds the authorisation by `shortfall`; capture nothing yet."""

    shortfall: Money


CaptureDecision = Capture | NeedsIncrementalAuthorization


def capture_decision(authorized: Money, final_amount: Money | None = None) -> CaptureDecision:
    """`final_amount` is None when customs changed nothing the buyer owes at checkout."""
    authorized = authorized.rounded()
    if final_amount is None:
        return Capture(authorized)
    if final_amount.currency != authorized.currency:
        raise MoneyError(
            f"final amount {final_amount} is not in the authorised currency {authorized.currency}"
        )
    final = final_amount.rounded()
    if final.amount <= 0:
        raise InvalidAmount(f"the final amount must be positive, got {final}")
    if final.amount > authorized.amount:
        return NeedsIncrementalAuthorization(final - authorized)
    return Capture(final)
