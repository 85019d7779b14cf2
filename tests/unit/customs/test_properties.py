"""Properties of every assessment: taxes are Decimal, never negative, and each is rounded
once, half-up, to the cent (recomputed here independently from the declared figures)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.customs.consignments import assessment_document
from services.customs.domain import (
    Assessment,
    Charges,
    Consignment,
    ExchangeRateTable,
    Outcome,
    RateAuthority,
    assess,
    customs_rate,
)
from tests.unit.customs.builders import IOSS, TABLES, cn_parcel, eu_parcel, item

[(_, TARIFF)] = TABLES.tariff.versions
[(_, POSITIVE_LIST)] = TABLES.positive_list.versions
[(_, VAT_RATES)] = TABLES.vat_rates.versions
[(_, CBEC_LIMITS)] = TABLES.cbec_limits.versions

CENT = Decimal("0.01")
# No example database (no file I/O) and a fixed seed, so every run checks the same examples.
PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, database=None, derandomize=True)


def _months(first_year: int, last_year: int) -> list[date]:
    return [
        date(year, month, 1) for year in range(first_year, last_year + 1) for month in range(1, 13)
    ]


FX_EVERY_MONTH = ExchangeRateTable(
    [
        customs_rate(RateAuthority.EU, month, "USD", "1.0850", "property test")
        for month in _months(2024, 2026)
    ]
    + [
        customs_rate(RateAuthority.CN, month, "EUR", "7.8000", "property test")
        for month in _months(2024, 2026)
    ]
)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("400"), places=2)
costs = st.decimals(min_value=Decimal("0"), max_value=Decimal("40"), places=2)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))
# Plus codes the table lacks: a 6-digit one with differing CN8 rates, and an unlisted one.
eu_codes = st.sampled_from(TARIFF.codes + ["611020", "847989"])
cn_codes = st.sampled_from(
    sorted(code for code, line in POSITIVE_LIST.lines.items() if line.direct_purchase_allowed)
)
cn_codes_without_consumption_tax = st.sampled_from(
    sorted(
        code
        for code, line in POSITIVE_LIST.lines.items()
        if line.direct_purchase_allowed and not line.consumption_tax_percent
    )
)


@st.composite
def eu_consignments(draw: st.DrawFn) -> Consignment:
    goods = draw(
        st.lists(
            st.builds(
                lambda code, price, quantity: item(code, str(price), quantity),
                eu_codes,
                amounts,
                st.integers(1, 4),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return eu_parcel(
        *goods,
        country=draw(st.sampled_from(sorted(VAT_RATES.countries))),
        ordered_at=datetime.combine(draw(days), time(draw(st.integers(0, 23))), tzinfo=UTC),
        ioss=draw(st.sampled_from([None, IOSS])),
        transit=draw(st.booleans()),
        currency=draw(st.sampled_from(["EUR", "USD"])),
        shipping=str(draw(costs)),
        insurance=str(draw(costs)),
    )


@st.composite
def cn_consignments(draw: st.DrawFn) -> Consignment:
    goods = draw(
        st.lists(
            st.builds(
                lambda code, price, quantity: item(code, str(price), quantity),
                cn_codes,
                amounts,
                st.integers(1, 5),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return cn_parcel(
        *goods,
        day=draw(days),
        currency=draw(st.sampled_from(["CNY", "EUR"])),
        shipping=str(draw(costs)),
        insurance=str(draw(costs)),
    )


def _every_charge(assessment: Assessment) -> list[Charges]:
    return [
        charges
        for charges in (assessment.charges, assessment.charges_in_order_currency)
        if charges is not None
    ]


def _assert_well_formed(assessment: Assessment) -> None:
    for charges in _every_charge(assessment):
        components = (charges.duty, charges.vat, charges.other_taxes, charges.fees)
        for money in components:
            assert type(money.amount) is Decimal
            assert money.amount >= 0
            assert money.amount.as_tuple().exponent == -2
        assert charges.total.amount == sum((money.amount for money in components), Decimal(0))


def _declared(assessment: Assessment, element: str) -> Decimal:
    return Decimal(assessment.declaration_data[element].split()[0])


@PROPERTY_SETTINGS
@given(eu_consignments())
def test_eu_taxes_are_decimal_non_negative_and_rounded_to_the_cent(
    consignment: Consignment,
) -> None:
    _assert_well_formed(assess(consignment, Decimal(0), fx=FX_EVERY_MONTH, tables=TABLES))


@PROPERTY_SETTINGS
@given(eu_consignments())
def test_eu_import_vat_is_rounded_once_half_up(consignment: Consignment) -> None:
    assessment = assess(consignment, Decimal(0), fx=FX_EVERY_MONTH, tables=TABLES)
    if assessment.charges is None or assessment.collected_at_checkout:
        return
    day = consignment.ordered_at.astimezone(ZoneInfo("Europe/Brussels")).date()
    place = assessment.declaration_data["place of import (import VAT)"]
    rate = VAT_RATES.standard_rate(place, day)
    assert rate is not None
    base = _declared(assessment, "customs value") + assessment.charges.duty.amount
    assert assessment.charges.vat.amount == (base * rate.fraction).quantize(CENT, ROUND_HALF_UP)


@PROPERTY_SETTINGS
@given(cn_consignments(), st.decimals(min_value=Decimal(0), max_value=Decimal(30000), places=2))
def test_cbec_taxes_are_decimal_non_negative_and_rounded_to_the_cent(
    consignment: Consignment, ytd: Decimal
) -> None:
    assessment = assess(consignment, ytd, fx=FX_EVERY_MONTH, tables=TABLES)
    _assert_well_formed(assessment)
    if assessment.outcome is Outcome.CLEARED:
        assert assessment.cbec_annual_usage is not None
        assert assessment.cbec_annual_usage.after.amount <= CBEC_LIMITS.annual_limit_cny


@PROPERTY_SETTINGS
@given(cn_codes_without_consumption_tax, amounts, st.integers(1, 5), costs)
def test_cbec_vat_on_one_line_is_rounded_once_half_up(
    code: str, price: Decimal, quantity: int, shipping: Decimal
) -> None:
    assessment = assess(
        cn_parcel(item(code, str(price), quantity), shipping=str(shipping), insurance="0.00"),
        Decimal(0),
        fx=FX_EVERY_MONTH,
        tables=TABLES,
    )
    if assessment.charges is None:
        return
    line = POSITIVE_LIST.line(code)
    assert line is not None
    base = price * quantity + shipping
    expected = (base * line.vat_percent / 100 * Decimal("0.7")).quantize(CENT, ROUND_HALF_UP)
    assert assessment.charges.vat.amount == expected


def test_half_up_not_bankers_rounding() -> None:
    # Denmark 25 % of EUR 1.78 = 0.445: half-up gives 0.45 where banker's rounding gives 0.44.
    assessment = assess(
        eu_parcel(
            item("610910", "1.78"), country="DK", transit=True, shipping="0.00", insurance="0.00"
        ),
        Decimal(0),
        fx=FX_EVERY_MONTH,
        tables=TABLES,
    )
    assert assessment.charges is not None and assessment.charges.vat.amount == Decimal("0.45")


@PROPERTY_SETTINGS
@given(st.one_of(eu_consignments(), cn_consignments()))
def test_the_stored_assessment_document_is_what_json_makes_of_the_assessment(
    consignment: Consignment,
) -> None:
    assessment = assess(consignment, Decimal(0), fx=FX_EVERY_MONTH, tables=TABLES)
    expected = json.loads(json.dumps(dataclasses.asdict(assessment), default=str))
    for name in ("charges", "charges_in_order_currency"):
        charges = getattr(assessment, name)
        if charges is not None:
            expected[name]["total"] = {
                "amount": str(charges.total.amount),
                "currency": charges.total.currency,
            }
    assert assessment_document(assessment) == expected
