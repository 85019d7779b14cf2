"""China CBEC lane (EU seller to a consumer in mainland China, mode 9610).

Default parcel (builders.cn_parcel): ten boxes of filled chocolate (18063100) at CNY 390,
CNY 80 freight, CNY 20 insurance: a CNY 4,000 transaction to Shanghai, all three documents
naming order ORD-88, buyer Zhang Wei with a valid resident ID, paying himself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.customs.domain import (
    DeclarationType,
    IdentityDocument,
    IdentityDocumentType,
    Item,
    Outcome,
    assess,
    buyer_identity_key,
    sources,
)
from shared.events import OrderItem
from shared.money import Money
from tests.unit.customs.builders import (
    FX,
    INVALID_RESIDENT_ID,
    TABLES,
    Case,
    cn_parcel,
    documents,
    item,
    verify,
)

CBEC = DeclarationType.CBEC_9610

CASES = [
    Case(
        "CNY 4,000 of chocolate to Shanghai: 13 % x 70 % = 9.1 % of 4,000 = 364.00",
        "CN-TAX-RATE",
        sources.CBEC_TAX_POLICY,
        cn_parcel(),
        Outcome.CLEARED,
        ("0.00", "364.00", "0.00", "0.00"),
        CBEC,
        False,
    ),
    Case(
        "CNY 6,000 in several items exceeds the CNY 5,000 transaction limit",
        "CN-LIMIT-TRANSACTION",
        sources.CBEC_LIMITS,
        cn_parcel(
            item("18063100", "600.00", 10, "Filled chocolate"), shipping="0.00", insurance="0.00"
        ),
        Outcome.REJECTED,
        None,
        CBEC,
    ),
    Case(
        "CNY 6,000 single indivisible handbag: CBEC at full tax, held for the MFN duty",
        "CN-SINGLE-INDIVISIBLE-ITEM",
        sources.CBEC_LIMITS,
        cn_parcel(item("42022100", "5900.00", 1, "Leather handbag")),
        Outcome.HELD,
        None,
        CBEC,
    ),
    Case(
        "CNY 23,000 already this year + CNY 4,000 crosses the CNY 26,000 annual limit",
        "CN-LIMIT-ANNUAL",
        sources.CBEC_LIMITS,
        cn_parcel(),
        Outcome.REJECTED,
        None,
        CBEC,
        year_to_date_cny=Decimal("23000"),
    ),
    Case(
        "CNY 22,000 + CNY 4,000 reaches exactly CNY 26,000: still within the limit",
        "CN-LIMITS",
        sources.CBEC_LIMITS,
        cn_parcel(),
        Outcome.CLEARED,
        ("0.00", "364.00", "0.00", "0.00"),
        CBEC,
        year_to_date_cny=Decimal("22000"),
    ),
    Case(
        "payer is not the buyer: rejected, the buyer must pay",
        "CN-PAYER-NOT-BUYER",
        sources.CBEC_SUPERVISION,
        cn_parcel(payer="Li Na"),
        Outcome.REJECTED,
    ),
    Case(
        "payer written 'WEI ZHANG': the same person in another order and case",
        "CN-PAYER",
        sources.CBEC_SUPERVISION,
        cn_parcel(payer="WEI ZHANG"),
        Outcome.CLEARED,
    ),
    Case(
        "payer not named on the payment: held",
        "CN-PAYER-MISSING",
        sources.CBEC_SUPERVISION,
        cn_parcel(payer=None),
        Outcome.HELD,
    ),
    Case(
        "buyer identity missing: held until supplied",
        "CN-ID-MISSING",
        sources.CBEC_SUPERVISION,
        cn_parcel(identity=None),
        Outcome.HELD,
    ),
    Case(
        "resident ID with a wrong check character: held",
        "CN-ID-INVALID",
        sources.CBEC_SUPERVISION,
        cn_parcel(
            identity=IdentityDocument(IdentityDocumentType.CN_RESIDENT_ID, INVALID_RESIDENT_ID)
        ),
        Outcome.HELD,
    ),
    Case(
        "buyer identified by passport",
        "CN-ID",
        sources.CBEC_SUPERVISION,
        cn_parcel(identity=IdentityDocument(IdentityDocumentType.PASSPORT, "E12345678")),
        Outcome.CLEARED,
    ),
    Case(
        "logistics document names another order: held",
        "CN-DOCS-MISMATCH",
        sources.CBEC_SUPERVISION,
        cn_parcel(docs=documents(logistics="ORD-99")),
        Outcome.HELD,
    ),
    Case(
        "payment document missing: held",
        "CN-DOCS-MISSING",
        sources.CBEC_SUPERVISION,
        cn_parcel(docs=documents(payment=None)),
        Outcome.HELD,
    ),
    Case(
        "smartphone 85171300 is not on the positive list: rejected for this channel",
        "CN-NOT-ON-POSITIVE-LIST",
        sources.CBEC_POSITIVE_LIST,
        cn_parcel(item("85171300", "3000.00", 1, "Smartphone")),
        Outcome.REJECTED,
        None,
    ),
    Case(
        "six-digit code cannot be checked against the eight-digit list: held",
        "CN-CLASSIFY",
        sources.CBEC_POSITIVE_LIST,
        cn_parcel(item("180631", "390.00", 10, "Filled chocolate")),
        Outcome.HELD,
        None,
    ),
    Case(
        "bird's nest is listed but barred from direct-purchase parcels",
        "CN-NOT-FOR-DIRECT-PURCHASE",
        sources.CBEC_POSITIVE_LIST,
        cn_parcel(item("04100010", "800.00", 1, "Edible bird's nest")),
        Outcome.REJECTED,
        None,
    ),
    Case(
        "wine: VAT 650 x 13 % / 90 % x 70 % = 65.72, consumption tax 650 x 10 % / 90 % x 70 %",
        "CN-TAX-RATE",
        sources.CHINA_CONSUMPTION_TAX,
        cn_parcel(
            item("22042100", "300.00", 2, "Bordeaux red wine 75 cl"),
            shipping="40.00",
            insurance="10.00",
        ),
        Outcome.CLEARED,
        ("0.00", "65.72", "50.56", "0.00"),
        CBEC,
    ),
    Case(
        "high-end serum (CNY 20 per ml): VAT 600 x 13 % / 85 % x 70 % = 64.24, CT 74.12",
        "CN-TAX-RATE",
        sources.CHINA_CONSUMPTION_TAX,
        cn_parcel(
            item("33049900", "600.00", 1, "Face serum 30 ml", net_content="30"),
            shipping="0.00",
            insurance="0.00",
        ),
        Outcome.CLEARED,
        ("0.00", "64.24", "74.12", "0.00"),
        CBEC,
    ),
    Case(
        "body lotion at CNY 0.40 per ml is not high-end: VAT only, 200 x 9.1 % = 18.20",
        "CN-TAX-RATE",
        sources.CHINA_VAT,
        cn_parcel(
            item("33049900", "200.00", 1, "Body lotion 500 ml", net_content="500"),
            shipping="0.00",
            insurance="0.00",
        ),
        Outcome.CLEARED,
        ("0.00", "18.20", "0.00", "0.00"),
        CBEC,
    ),
    Case(
        "honey at 9 % VAT: 500 x 9 % x 70 % = 31.50",
        "CN-TAX-RATE",
        sources.CHINA_VAT,
        cn_parcel(
            item("04090000", "500.00", 1, "Acacia honey 500 g"), shipping="0.00", insurance="0.00"
        ),
        Outcome.CLEARED,
        ("0.00", "31.50", "0.00", "0.00"),
        CBEC,
    ),
    Case(
        "EUR-priced order at 8.00 CNY/EUR: (400 + 10) x 8 = 3,280 CNY, VAT 9.1 % = 298.48",
        "CN-FX",
        sources.CHINA_CURRENCY_CONVERSION,
        cn_parcel(
            item("18063100", "40.00", 10, "Filled chocolate"),
            currency="EUR",
            shipping="10.00",
            insurance="0.00",
        ),
        Outcome.CLEARED,
        ("0.00", "298.48", "0.00", "0.00"),
        CBEC,
    ),
    Case(
        "an order dated before the 2022 positive list took effect: held",
        "CN-TABLES-OUT-OF-DATE",
        sources.CBEC_POSITIVE_LIST,
        cn_parcel(day=date(2022, 2, 28)),
        Outcome.HELD,
    ),
    Case(
        "EUR-priced order in a month without a loaded rate: held",
        "CN-FX-MISSING",
        sources.CHINA_CURRENCY_CONVERSION,
        cn_parcel(currency="EUR", day=date(2026, 4, 10)),
        Outcome.HELD,
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_china_cbec(case: Case) -> None:
    verify(case)


def test_eur_priced_order_reports_taxes_in_cny_and_in_eur() -> None:
    assessment = verify(next(case for case in CASES if case.rule == "CN-FX"))
    assert assessment.charges_in_order_currency is not None
    # 298.48 CNY / 8.00 = 37.31 EUR
    assert assessment.charges_in_order_currency.total == Money.of("37.31", "EUR")


def test_a_third_order_crosses_the_annual_limit() -> None:
    """The service keeps the running total; the engine reports what this order adds."""
    cleared_so_far = Decimal("21500")  # earlier orders this year
    outcomes = []
    for value in ("3900.00", "300.00", "100.00"):
        consignment = cn_parcel(item("18063100", value, 1, "Filled chocolate"))
        assessment = assess(consignment, cleared_so_far, fx=FX, tables=TABLES)
        outcomes.append(assessment.outcome)
        if assessment.outcome is Outcome.CLEARED:
            assert assessment.cbec_annual_usage is not None
            cleared_so_far = assessment.cbec_annual_usage.after.amount
    # 21,500 + 4,000 = 25,500; + 400 = 25,900; + 200 = 26,100 > 26,000
    assert outcomes == [Outcome.CLEARED, Outcome.CLEARED, Outcome.REJECTED]
    assert cleared_so_far == Decimal("25900.00")


def test_annual_limit_counts_the_calendar_year_in_china_time() -> None:
    # 17:00 UTC on 31 December is 01:00 on 1 January in Beijing.
    assessment = assess(
        cn_parcel(ordered_at=datetime(2026, 12, 31, 17, tzinfo=UTC)),
        Decimal(0),
        fx=FX,
        tables=TABLES,
    )
    assert assessment.cbec_annual_usage is not None and assessment.cbec_annual_usage.year == 2027


def test_buyer_identity_key_folds_case_and_separators() -> None:
    spaced = IdentityDocument(IdentityDocumentType.CN_RESIDENT_ID, "110105 19491231 002x")
    plain = IdentityDocument(IdentityDocumentType.CN_RESIDENT_ID, "11010519491231002X")
    assert (
        buyer_identity_key(spaced)
        == buyer_identity_key(plain)
        == "CN_RESIDENT_ID:11010519491231002X"
    )
    passport = IdentityDocument(IdentityDocumentType.PASSPORT, "11010519491231002X")
    assert buyer_identity_key(passport) != buyer_identity_key(plain)


def test_cbec_declaration_data_names_the_three_documents() -> None:
    assessment = verify(CASES[0])
    assert assessment.declaration_data["customs supervision mode"] == "9610"
    assert assessment.declaration_data["logistics document"] == "176-12345675"
    assert (
        assessment.declaration_data[
            "dutiable value (transaction price incl. freight and insurance)"
        ]
        == "4000.00 CNY"
    )


# ---- issue 8 defect 4: cosmetics need their net content (财税〔2016〕103号) -------------------


def _cosmetic(price: str, net_content: str | None, unit: str = "ml") -> Item:
    return item(
        "33049900",
        price,
        1,
        "Hydrating sheet masks",
        net_content=net_content,
        net_content_unit=unit,
    )


def test_a_cosmetic_without_net_content_is_held_for_the_data_not_taxed_at_a_guess() -> None:
    assessment = assess(cn_parcel(_cosmetic("600.00", None)), Decimal(0), fx=FX, tables=TABLES)
    assert assessment.outcome is Outcome.HELD
    assert "CN-COSMETIC-NET-CONTENT" in [rule.rule_id for rule in assessment.rules_fired]
    assert assessment.charges is None


@pytest.mark.parametrize(
    ("price", "sheets", "consumption_tax"),
    [
        ("120.00", "10", "0.00"),  # CNY 12 a sheet: below CNY 15 per piece or sheet
        # CNY 20 a sheet: high-end, (200 + 100) x 15 % / 85 % x 70 % = 37.06
        ("200.00", "10", "37.06"),
    ],
)
def test_masks_are_high_end_per_sheet_from_cny_15(
    price: str, sheets: str, consumption_tax: str
) -> None:
    assessment = assess(
        cn_parcel(_cosmetic(price, sheets, "sheet")), Decimal(0), fx=FX, tables=TABLES
    )
    assert assessment.outcome is Outcome.CLEARED, assessment.reasons
    assert assessment.charges is not None
    assert assessment.charges.other_taxes.amount == Decimal(consumption_tax)


def test_the_order_contract_carries_net_content_and_its_unit() -> None:
    line = OrderItem.model_validate(
        {
            "sku": "MASK-10",
            "description": "Hydrating sheet masks, box of 10",
            "hs_code": "33049900",
            "quantity": 1,
            "unit_price": "200.00",
            "weight_kg": "0.300",
            "origin_country": "FR",
            "net_content": "10",
            "net_content_unit": "sheet",
        }
    )
    assert (line.net_content, line.net_content_unit) == (Decimal("10"), "sheet")
