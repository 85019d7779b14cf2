from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain.errors import ExchangeRateUnavailable, MalformedRateData
from services.payments.domain.fx import (
    CurrencyPair,
    ExchangeRateTable,
    Rate,
    apply_rate,
    parse_rates_csv,
    parse_rates_json,
)
from shared.money import Money, MoneyError

ECB = "ECB test fixture"
MON = date(2026, 3, 2)


def eur_rate(quote: str, rate: str, on: date = MON) -> Rate:
    return Rate(CurrencyPair("EUR", quote), Decimal(rate), ECB, on)


TABLE = ExchangeRateTable(
    [
        eur_rate("USD", "1.2000"),
        eur_rate("CNY", "8.0000"),
        eur_rate("JPY", "160.00"),
        eur_rate("USD", "1.1000", MON - timedelta(days=28)),
    ]
)


def test_direct_rate_is_returned_as_stored() -> None:
    assert TABLE.rate("EUR", "USD", MON) == eur_rate("USD", "1.2000")


def test_rate_published_earlier_in_the_week_applies_on_the_weekend() -> None:
    saturday = MON + timedelta(days=5)
    assert TABLE.rate("EUR", "USD", saturday).date == MON


def test_older_history_is_used_for_older_dates() -> None:
    assert TABLE.rate("EUR", "USD", MON - timedelta(days=27)).rate == Decimal("1.1000")


def test_stale_or_missing_rates_are_refused() -> None:
    with pytest.raises(ExchangeRateUnavailable, match="EUR/USD"):
        TABLE.rate("EUR", "USD", MON + timedelta(days=8))
    with pytest.raises(ExchangeRateUnavailable):
        TABLE.rate("EUR", "GBP", MON)
    with pytest.raises(ExchangeRateUnavailable):
        TABLE.rate("EUR", "USD", MON - timedelta(days=40))


def test_inverse_rate_records_how_it_was_derived() -> None:
    rate = TABLE.rate("USD", "EUR", MON)
    assert rate.pair == CurrencyPair("USD", "EUR")
    assert rate.rate == 1 / Decimal("1.2000")
    assert "inverse of EUR/USD" in rate.source


def test_cross_rate_goes_through_the_common_base() -> None:
    rate = TABLE.rate("USD", "CNY", MON)
    assert rate.rate == Decimal("8.0000") / Decimal("1.2000")
    assert "cross EUR/CNY / EUR/USD" in rate.source
    assert rate.date == MON


def test_same_currency_is_identity() -> None:
    assert TABLE.rate("EUR", "EUR", MON).rate == 1


def test_convert_once_half_up_and_record_the_rate() -> None:
    table = ExchangeRateTable([eur_rate("USD", "1.5")])
    conversion = table.convert(Money.of("0.03", "EUR"), "USD", MON)
    assert conversion.converted == Money.of("0.05", "USD")  # 0.045 rounds half-up, not to even
    assert conversion.original == Money.of("0.03", "EUR")
    assert conversion.rate == eur_rate("USD", "1.5")


def test_convert_through_cross_rate_rounds_once() -> None:
    converted = TABLE.convert(Money.of("100.00", "USD"), "CNY", MON).converted
    assert converted == Money.of("666.67", "CNY")


def test_yen_has_no_minor_units() -> None:
    assert TABLE.convert(Money.of("10.01", "EUR"), "JPY", MON).converted == Money.of("1602", "JPY")


def test_apply_rate_refuses_the_wrong_currency() -> None:
    with pytest.raises(MoneyError, match="converts EUR"):
        apply_rate(Money.of("1", "USD"), eur_rate("USD", "1.2"))


def test_rates_must_be_positive_decimals_with_a_source() -> None:
    with pytest.raises(ValueError, match="positive finite Decimal"):
        eur_rate("USD", "0")
    with pytest.raises(ValueError, match="positive finite Decimal"):
        Rate(CurrencyPair("EUR", "USD"), 1.2, ECB, MON)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source"):
        Rate(CurrencyPair("EUR", "USD"), Decimal("1.2"), " ", MON)


def test_conflicting_rates_for_one_day_are_refused() -> None:
    with pytest.raises(MalformedRateData, match="two different EUR/USD"):
        ExchangeRateTable([eur_rate("USD", "1.2"), eur_rate("USD", "1.3")])
    ExchangeRateTable([eur_rate("USD", "1.2"), eur_rate("USD", "1.20")])


CSV = """# a note
date,base,quote,rate,source
2026-03-02,EUR,USD,1.1758,ECB
2026-03-02,EUR,JPY,184.06,ECB
"""


def test_parse_csv() -> None:
    rates = parse_rates_csv(CSV)
    assert rates == [
        Rate(CurrencyPair("EUR", "USD"), Decimal("1.1758"), "ECB", MON),
        Rate(CurrencyPair("EUR", "JPY"), Decimal("184.06"), "ECB", MON),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,base,quote,rate\n2026-03-02,EUR,USD,1.1\n", "lacks columns"),
        ("date,base,quote,rate,source\n2026-03-02,EUR,USD,,ECB\n", "row 1: missing rate"),
        ("date,base,quote,rate,source\n2026-03-02,EUR,USD,abc,ECB\n", "row 1"),
        ("date,base,quote,rate,source\n2026-13-02,EUR,USD,1.1,ECB\n", "row 1"),
        ("date,base,quote,rate,source\n2026-03-02,EUR,XXX,1.1,ECB\n", "unsupported currency"),
    ],
)
def test_parse_csv_refuses_malformed_rows(text: str, message: str) -> None:
    with pytest.raises(MalformedRateData, match=message):
        parse_rates_csv(text)


def test_parse_json_keeps_numbers_exact() -> None:
    text = (
        '[{"date": "2026-03-02", "base": "EUR", "quote": "USD", "rate": 1.1758, "source": "ECB"}]'
    )
    assert parse_rates_json(text)[0].rate == Decimal("1.1758")


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not valid JSON"), ('{"rates": []}', "list of objects"), ("[{}]", "item 1: missing")],
)
def test_parse_json_refuses_malformed_text(text: str, message: str) -> None:
    with pytest.raises(MalformedRateData, match=message):
        parse_rates_json(text)


def test_shipped_sample_rates_cover_the_hub_currencies_in_2026() -> None:
    text = (files("services.payments.domain") / "data" / "exchange_rates.csv").read_text()
    assert "European Central Bank" in text
    assert "sample snapshot" in text
    rates = parse_rates_csv(text)
    assert {rate.pair.quote for rate in rates} == {"USD", "CNY", "GBP", "JPY"}
    assert {rate.pair.base for rate in rates} == {"EUR"}
    dates = {rate.date for rate in rates}
    assert len(dates) >= 3
    assert all(day.year == 2026 for day in dates)
    table = ExchangeRateTable(rates)
    for day in sorted(dates):
        for currency in ("USD", "CNY", "GBP", "JPY"):
            assert table.rate("EUR", currency, day).date == day


@given(
    a=st.decimals(min_value=0, max_value=10**6, places=2),
    b=st.decimals(min_value=0, max_value=10**6, places=2),
    target=st.sampled_from(["USD", "CNY", "JPY", "EUR"]),
)
def test_conversion_is_monotonic_and_rounded_to_target_units(
    a: Decimal, b: Decimal, target: str
) -> None:
    low, high = sorted((a, b))
    converted_low = TABLE.convert(Money(low, "USD"), target, MON).converted
    converted_high = TABLE.convert(Money(high, "USD"), target, MON).converted
    assert converted_low.amount <= converted_high.amount
    assert converted_low == converted_low.rounded()
    assert converted_low.currency == target
