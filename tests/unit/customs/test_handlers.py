"""The customs consumer path: a batch's rows are locked once by `prefetch`, handlers use them.

The database is replaced by `CustomsTables`, which records each locking call; the session
has no `execute`, so a handler issuing SQL of its own on the common path would fail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from services.customs import handlers as customs
from services.customs.domain import IdentityDocument, IdentityDocumentType, buyer_identity_key
from services.customs.handlers import CLEARED, WITHDRAWN, CustomsHandlers, prefetch
from services.customs.settings import CustomsSettings
from services.customs.tables import BuyerAnnualTotal, Decision, Declaration
from shared.events import (
    CustomsCleared,
    CustomsHeld,
    CustomsRejected,
    Envelope,
    Event,
    FulfilmentCancelled,
    MoneyAmount,
    OrderDetails,
    OrderPlaced,
    PaymentAuthorized,
)
from tests.unit.customs.builders import FX, TABLES
from tests.unit.sample_orders import demo_order

PLACED_AT = datetime(2026, 3, 4, 12, tzinfo=UTC)
PASSPORT = "E12345678"
OTHER_PASSPORT = "E87654321"


def buyer_year(passport: str) -> tuple[str, int]:
    return buyer_identity_key(IdentityDocument(IdentityDocumentType.PASSPORT, passport)), 2026


def eu_order() -> OrderDetails:
    """EUR 49.80 of silk scarves from a Chinese IOSS seller to Liège."""
    return OrderDetails.model_validate(demo_order(partner_reference="unit-eu"))


def cbec_order(passport: str) -> OrderDetails:
    """CNY 4,500 of Belgian pralines to Shanghai (goods 4,000, shipping 400, insurance 100)."""
    return OrderDetails.model_validate(
        {
            "partner_reference": f"unit-cn-{passport}",
            "buyer": {
                "name": "Chen Jie",
                "email": "chen.jie@example.cn",
                "address": {
                    "line1": "1 Nanjing Road",
                    "city": "Shanghai",
                    "postal_code": "200001",
                    "country": "CN",
                },
                "identity": {"document_type": "PASSPORT", "number": passport},
            },
            "seller": {"name": "Chocolaterie Liégeoise SRL", "country": "BE"},
            "items": [
                {
                    "sku": "PRALINES-500",
                    "description": "Chocolate pralines, filled, 500 g box",
                    "hs_code": "18063100",
                    "quantity": 10,
                    "unit_price": "400.00",
                    "weight_kg": "0.600",
                    "origin_country": "BE",
                }
            ],
            "currency": "CNY",
            "shipping_cost": "400.00",
            "insurance_cost": "100.00",
            "payment": {"token": "tok_visa", "payer_name": "Chen Jie"},
        }
    )


def placed(order: OrderDetails) -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(), partner_id=uuid.uuid4(), placed_at=PLACED_AT, order=order
    )


def authorized(event: OrderPlaced, order_reference: str | None = None) -> PaymentAuthorized:
    return PaymentAuthorized(
        order_id=event.order_id,
        payment_id=uuid.uuid4(),
        amount=MoneyAmount(amount=event.order.order_total, currency=event.order.currency),
        # As the payments service reports it: the order its payment names.
        order_reference=order_reference or event.order.partner_reference,
    )


class FakeSession:
    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        # An unbound session (no I/O): what the transaction keeps is forgotten through its events.
        self.sync_session = Session()
        self.added: list[object] = []

    def add(self, row: object) -> None:
        self.added.append(row)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.session = FakeSession()
        self.emitted: list[Event] = []

    async def emit(self, event: Event) -> None:
        self.emitted.append(event)


@dataclass
class CustomsTables:
    """The customs rows as the database keeps them between batches, and every locking call."""

    declarations: dict[uuid.UUID, Declaration] = field(default_factory=dict)
    buyer_totals: dict[tuple[str, int], BuyerAnnualTotal] = field(default_factory=dict)
    locks: list[tuple[str, list[Any]]] = field(default_factory=list)

    async def lock_rows(self, session, model, key, values, new_row=None):
        assert (model, key) == (Declaration, "order_id")
        wanted = sorted(set(values))
        self.locks.append(("declarations", wanted))
        for order_id in wanted:
            if order_id not in self.declarations:
                self.declarations[order_id] = Declaration(**new_row(order_id), order_id=order_id)
        return {order_id: self.declarations[order_id] for order_id in wanted}

    async def lock_buyer_totals(self, session, keys):
        wanted = sorted(set(keys))
        self.locks.append(("buyer_totals", wanted))
        for buyer_key, year in wanted:
            self.buyer_totals.setdefault(
                (buyer_key, year),
                BuyerAnnualTotal(buyer_key=buyer_key, year=year, cleared_cny=Decimal(0), orders=0),
            )
        return {key: self.buyer_totals[key] for key in wanted}

    def total(self, passport: str) -> BuyerAnnualTotal:
        return self.buyer_totals[buyer_year(passport)]


ACCEPTED_AT = datetime(2026, 3, 4, 12, 5, tzinfo=UTC)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> CustomsTables:
    # Declarations are accepted (the tax point) a few minutes after the order, in 2026.
    monkeypatch.setattr(customs, "now", lambda: ACCEPTED_AT)
    tables = CustomsTables()
    monkeypatch.setattr(customs, "lock_rows", tables.lock_rows)
    monkeypatch.setattr(customs, "lock_buyer_totals", tables.lock_buyer_totals)
    return tables


class ShippedReference:
    """The shipped reference tables, already in memory: refreshing them reads nothing."""

    tables = TABLES
    exchange_rates = FX

    async def refresh(self, session: object) -> None:
        return None


HANDLERS = CustomsHandlers(CustomsSettings(), reference=ShippedReference()).handlers()


async def consume(events: list[Event], *, with_prefetch: bool = True) -> FakeUnitOfWork:
    """One consumer batch: prefetch, then every handler in order, in one unit of work."""
    uow = FakeUnitOfWork()
    if with_prefetch:
        await prefetch(events, uow)
    for event in events:
        await HANDLERS[type(event)](event, Envelope.wrap(event, "/unit-test"), uow)
    return uow


async def test_a_batch_locks_its_rows_in_one_call_per_table_and_handlers_add_no_sql(tables):
    orders = [placed(eu_order()), placed(cbec_order(PASSPORT)), placed(cbec_order(OTHER_PASSPORT))]

    uow = await consume([*orders, *(authorized(order) for order in orders)])

    assert tables.locks == [
        ("declarations", sorted(order.order_id for order in orders)),
        ("buyer_totals", sorted([buyer_year(PASSPORT), buyer_year(OTHER_PASSPORT)])),
    ]
    assert [type(event) for event in uow.emitted] == [CustomsCleared] * 3
    assert [type(row) for row in uow.session.added] == [Decision] * 3
    assert {tables.declarations[order.order_id].status for order in orders} == {CLEARED}
    new = tables.declarations[orders[0].order_id]
    assert new.reference == customs.declaration_reference(orders[0].order_id)
    assert isinstance(new.id, uuid.UUID)


async def test_two_orders_of_one_buyer_in_one_batch_both_count_towards_the_year(tables):
    tables.buyer_totals[buyer_year(PASSPORT)] = BuyerAnnualTotal(
        buyer_key=buyer_year(PASSPORT)[0], year=2026, cleared_cny=Decimal("20000"), orders=4
    )
    first, second = placed(cbec_order(PASSPORT)), placed(cbec_order(PASSPORT))

    uow = await consume([first, second, authorized(first), authorized(second)])

    assert tables.locks == [
        ("declarations", sorted([first.order_id, second.order_id])),
        ("buyer_totals", [buyer_year(PASSPORT)]),
    ]
    assert [type(event) for event in uow.emitted] == [CustomsCleared, CustomsRejected]
    assert any("26000" in reason for reason in uow.emitted[1].reasons), uow.emitted[1].reasons
    assert tables.total(PASSPORT).cleared_cny == Decimal("24500")
    assert tables.total(PASSPORT).orders == 5


async def test_a_payment_in_a_later_batch_locks_the_buyers_year_from_the_stored_order(tables):
    order = placed(cbec_order(PASSPORT))
    await consume([order])
    tables.locks.clear()

    uow = await consume([authorized(order)])

    assert tables.locks == [
        ("declarations", [order.order_id]),
        ("buyer_totals", [buyer_year(PASSPORT)]),
    ]
    assert [type(event) for event in uow.emitted] == [CustomsCleared]
    assert tables.total(PASSPORT).cleared_cny == Decimal("4500")
    assert tables.total(PASSPORT).orders == 1


async def test_withdrawing_a_cleared_order_takes_it_out_of_the_buyers_year(tables):
    order = placed(cbec_order(PASSPORT))
    await consume([order, authorized(order)])
    tables.locks.clear()

    await consume([FulfilmentCancelled(order_id=order.order_id, reason="changed mind")])

    assert tables.locks == [
        ("declarations", [order.order_id]),
        ("buyer_totals", [buyer_year(PASSPORT)]),
    ]
    assert tables.declarations[order.order_id].status == WITHDRAWN
    assert tables.total(PASSPORT).cleared_cny == Decimal(0)
    assert tables.total(PASSPORT).orders == 0


async def test_without_prefetch_a_handler_locks_the_rows_it_needs_itself(tables):
    order = placed(cbec_order(PASSPORT))

    uow = await consume([order, authorized(order)], with_prefetch=False)

    assert tables.locks == [
        ("declarations", [order.order_id]),
        ("buyer_totals", [buyer_year(PASSPORT)]),
    ]
    assert [type(event) for event in uow.emitted] == [CustomsCleared]
    assert tables.total(PASSPORT).orders == 1


def held_cbec_order(passport: str) -> OrderPlaced:
    """CNY 4,500 of pralines whose payment names no payer: held (GACC Announcement 2018/194)."""
    order = cbec_order(passport).model_dump(mode="json")
    order["payment"]["payer_name"] = None
    return placed(OrderDetails.model_validate(order))


async def test_a_released_cbec_order_counts_and_its_withdrawal_takes_back_only_that(tables):
    """Issue 8 defect 1, 财关税〔2018〕49号: an officer's release counts the order in the
    buyer's CNY 26,000 year; a withdrawal subtracts exactly what was counted."""
    tables.buyer_totals[buyer_year(PASSPORT)] = BuyerAnnualTotal(
        buyer_key=buyer_year(PASSPORT)[0], year=2026, cleared_cny=Decimal("20000"), orders=4
    )
    order = held_cbec_order(PASSPORT)
    uow = await consume([order, authorized(order)])
    declaration = tables.declarations[order.order_id]
    assert declaration.status == "HELD", [type(e) for e in uow.emitted]
    assert tables.total(PASSPORT).cleared_cny == Decimal("20000")  # not counted while held

    key, value = customs.release_usage(declaration)
    assert key == buyer_year(PASSPORT) and value.amount == Decimal("4500.00")
    assert customs.count_release(declaration, tables.total(PASSPORT), value, Decimal(26000)) is None
    assert tables.total(PASSPORT).cleared_cny == Decimal("24500.00")
    assert declaration.cbec_counted_cny == Decimal("4500.00")
    declaration.status = CLEARED  # what the release records

    await consume([FulfilmentCancelled(order_id=order.order_id, reason="changed mind")])
    assert tables.total(PASSPORT).cleared_cny == Decimal("20000.00")
    assert tables.total(PASSPORT).orders == 4


async def test_a_release_that_crosses_the_annual_limit_is_refused_and_counts_nothing(tables):
    tables.buyer_totals[buyer_year(PASSPORT)] = BuyerAnnualTotal(
        buyer_key=buyer_year(PASSPORT)[0], year=2026, cleared_cny=Decimal("22000"), orders=5
    )
    order = held_cbec_order(PASSPORT)
    await consume([order, authorized(order)])
    declaration = tables.declarations[order.order_id]

    _, value = customs.release_usage(declaration)
    refusal = customs.count_release(declaration, tables.total(PASSPORT), value, Decimal(26000))

    assert refusal is not None and "26000" in refusal and "26500.00" in refusal
    assert tables.total(PASSPORT).cleared_cny == Decimal("22000")
    assert declaration.cbec_counted_cny is None


async def test_withdrawing_a_held_order_that_never_counted_subtracts_nothing(tables):
    tables.buyer_totals[buyer_year(PASSPORT)] = BuyerAnnualTotal(
        buyer_key=buyer_year(PASSPORT)[0], year=2026, cleared_cny=Decimal("10000"), orders=2
    )
    order = held_cbec_order(PASSPORT)
    await consume([order, authorized(order)])

    await consume([FulfilmentCancelled(order_id=order.order_id, reason="changed mind")])

    assert tables.declarations[order.order_id].status == WITHDRAWN
    assert tables.total(PASSPORT).cleared_cny == Decimal("10000")
    assert tables.total(PASSPORT).orders == 2


# ---- issue 8 defect 3: each of China's three documents from its own source ------------------


async def test_a_payment_naming_another_order_holds_the_declaration(tables):
    """GACC Announcement 2018 No. 194: the payment document comes from the payments service's
    event; when it names another order the three documents do not match: HELD."""
    order = placed(cbec_order(PASSPORT))

    uow = await consume([order, authorized(order, order_reference="some-other-order")])

    assert [type(event) for event in uow.emitted] == [CustomsHeld]
    assert any("some-other-order" in reason for reason in uow.emitted[0].reasons)


async def test_a_waybill_from_the_partners_carrier_naming_another_order_holds(tables):
    details = cbec_order(PASSPORT).model_dump(mode="json")
    details["logistics_document"] = {"waybill": "176-12345675", "order_reference": "ORD-OTHER"}
    order = placed(OrderDetails.model_validate(details))

    uow = await consume([order, authorized(order)])

    assert [type(event) for event in uow.emitted] == [CustomsHeld]
    assert any("176-12345675" in reason for reason in uow.emitted[0].reasons)
