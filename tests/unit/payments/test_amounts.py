from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain.amounts import (
    Capture,
    NeedsIncrementalAuthorization,
    amount_to_authorize,
    capture_decision,
)
from services.payments.domain.errors import InvalidAmount
from shared.money import Money, MoneyError


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def test_authorized_amount_adds_every_component() -> None:
    total = amount_to_authorize(
        goods=eur("140.00"),
        shipping=eur("15.00"),
        insurance=eur("1.50"),
        duties_and_taxes_at_checkout=eur("32.55"),
    )
    assert total == eur("189.05")


def test_duties_collected_on_delivery_stay_out() -> None:
    assert amount_to_authorize(goods=eur("140"), shipping=eur("15"), insurance=eur("0")) == eur(
        "155.00"
    )


def test_sum_is_rounded_once_half_up() -> None:
    total = amount_to_authorize(
        goods=eur("10.004"),
        shipping=eur("0.001"),
        insurance=eur("0"),
    )
    assert total == eur("10.01")


def jpy(amount: str) -> Money:
    return Money.of(amount, "JPY")


def test_yen_totals_have_no_minor_units() -> None:
    total = amount_to_authorize(goods=jpy("1999.6"), shipping=jpy("500"), insurance=jpy("0"))
    assert total == jpy("2500")


def test_components_share_the_order_currency() -> None:
    with pytest.raises(MoneyError, match="order currency EUR"):
        amount_to_authorize(goods=eur("10"), shipping=Money.of("5", "USD"), insurance=eur("0"))


def test_negative_or_empty_orders_are_refused() -> None:
    with pytest.raises(InvalidAmount, match="negative"):
        amount_to_authorize(goods=eur("10"), shipping=eur("-1"), insurance=eur("0"))
    with pytest.raises(InvalidAmount, match="nothing to authorise"):
        amount_to_authorize(goods=eur("0"), shipping=eur("0"), insurance=eur("0.004"))


@pytest.mark.parametrize(
    ("final", "decision"),
    [
        (None, Capture(eur("100.00"))),
        (eur("100.00"), Capture(eur("100.00"))),
        (eur("92.455"), Capture(eur("92.46"))),
        (eur("112.30"), NeedsIncrementalAuthorization(eur("12.30"))),
    ],
)
def test_capture_decision(final: Money | None, decision: object) -> None:
    assert capture_decision(eur("100.00"), final) == decision


def test_capture_decision_refuses_other_currency_and_non_positive_finals() -> None:
    with pytest.raises(MoneyError):
        capture_decision(eur("100"), Money.of("100", "USD"))
    with pytest.raises(InvalidAmount):
        capture_decision(eur("100"), eur("0"))


cents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)


@given(authorized=cents, final=cents)
def test_decision_never_captures_more_than_authorized(authorized: Decimal, final: Decimal) -> None:
    decision = capture_decision(eur(str(authorized)), eur(str(final)))
    if isinstance(decision, Capture):
        assert decision.amount.amount == final <= authorized
    else:
        assert decision.shortfall.amount > 0
        assert authorized + decision.shortfall.amount == final
