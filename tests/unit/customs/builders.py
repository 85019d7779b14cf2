"""Consignments for the customs tests, with defaults that clear unless a test changes one thing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from services.customs.domain import (
    Assessment,
    Buyer,
    CbecDocuments,
    Consignment,
    DeclarationType,
    ExchangeRateTable,
    IdentityDocument,
    IdentityDocumentType,
    Item,
    Outcome,
    RateAuthority,
    Seller,
    TradeDocument,
    assess,
    customs_rate,
)
from services.customs.reference.files import build_tables, shipped_loads
from shared.money import Money

ORDER_ID = uuid.UUID("6f1c2b7e-0d5a-4c3e-9a47-2f8f5d1e9b30")
IOSS = "IM2760000001"
VALID_RESIDENT_ID = "11010519491231002X"  # check character verified by GB 11643-1999
INVALID_RESIDENT_ID = "110105194912310021"
RESIDENT_ID = IdentityDocument(IdentityDocumentType.CN_RESIDENT_ID, VALID_RESIDENT_ID)

# Round test rates so expected amounts can be worked out by hand in each case.
FX = ExchangeRateTable(
    (
        customs_rate(RateAuthority.EU, date(2026, 6, 1), "USD", "1.16", "test rate"),
        customs_rate(RateAuthority.EU, date(2026, 7, 1), "USD", "1.16", "test rate"),
        customs_rate(RateAuthority.CN, date(2026, 3, 1), "EUR", "8.00", "test rate"),
    )
)


# The shipped reference files, parsed once: what `make up` loads into the database.
TABLES = build_tables(shipped_loads())


def on(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def item(
    hs_code: str = "610910",
    price: str = "40.00",
    quantity: int = 1,
    description: str = "Cotton T-shirt",
    sku: str | None = None,
    net_content: str | None = None,
    net_content_unit: str = "ml",
) -> Item:
    return Item(
        sku=sku or f"SKU-{hs_code}",
        description=description,
        hs_code=hs_code,
        quantity=quantity,
        unit_price=Decimal(price),
        weight_kg=Decimal("0.250"),
        origin_country="CN",
        net_content=None if net_content is None else Decimal(net_content),
        net_content_unit=None if net_content is None else net_content_unit,
    )


def eu_parcel(
    *items: Item,
    country: str = "BE",
    day: date = date(2026, 6, 30),
    ordered_at: datetime | None = None,
    ioss: str | None = None,
    currency: str = "EUR",
    shipping: str = "8.00",
    insurance: str = "2.00",
    seller_country: str = "CN",
    buyer_name: str = "Jan Peeters",
    seller_name: str = "Shenzhen Bright Trading Co.",
    accepted_at: datetime | None = None,
    postal_code: str | None = None,
    transit: bool = False,
) -> Consignment:
    """Default: two T-shirts and leather shoes, EUR 120 of goods + EUR 10 transport, insurance."""
    return Consignment(
        order_id=ORDER_ID,
        ordered_at=ordered_at or on(day),
        currency=currency,
        buyer=Buyer(buyer_name, country, postal_code=postal_code),
        seller=Seller(seller_name, seller_country, ioss),
        payer_name=buyer_name,
        items=items or (item("610910", "40.00", 2), item("640399", "40.00", 1, "Leather shoes")),
        shipping_cost=Decimal(shipping),
        insurance_cost=Decimal(insurance),
        accepted_at=accepted_at,
        transit_to_destination=transit,
    )


def documents(
    order: str = "ORD-88", payment: str | None = "ORD-88", logistics: str | None = "ORD-88"
) -> CbecDocuments:
    return CbecDocuments(
        order=TradeDocument("ORD-88", order),
        payment=None if payment is None else TradeDocument("PAY-5501", payment),
        logistics=None if logistics is None else TradeDocument("176-12345675", logistics),
    )


def cn_parcel(
    *items: Item,
    day: date = date(2026, 3, 4),
    ordered_at: datetime | None = None,
    currency: str = "CNY",
    shipping: str = "80.00",
    insurance: str = "20.00",
    buyer_name: str = "Zhang Wei",
    payer: str | None = "Zhang Wei",
    identity: IdentityDocument | None = RESIDENT_ID,
    docs: CbecDocuments | None = None,
    seller_country: str = "BE",
) -> Consignment:
    """Default: CNY 3,900 of filled chocolate + CNY 100 freight and insurance to Shanghai."""
    return Consignment(
        order_id=ORDER_ID,
        ordered_at=ordered_at or on(day, 2),
        currency=currency,
        buyer=Buyer(buyer_name, "CN", identity),
        seller=Seller("Chocolaterie Liégeoise SA", seller_country),
        payer_name=payer,
        items=items or (item("18063100", "390.00", 10, "Belgian filled chocolate pralines"),),
        shipping_cost=Decimal(shipping),
        insurance_cost=Decimal(insurance),
        documents=docs or documents(),
    )


def rule_ids(assessment: Assessment) -> list[str]:
    return [rule.rule_id for rule in assessment.rules_fired]


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


UNCHECKED = _Unchecked()


@dataclass(frozen=True)
class Case:
    """One table row: the rule it exercises, the source of that rule, and what must come out.

    `charges` lists expected (duty, vat, other taxes, fees) in the customs currency, or None
    when no charges can be computed; fields left UNCHECKED are not checked by that row.
    """

    name: str
    rule: str
    source: str
    consignment: Consignment
    outcome: Outcome
    charges: tuple[str, str, str, str] | None | object = UNCHECKED
    declaration_type: DeclarationType | None | object = UNCHECKED
    collected_at_checkout: bool | object = UNCHECKED
    dangerous_goods: tuple[str, ...] | object = UNCHECKED
    year_to_date_cny: Decimal = Decimal(0)
    collection_fee: Money = Money.zero("EUR")


def run(case: Case) -> Assessment:
    return assess(
        case.consignment,
        case.year_to_date_cny,
        fx=FX,
        tables=TABLES,
        carrier_collection_fee=case.collection_fee,
    )


def verify(case: Case) -> Assessment:
    assessment = run(case)
    context = f"{case.name}: rules {rule_ids(assessment)}, reasons {assessment.reasons}"
    assert case.rule in rule_ids(assessment), context
    assert assessment.outcome is case.outcome, context
    if case.charges is not UNCHECKED:
        if case.charges is None:
            assert assessment.charges is None, context
        else:
            charges = assessment.charges
            assert charges is not None, context
            actual = (
                charges.duty.amount,
                charges.vat.amount,
                charges.other_taxes.amount,
                charges.fees.amount,
            )
            assert actual == tuple(Decimal(amount) for amount in case.charges), context
    if case.declaration_type is not UNCHECKED:
        assert assessment.declaration_type == case.declaration_type, context
    if case.collected_at_checkout is not UNCHECKED:
        assert assessment.collected_at_checkout is case.collected_at_checkout, context
    if case.dangerous_goods is not UNCHECKED:
        assert assessment.dangerous_goods == case.dangerous_goods, context
    return assessment
