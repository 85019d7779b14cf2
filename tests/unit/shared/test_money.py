from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import Money, MoneyError, round_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("10.005", "EUR", "10.01"),
        ("10.004", "EUR", "10.00"),
        ("1234.5", "JPY", "1235"),
        ("0.125", "CNY", "0.13"),
    ],
)
def test_rounding_is_half_up_to_minor_units(amount, currency, expected):
    assert round_money(Decimal(amount), currency) == Decimal(expected)


def test_floats_and_currency_mixing_are_refused():
    with pytest.raises(MoneyError):
        Money(10.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money.of("1", "EUR") + Money.of("1", "USD")
    with pytest.raises(MoneyError):
        Money.of("1", "XXX")


@given(st.decimals(min_value=0, max_value=10**9, places=4))
def test_rounding_never_moves_more_than_half_a_cent(amount):
    assert abs(round_money(amount, "EUR") - amount) <= Decimal("0.005")
