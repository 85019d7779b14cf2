"""Conversion between the order's currency and the customs authority's currency.

Amounts are converted once at the month's customs rate and kept at full precision; only
the figures that are declared or charged are rounded, half-up, to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.customs.domain import sources
from services.customs.domain.model import HOME_CURRENCY, Charges, CustomsRate, RateAuthority
from services.customs.domain.reference import CFETS_RATES, ECB_RATES
from services.customs.domain.rules.findings import Findings
from services.customs.domain.tables.exchange_rates import ExchangeRates, fixing_date
from shared.money import Money, round_money

RATE_TABLE = {RateAuthority.EU: ECB_RATES, RateAuthority.CN: CFETS_RATES}
_RULE_SOURCE = {
    RateAuthority.EU: sources.UCC_CURRENCY_CONVERSION,
    RateAuthority.CN: sources.CHINA_CURRENCY_CONVERSION,
}


@dataclass(frozen=True, slots=True)
class Converter:
    """Converts order-currency amounts to the home currency and back; identity when equal."""

    order_currency: str
    home_currency: str
    rate: CustomsRate | None

    def to_home(self, amount: Decimal) -> Decimal:
        return amount if self.rate is None else self.rate.to_home(amount)

    def home_money(self, amount: Decimal) -> Money:
        """Converted and rounded once: a figure that is declared."""
        return Money(round_money(self.to_home(amount), self.home_currency), self.home_currency)

    def charges_in_order_currency(self, charges: Charges) -> Charges:
        """Each component converted back once and rounded; the total is their sum."""
        rate = self.rate
        if rate is None:
            return charges

        def back(money: Money) -> Money:
            return Money(
                round_money(rate.from_home(money.amount), self.order_currency), self.order_currency
            )

        return Charges(
            back(charges.duty), back(charges.vat), back(charges.other_taxes), back(charges.fees)
        )


def converter_for(
    authority: RateAuthority, order_currency: str, day: date, fx: ExchangeRates, findings: Findings
) -> Converter | None:
    """The converter for orders declared on `day`, or None (and a hold) when no rate is known."""
    home = HOME_CURRENCY[authority]
    if order_currency == home:
        return Converter(order_currency, home, None)
    month = day.replace(day=1)
    rate = fx.rate(authority, order_currency, month)
    if rate is None:
        findings.missing(
            RATE_TABLE[authority],
            f"no {authority} customs exchange rate for {order_currency} in {month:%Y-%m} "
            f"(rate of {fixing_date(authority, month)} applies): held until it is loaded",
            f"{authority}-FX-MISSING",
            _RULE_SOURCE[authority],
        )
        return None
    findings.fire(
        f"{authority}-FX",
        f"{order_currency} converted to {home} at {rate.rate} ({rate.quotation}) "
        f"for {month:%Y-%m}, fixing date {rate.fixing_date}; {rate.source}"
        + (f" (load #{rate.load_id})" if rate.load_id is not None else ""),
        _RULE_SOURCE[authority],
    )
    return Converter(order_currency, home, rate)
