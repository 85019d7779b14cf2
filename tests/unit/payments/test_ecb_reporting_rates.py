"""Payments reports amounts in EUR at the ECB's published reference rates, never invented."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.payments.domain.errors import ExchangeRateUnavailable
from services.payments.domain.fx import ExchangeRateTable, ecb_reference_rates
from shared.money import SUPPORTED_CURRENCIES, Money
from shared.reference_files import SHIPPED_ECB_FILE, csv_text, parse_ecb_csv, read_file

PUBLISHED = [
    (rate.day, rate.currency, rate.rate)
    for rate in parse_ecb_csv(csv_text(read_file(SHIPPED_ECB_FILE)))
]
TABLE = ExchangeRateTable(ecb_reference_rates(PUBLISHED), max_age=timedelta(days=35))


def test_cny_is_reported_in_eur_at_the_ecb_rate_of_the_day() -> None:
    """The ECB's 30 October 2026 publication, as the shipped file holds it (1 EUR = x CNY)."""
    cny_per_eur = next(r for d, c, r in PUBLISHED if d == date(2026, 10, 30) and c == "CNY")
    conversion = TABLE.convert(Money.of("4500.00", "CNY"), "EUR", date(2026, 10, 30))
    assert conversion.rate.date == date(2026, 10, 30)
    assert conversion.rate.rate == 1 / cny_per_eur
    assert conversion.converted.amount == (Decimal("4500.00") / cny_per_eur).quantize(
        Decimal("0.01")
    )


def test_a_weekend_uses_the_last_publication_and_nothing_past_the_age_limit() -> None:
    saturday = TABLE.rate("USD", "EUR", date(2026, 10, 31))
    assert saturday.date == date(2026, 10, 30)
    with pytest.raises(ExchangeRateUnavailable):
        TABLE.rate("USD", "EUR", date(2026, 12, 5))  # 36 days after the last publication


def test_only_currencies_the_hub_supports_become_rates() -> None:
    quotes = {rate.pair.quote for rate in ecb_reference_rates(PUBLISHED)}
    assert {"USD", "CNY", "GBP", "JPY"} <= quotes
    assert quotes <= SUPPORTED_CURRENCIES  # the ECB quotes more (ISK, KRW…): left out
