"""EU import lane: one row per rule, with the amounts worked out by hand.

Default parcel (builders.eu_parcel): two cotton T-shirts (610910) at EUR 40 and leather
shoes (640399) at EUR 40, so EUR 120 of goods in two subheadings, plus EUR 8 transport and
EUR 2 insurance: customs value EUR 130.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.customs.domain import DeclarationType, Outcome, sources
from shared.money import Money
from tests.unit.customs.builders import (
    IOSS,
    UNCHECKED,
    Case,
    eu_parcel,
    item,
    on,
    rule_ids,
    run,
    verify,
)

H7, H1 = DeclarationType.H7, DeclarationType.H1
MARCH = date(2026, 3, 3)

CASES = [
    # ---- the Feb-2026 flat duty, dated ---------------------------------------------------
    Case(
        "IOSS EUR 120, two subheadings, 2026-06-30: relief, nothing due on import",
        "EU-DUTY-RELIEF",
        sources.LOW_VALUE_RELIEF,
        eu_parcel(ioss=IOSS, day=date(2026, 6, 30)),
        Outcome.CLEARED,
        ("0.00", "0.00", "0.00", "0.00"),
        H7,
        True,
    ),
    Case(
        "IOSS EUR 120, two subheadings, 2026-07-01: EUR 3 x 2 = EUR 6",
        "EU-DUTY-FLAT",
        sources.FLAT_LOW_VALUE_DUTY,
        eu_parcel(ioss=IOSS, day=date(2026, 7, 1)),
        Outcome.CLEARED,
        ("6.00", "0.00", "0.00", "0.00"),
        H7,
        True,
    ),
    Case(
        "IOSS parcel declared at 00:30 Brussels time on 2026-07-01 (22:30 UTC the day before)",
        "EU-DUTY-FLAT",
        sources.FLAT_LOW_VALUE_DUTY,
        eu_parcel(ioss=IOSS, ordered_at=datetime(2026, 6, 30, 22, 30, tzinfo=UTC)),
        Outcome.CLEARED,
        ("6.00", "0.00", "0.00", "0.00"),
        H7,
        True,
    ),
    Case(
        "five identical T-shirts are one subheading: EUR 3",
        "EU-DUTY-FLAT",
        sources.FLAT_LOW_VALUE_DUTY,
        eu_parcel(item("610910", "20.00", 5), ioss=IOSS, day=date(2026, 7, 1)),
        Outcome.CLEARED,
        ("3.00", "0.00", "0.00", "0.00"),
        H7,
        True,
    ),
    # ---- the same parcel without IOSS: import VAT at the destination's standard rate -----
    Case(
        "no IOSS, Belgian buyer: 21 % of 130.00 = 27.30",
        "EU-VAT-SPECIAL-ARRANGEMENTS",
        sources.SPECIAL_ARRANGEMENTS,
        eu_parcel(country="BE"),
        Outcome.CLEARED,
        ("0.00", "27.30", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "no IOSS, German buyer, under transit to Germany: 19 % of 130.00 = 24.70",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="DE", transit=True),
        Outcome.CLEARED,
        ("0.00", "24.70", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "no IOSS, Hungarian buyer, under transit to Hungary: 27 % of 130.00 = 35.10",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="HU", transit=True),
        Outcome.CLEARED,
        ("0.00", "35.10", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "no IOSS on 2026-07-01: the flat duty does not apply, the relief does",
        "EU-DUTY-FLAT-NOT-IOSS",
        sources.FLAT_LOW_VALUE_DUTY,
        eu_parcel(country="BE", day=date(2026, 7, 1)),
        Outcome.CLEARED,
        ("0.00", "27.30", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "carrier collection fee of EUR 2.50 added when import VAT is collected",
        "EU-FEE-COLLECTION",
        sources.SPECIAL_ARRANGEMENTS,
        eu_parcel(country="BE"),
        Outcome.CLEARED,
        ("0.00", "27.30", "0.00", "2.50"),
        H7,
        False,
        collection_fee=Money.of("2.50", "EUR"),
    ),
    # ---- above EUR 150: tariff duty on the customs value ---------------------------------
    Case(
        "EUR 200 of cotton T-shirts to France: duty 12 % x 220 = 26.40, VAT 20 % x 246.40 = 49.28",
        "EU-TARIFF",
        sources.COMBINED_NOMENCLATURE_2026,
        eu_parcel(
            item("61091000", "20.00", 10),
            country="FR",
            transit=True,
            day=MARCH,
            shipping="15.00",
            insurance="5.00",
        ),
        Outcome.CLEARED,
        ("26.40", "49.28", "0.00", "0.00"),
        H1,
        False,
    ),
    Case(
        "EUR 150.01 of goods is above the threshold: duty 18.00, VAT 21 % x 168.01 = 35.28",
        "EU-DUTY-TARIFF",
        sources.LOW_VALUE_RELIEF,
        eu_parcel(item("610910", "150.01"), day=MARCH, shipping="0.00", insurance="0.00"),
        Outcome.CLEARED,
        ("18.00", "35.28", "0.00", "0.00"),
        H1,
        False,
    ),
    Case(
        "exactly EUR 150.00 of goods with EUR 30 transport: intrinsic value decides, relief",
        "EU-VALUE-INTRINSIC",
        sources.INTRINSIC_VALUE,
        eu_parcel(item("610910", "150.00"), shipping="30.00", insurance="0.00"),
        Outcome.CLEARED,
        ("0.00", "37.80", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "AEAT example: EUR 140 coat + EUR 15 transport to Spain keeps the relief, VAT 21 % x 155",
        "EU-DUTY-RELIEF",
        sources.INTRINSIC_VALUE,
        eu_parcel(
            item("620140", "140.00", 1, "Men's anorak"),
            country="ES",
            transit=True,
            shipping="15.00",
            insurance="0.00",
        ),
        Outcome.CLEARED,
        ("0.00", "32.55", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "IOSS number on a EUR 160 parcel does not apply: duty 20.40, VAT 19 % x 190.40 = 36.18",
        "EU-IOSS-ABOVE-150",
        sources.IOSS,
        eu_parcel(
            item("610910", "80.00", 2),
            country="DE",
            transit=True,
            day=MARCH,
            ioss=IOSS,
            shipping="10.00",
            insurance="0.00",
        ),
        Outcome.CLEARED,
        ("20.40", "36.18", "0.00", "0.00"),
        H1,
        False,
    ),
    Case(
        "code missing from the tariff table above EUR 150: held for classification",
        "EU-TARIFF-UNKNOWN",
        sources.COMBINED_NOMENCLATURE_2026,
        eu_parcel(item("847989", "200.00", 1, "Massage machine"), day=MARCH),
        Outcome.HELD,
        None,
    ),
    Case(
        "code missing from the tariff table below EUR 150: the relief needs no rate",
        "EU-DUTY-RELIEF",
        sources.LOW_VALUE_RELIEF,
        eu_parcel(item("847989", "100.00", 1, "Massage machine")),
        Outcome.CLEARED,
        ("0.00", "23.10", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "chocolate above EUR 150 carries an agricultural component: held for full assessment",
        "EU-TARIFF-COMPOSITE",
        sources.COMBINED_NOMENCLATURE_2026,
        eu_parcel(item("18063100", "200.00", 1, "Filled chocolate bars"), day=MARCH),
        Outcome.HELD,
        None,
    ),
    Case(
        "a consignment dated 2027 is outside the CN 2026 tariff table: held",
        "EU-TARIFF-OUT-OF-DATE",
        sources.COMBINED_NOMENCLATURE_2026,
        eu_parcel(item("610910", "200.00"), day=date(2027, 2, 1)),
        Outcome.HELD,
        None,
    ),
    # ---- goods excluded from the relief ----------------------------------------------------
    Case(
        "perfume without IOSS before July 2026: no relief, tariff 0 %, VAT 20 % x 70 = 14.00, H1",
        "EU-DUTY-RELIEF-EXCLUDED",
        sources.LOW_VALUE_RELIEF,
        eu_parcel(
            item("330300", "60.00", 1, "Eau de parfum 50 ml"),
            country="FR",
            transit=True,
            shipping="10.00",
            insurance="0.00",
        ),
        Outcome.CLEARED,
        ("0.00", "14.00", "0.00", "0.00"),
        H1,
        False,
    ),
    Case(
        "perfume with IOSS before July 2026: VAT paid at checkout, still no relief, H1",
        "EU-DUTY-RELIEF-EXCLUDED",
        sources.LOW_VALUE_RELIEF,
        eu_parcel(
            item("330300", "60.00", 1, "Eau de parfum 50 ml"), country="FR", transit=True, ioss=IOSS
        ),
        Outcome.CLEARED,
        ("0.00", "0.00", "0.00", "0.00"),
        H1,
        True,
    ),
    Case(
        "perfume with IOSS from July 2026: the flat EUR 3 replaces the tariff",
        "EU-DUTY-FLAT",
        sources.FLAT_LOW_VALUE_DUTY,
        eu_parcel(
            item("330300", "60.00", 1, "Eau de parfum 50 ml"),
            country="FR",
            transit=True,
            ioss=IOSS,
            day=date(2026, 7, 1),
        ),
        Outcome.CLEARED,
        ("3.00", "0.00", "0.00", "0.00"),
        H7,
        True,
    ),
    Case(
        "wine is an excise good: held for the destination's excise assessment, H1",
        "EU-EXCISE",
        sources.EXCISE_GOODS,
        eu_parcel(item("22042100", "30.00", 2, "Red wine 75 cl"), ioss=IOSS),
        Outcome.HELD,
        UNCHECKED,
        H1,
    ),
    Case(
        "malformed IOSS number: held rather than charging VAT twice",
        "EU-IOSS-MALFORMED",
        sources.IOSS,
        eu_parcel(ioss="IM123"),
        Outcome.HELD,
    ),
    # ---- currency conversion at the monthly customs rate ----------------------------------
    Case(
        "USD 116 + USD 11.60 at 1.16 USD/EUR to the Netherlands: VAT 21 % x 110.00 = 23.10",
        "EU-FX",
        sources.UCC_CURRENCY_CONVERSION,
        eu_parcel(
            item("610910", "116.00"),
            country="NL",
            transit=True,
            currency="USD",
            day=date(2026, 7, 10),
            shipping="11.60",
            insurance="0.00",
        ),
        Outcome.CLEARED,
        ("0.00", "23.10", "0.00", "0.00"),
        H7,
        False,
    ),
    Case(
        "no customs rate loaded for USD in May 2026: held, never guessed",
        "EU-FX-MISSING",
        sources.UCC_CURRENCY_CONVERSION,
        eu_parcel(currency="USD", day=date(2026, 5, 5)),
        Outcome.HELD,
        None,
    ),
    # ---- dated VAT rates -----------------------------------------------------------------
    Case(
        "Finland on 2024-08-31: 24 % of 130.00 = 31.20",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="FI", transit=True, day=date(2024, 8, 31)),
        Outcome.CLEARED,
        ("0.00", "31.20", "0.00", "0.00"),
    ),
    Case(
        "Finland on 2024-09-01: 25.5 % of 130.00 = 33.15",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="FI", transit=True, day=date(2024, 9, 1)),
        Outcome.CLEARED,
        ("0.00", "33.15", "0.00", "0.00"),
    ),
    Case(
        "Slovakia on 2025-01-01: 23 % of 130.00 = 29.90",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="SK", transit=True, day=date(2025, 1, 1)),
        Outcome.CLEARED,
        ("0.00", "29.90", "0.00", "0.00"),
    ),
    Case(
        "Estonia on 2025-06-30: 22 % of 130.00 = 28.60",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="EE", transit=True, day=date(2025, 6, 30)),
        Outcome.CLEARED,
        ("0.00", "28.60", "0.00", "0.00"),
    ),
    Case(
        "Estonia on 2025-07-01: 24 % of 130.00 = 31.20",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="EE", transit=True, day=date(2025, 7, 1)),
        Outcome.CLEARED,
        ("0.00", "31.20", "0.00", "0.00"),
    ),
    Case(
        "Romania on 2025-07-31: 19 % of 130.00 = 24.70",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="RO", transit=True, day=date(2025, 7, 31)),
        Outcome.CLEARED,
        ("0.00", "24.70", "0.00", "0.00"),
    ),
    Case(
        "Romania on 2025-08-01: 21 % of 130.00 = 27.30",
        "EU-VAT-IMPORT",
        sources.IMPORT_VAT_BASE,
        eu_parcel(country="RO", transit=True, day=date(2025, 8, 1)),
        Outcome.CLEARED,
        ("0.00", "27.30", "0.00", "0.00"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_eu_import(case: Case) -> None:
    verify(case)


def test_h7_data_elements_carry_ioss_and_six_digit_codes() -> None:
    assessment = verify(CASES[1])
    assert assessment.declaration_data["13 16 additional fiscal reference"] == f"{IOSS} (FR5)"
    assert assessment.declaration_data["18 09 commodity codes"] == "610910, 640399"
    assert assessment.declaration_data["14 14 intrinsic value"] == "120.00 EUR"
    assert assessment.declaration_data["14 15 transport and insurance costs"] == "10.00 EUR"


def test_additional_procedure_c07_is_dropped_with_the_flat_duty() -> None:
    before, after = verify(CASES[0]), verify(CASES[1])
    assert before.declaration_data["11 10 additional procedure"] == "C07 F48"
    assert after.declaration_data["11 10 additional procedure"] == "F48"


def test_usd_order_reports_charges_in_eur_and_in_usd() -> None:
    assessment = verify(next(case for case in CASES if case.rule == "EU-FX"))
    assert assessment.charges is not None and assessment.charges_in_order_currency is not None
    assert assessment.charges.total == Money.of("23.10", "EUR")
    # 23.10 EUR x 1.16 USD/EUR = 26.796, converted once and rounded half-up
    assert assessment.charges_in_order_currency.total == Money.of("26.80", "USD")
    assert [rate.currency for rate in assessment.exchange_rates] == ["USD"]


def test_the_tax_point_is_the_acceptance_of_the_declaration_not_the_order_date() -> None:
    """UCC Art 85 (issue 8 defect 5): ordered on 30 June 2026, declared on 1 July 2026: the
    EUR 3 flat duty of Council Reg. (EU) 2026/382 applies, 2 subheadings = EUR 6.00, and
    C07 has left the additional procedure code."""
    ordered = on(date(2026, 6, 30), hour=20)
    parcel = eu_parcel(ioss=IOSS, ordered_at=ordered, accepted_at=on(date(2026, 7, 1), hour=6))
    assessment = run(Case("tax point", "TAX-POINT", sources.TAX_POINT, parcel, Outcome.CLEARED))
    assert assessment.charges is not None and assessment.charges.duty.amount == Decimal("6.00")
    assert "EU-DUTY-FLAT" in rule_ids(assessment)
    assert assessment.declaration_data["11 10 additional procedure"] == "F48"
    same_day = run(
        Case(
            "order day",
            "TAX-POINT",
            sources.TAX_POINT,
            eu_parcel(ioss=IOSS, ordered_at=ordered),
            Outcome.CLEARED,
        )
    )
    assert same_day.charges is not None and same_day.charges.duty.amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("country", "postal_code", "outcome", "rule", "vat"),
    [
        # Directive 2006/112/EC Art 6(1)(b): the Canary Islands are outside the VAT area.
        ("ES", "35001", Outcome.HELD, "EU-VAT-TERRITORY", None),
        ("ES", "38 001", Outcome.HELD, "EU-VAT-TERRITORY", None),
        # Art 6(2)(d), UCC Art 4: Ceuta is outside the customs territory too.
        ("ES", "51001", Outcome.REJECTED, "LANE-TERRITORY", None),
        ("DE", "78266", Outcome.REJECTED, "LANE-TERRITORY", None),  # Büsingen
        ("DE", "27498", Outcome.REJECTED, "LANE-TERRITORY", None),  # Heligoland
        ("IT", "23041", Outcome.REJECTED, "LANE-TERRITORY", None),  # Livigno
        ("FI", "22100", Outcome.HELD, "EU-VAT-TERRITORY", None),  # Åland, Art 6(1)(d)
        ("FR", "97400", Outcome.HELD, "EU-VAT-TERRITORY", None),  # Réunion, Art 6(1)(c)
        ("GR", "63086", Outcome.HELD, "EU-VAT-TERRITORY", None),  # Mount Athos, Art 6(1)(a)
        # Art 7(1): Monaco is treated as France: French VAT, 20 % x 130 = 26.00.
        ("MC", "98000", Outcome.CLEARED, "LANE-TERRITORY", "26.00"),
        ("ES", "28001", Outcome.CLEARED, "EU-VAT-IMPORT", "27.30"),  # Madrid: 21 %
        ("FR", "75001", Outcome.CLEARED, "EU-VAT-IMPORT", "26.00"),
    ],
)
def test_vat_territories_are_decided_by_postal_code(
    country: str, postal_code: str, outcome: Outcome, rule: str, vat: str | None
) -> None:
    """Issue 8 defect 8: places outside the EU VAT area are not their member state."""
    # Under transit to the buyer's address, so that the VAT is the destination's.
    parcel = eu_parcel(country=country, postal_code=postal_code, transit=True)
    assessment = run(Case(country, rule, sources.VAT_TERRITORIES, parcel, outcome))
    assert assessment.outcome is outcome, assessment.reasons
    assert rule in rule_ids(assessment)
    if vat is None:
        assert assessment.charges is None
    else:
        assert assessment.charges is not None and assessment.charges.vat.amount == Decimal(vat)


@pytest.mark.parametrize(
    ("transit", "place", "vat"),
    [(False, "BE", "27.30"), (True, "DE", "24.70")],
)
def test_import_vat_without_ioss_is_due_where_the_goods_are_declared(
    transit: bool, place: str, vat: str
) -> None:
    """Issue 8 defect 6, Directive 2006/112/EC Arts 60-61 and 369y: declared at Liège, a
    German buyer's parcel without IOSS pays Belgian VAT (21 % x 130 = 27.30); only goods
    travelling on to Germany under transit and declared there pay German VAT (19 % = 24.70)."""
    parcel = eu_parcel(country="DE", transit=transit)
    assessment = run(
        Case("place", "EU-PLACE-OF-IMPORT", sources.PLACE_OF_IMPORT, parcel, Outcome.CLEARED)
    )
    assert assessment.charges is not None and assessment.charges.vat.amount == Decimal(vat)
    assert assessment.declaration_data["place of import (import VAT)"] == place
    assert "EU-PLACE-OF-IMPORT" in rule_ids(assessment)


def test_with_ioss_the_vat_was_charged_at_the_destinations_rate_at_checkout() -> None:
    assessment = run(
        Case("ioss", "EU-IOSS", sources.IOSS, eu_parcel(country="DE", ioss=IOSS), Outcome.CLEARED)
    )
    assert assessment.declaration_data["place of import (import VAT)"] == "DE"
