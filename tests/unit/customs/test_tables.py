"""The reference tables: dates, coverage and the rules that pick a row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise

import pytest

from services.customs.domain import (
    Buyer,
    Charges,
    Consignment,
    IdentityDocument,
    IdentityDocumentType,
    InvalidConsignment,
    Item,
    RateAuthority,
    Seller,
)
from services.customs.domain.rules.china_cbec import is_valid_identity
from services.customs.domain.tables.exchange_rates import fixing_date
from shared.money import Money
from tests.unit.customs.builders import TABLES

[(_, TARIFF)] = TABLES.tariff.versions
[(_, POSITIVE_LIST)] = TABLES.positive_list.versions
[(_, VAT_RATES)] = TABLES.vat_rates.versions
[(_, LOW_VALUE)] = TABLES.low_value.versions


@pytest.mark.parametrize(
    ("authority", "month", "expected", "rule"),
    [
        (
            RateAuthority.EU,
            date(2026, 7, 1),
            date(2026, 6, 17),
            "penultimate Wednesday of June 2026",
        ),
        (
            RateAuthority.EU,
            date(2026, 1, 1),
            date(2025, 12, 24),
            "penultimate, not last (31 Dec), Wednesday",
        ),
        (RateAuthority.EU, date(2026, 5, 1), date(2026, 4, 22), "April 2026 has five Wednesdays"),
        (RateAuthority.CN, date(2026, 2, 1), date(2026, 1, 21), "third Wednesday of January 2026"),
        (
            RateAuthority.CN,
            date(2026, 5, 1),
            date(2026, 4, 15),
            "third, not penultimate, Wednesday",
        ),
    ],
)
def test_fixing_date_rule(authority: RateAuthority, month: date, expected: date, rule: str) -> None:
    assert fixing_date(authority, month) == expected, rule


@pytest.mark.parametrize(
    ("country", "day", "percent"),
    [
        ("FI", date(2024, 8, 31), "24"),
        ("FI", date(2024, 9, 1), "25.5"),
        ("SK", date(2024, 12, 31), "20"),
        ("SK", date(2025, 1, 1), "23"),
        ("EE", date(2025, 6, 30), "22"),
        ("EE", date(2025, 7, 1), "24"),
        ("RO", date(2025, 7, 31), "19"),
        ("RO", date(2025, 8, 1), "21"),
        ("LU", date(2026, 1, 1), "17"),
        ("HU", date(2026, 1, 1), "27"),
    ],
)
def test_standard_vat_rate_on_a_date(country: str, day: date, percent: str) -> None:
    rate = VAT_RATES.standard_rate(country, day)
    assert rate is not None and rate.percent == Decimal(percent)


def test_vat_table_covers_the_27_member_states_without_overlap() -> None:
    assert len(VAT_RATES.countries) == 27
    for country in VAT_RATES.countries:
        rows = sorted(
            (r for r in VAT_RATES.rates if r.country == country),
            key=lambda r: r.valid_from,
        )
        for earlier, later in pairwise(rows):
            assert earlier.valid_to is not None and (later.valid_from - earlier.valid_to).days == 1
        assert rows[-1].valid_to is None
    assert VAT_RATES.standard_rate("BE", date(2023, 12, 31)) is None


@pytest.mark.parametrize(
    ("day", "applies"),
    [
        (date(2026, 6, 30), False),
        (date(2026, 7, 1), True),
        (date(2028, 6, 30), True),
        (date(2028, 7, 1), False),
    ],
)
def test_flat_duty_window(day: date, applies: bool) -> None:
    assert LOW_VALUE.flat_duty_per_subheading.applies_on(day) is applies


def test_relief_exclusions_and_excise_goods() -> None:
    assert LOW_VALUE.relief_exclusion("22042100") == "alcoholic products (wine)"
    assert LOW_VALUE.relief_exclusion("240220") == "tobacco and tobacco products"
    assert LOW_VALUE.relief_exclusion("330300") == "perfumes and toilet waters"
    assert LOW_VALUE.relief_exclusion("330499") is None
    assert LOW_VALUE.excise_category("330300") is None  # perfume: no relief, but not excise


def test_tariff_table_has_at_least_200_well_formed_lines() -> None:
    day = date(2026, 6, 1)
    assert len(TARIFF.codes) >= 200
    assert all(len(code) in (6, 8) and code.isdigit() for code in TARIFF.codes)
    assert TARIFF.line("6109100010", day).percent == Decimal("12")  # TARIC 10 digits
    assert TARIFF.line("61102091", day).percent == Decimal("12")
    assert TARIFF.line("611020", day) is None  # 8-digit lines differ: needs classification


def test_positive_list_lines_have_vat_and_consumption_tax() -> None:
    assert POSITIVE_LIST.line("1806310000").vat_percent == Decimal("13")
    assert POSITIVE_LIST.line("22042100").consumption_tax_percent == Decimal("10")
    assert POSITIVE_LIST.line("85171300") is None


@pytest.mark.parametrize(
    ("document_type", "number", "valid"),
    [
        (IdentityDocumentType.CN_RESIDENT_ID, "11010519491231002X", True),
        (IdentityDocumentType.CN_RESIDENT_ID, "11010519491231002x", True),
        (IdentityDocumentType.CN_RESIDENT_ID, "110105194912310021", False),
        (IdentityDocumentType.CN_RESIDENT_ID, "1101051949123100", False),
        (IdentityDocumentType.PASSPORT, "E12345678", True),
        (IdentityDocumentType.PASSPORT, "E1", False),
    ],
)
def test_identity_document_format(
    document_type: IdentityDocumentType, number: str, valid: bool
) -> None:
    assert is_valid_identity(IdentityDocument(document_type, number)) is valid


def _item(**overrides: object) -> Item:
    fields: dict[str, object] = dict(
        sku="A",
        description="Cotton T-shirt",
        hs_code="610910",
        quantity=1,
        unit_price=Decimal("10.00"),
        weight_kg=Decimal("0.2"),
        origin_country="CN",
    )
    fields.update(overrides)
    return Item(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {"unit_price": 10.0},
        {"hs_code": "6109"},
        {"hs_code": "61091000001"},
        {"quantity": 0},
        {"quantity": True},
        {"weight_kg": Decimal(0)},
        {"origin_country": "China"},
    ],
)
def test_items_breaking_the_contract_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidConsignment):
        _item(**overrides)


def test_consignment_needs_an_aware_datetime_and_decimal_costs() -> None:
    common = dict(
        order_id=uuid.uuid4(),
        currency="EUR",
        buyer=Buyer("A B", "BE"),
        seller=Seller("S", "CN"),
        payer_name="A B",
        items=(_item(),),
        insurance_cost=Decimal(0),
    )
    with pytest.raises(InvalidConsignment):
        Consignment(ordered_at=datetime(2026, 7, 1), shipping_cost=Decimal(1), **common)  # type: ignore[arg-type]
    with pytest.raises(InvalidConsignment):
        Consignment(ordered_at=datetime(2026, 7, 1, tzinfo=UTC), shipping_cost=1.5, **common)  # type: ignore[arg-type]


def test_charges_refuse_an_unrounded_amount_or_mixed_currencies() -> None:
    zero = Money.zero("EUR")
    assert Charges(zero, Money.of("27.30", "EUR"), zero, zero).total == Money.of("27.30", "EUR")
    with pytest.raises(ValueError, match="not rounded"):
        Charges(Money.of("0.005", "EUR"), zero, zero, zero)
    with pytest.raises(ValueError, match="mix currencies"):
        Charges(zero, Money.zero("CNY"), zero, zero)
