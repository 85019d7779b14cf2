"""Customs in the saga: declare an order once its goods are known and its payment authorized.

Both facts arrive on different topics in either order; each handler records its fact on the
declaration and assesses once both are there. The rule engine decides; this module only
loads, stores and announces.

A consumer batch first locks, in `prefetch`, every declaration and CBEC year total its
handlers will touch, in a few statements for the whole batch; the handlers change those rows
in memory and the unit of work writes them at commit, so an event costs no SQL of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.customs.consignments import assessment_document, consignment_from, duties_and_taxes
from services.customs.domain.engine import assess, buyer_identity_key
from services.customs.domain.model import (
    AnnualUsage,
    IdentityDocument,
    IdentityDocumentType,
    Lane,
    Outcome,
)
from services.customs.reference.cache import ReferenceCache
from services.customs.reference.files import build_tables
from services.customs.settings import CustomsSettings
from services.customs.tables import BuyerAnnualTotal, Decision, Declaration
from shared.db import insert_missing, lock_rows, per_transaction
from shared.events import (
    CustomsCleared,
    CustomsHeld,
    CustomsRejected,
    DutiesAndTaxes,
    Envelope,
    Event,
    FulfilmentCancelled,
    OrderDetails,
    OrderPlaced,
    PaymentAuthorizationExpired,
    PaymentAuthorized,
    Topics,
)
from shared.messaging.unit_of_work import UnitOfWork
from shared.money import Money

# Before the first read of the reference tables every table is missing: all is held.
NO_TABLES = build_tables(())

SUBSCRIPTIONS = [Topics.ORDERS, Topics.PAYMENTS, Topics.FULFILLMENT]
RULE_ENGINE = "rules"
SYSTEM = "saga"
AWAITING = "AWAITING_ORDER_AND_PAYMENT"
HELD = "HELD"
CLEARED = "CLEARED"
WITHDRAWN = "WITHDRAWN"
# China has one time zone and no daylight saving; CBEC years run on it.
CHINA_TIME = timezone(timedelta(hours=8))
# Where `prefetch` leaves the batch's locked rows for the handlers, in the session's `info`:
# a session lives exactly as long as its transaction, so nothing outlives a rollback.
LOCKED_ROWS = "customs.locked_rows"

# A buyer's CBEC year: the buyer's identity key and the calendar year in China.
BuyerYear = tuple[str, int]


def now() -> datetime:
    """The time a declaration is lodged and accepted: its tax point."""
    return datetime.now(UTC)


def declaration_reference(order_id: uuid.UUID) -> str:
    return f"LGG{order_id.hex[:15].upper()}"


@dataclass
class LockedRows:
    """The rows this transaction holds locked, by key, for the handlers to change in memory."""

    declarations: dict[uuid.UUID, Declaration] = field(default_factory=dict)
    buyer_totals: dict[BuyerYear, BuyerAnnualTotal] = field(default_factory=dict)


def _new_declaration(order_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "reference": declaration_reference(order_id),
        "status": AWAITING,
        "dangerous_goods": [],
        "rules_applied": [],
    }


async def lock_buyer_totals(
    session: AsyncSession, keys: Iterable[BuyerYear]
) -> dict[BuyerYear, BuyerAnnualTotal]:
    """`lock_rows` for the two-column key of a buyer's year: missing totals are created at
    zero, then all are locked in key order, in two statements."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    await insert_missing(
        session,
        BuyerAnnualTotal,
        [
            {"buyer_key": buyer_key, "year": year, "cleared_cny": Decimal(0), "orders": 0}
            for buyer_key, year in wanted
        ],
    )
    rows = await session.scalars(
        select(BuyerAnnualTotal)
        .where(tuple_(BuyerAnnualTotal.buyer_key, BuyerAnnualTotal.year).in_(wanted))
        .order_by(BuyerAnnualTotal.buyer_key, BuyerAnnualTotal.year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {(row.buyer_key, row.year): row for row in rows}


def _buyer_year(identity: IdentityDocument, ordered_at: datetime) -> BuyerYear:
    return buyer_identity_key(identity), ordered_at.astimezone(CHINA_TIME).year


def _stored_identity(order: Mapping[str, Any] | None) -> IdentityDocument | None:
    identity = ((order or {}).get("buyer") or {}).get("identity")
    if not identity:
        return None
    return IdentityDocument(IdentityDocumentType(identity["document_type"]), identity["number"])


def _placed_identity(event: OrderPlaced) -> IdentityDocument | None:
    identity = event.order.buyer.identity
    if identity is None:
        return None
    return IdentityDocument(IdentityDocumentType(identity.document_type), identity.number)


def _buyer_years_in_play(
    declarations: Iterable[Declaration],
    placed: Mapping[uuid.UUID, OrderPlaced],
    accepted_at: datetime,
) -> set[BuyerYear]:
    """The CBEC years a batch may read or change: those of the buyers of orders still to be
    assessed (the year they are declared in), and the years cleared or released ones were
    counted in, which a withdrawal would take them out of again."""
    years = set()
    for declaration in declarations:
        if declaration.cbec_buyer_key is not None and declaration.cbec_year is not None:
            years.add((declaration.cbec_buyer_key, declaration.cbec_year))
        if declaration.status != AWAITING:
            continue
        event = placed.get(declaration.order_id)
        identity = _placed_identity(event) if event else _stored_identity(declaration.order)
        if identity is not None:
            years.add(_buyer_year(identity, accepted_at))
    return years


async def prefetch(events: Sequence[Event], uow: UnitOfWork) -> None:
    """Create and lock the declarations of the batch's orders (every event customs handles is
    about one), then the CBEC year totals of their buyers: four statements for the batch."""
    declarations = await lock_rows(
        uow.session,
        Declaration,
        "order_id",
        [event.order_id for event in events],
        new_row=_new_declaration,
    )
    # The last one wins, as it does on the declaration when the handlers run in order.
    placed = {event.order_id: event for event in events if isinstance(event, OrderPlaced)}
    buyer_totals = await lock_buyer_totals(
        uow.session, _buyer_years_in_play(declarations.values(), placed, now())
    )
    locked = _locked_rows(uow)
    locked.declarations.update(declarations)
    locked.buyer_totals.update(buyer_totals)


def _locked_rows(uow: UnitOfWork) -> LockedRows:
    return per_transaction(uow.session, LOCKED_ROWS, LockedRows)


async def _declaration(uow: UnitOfWork, order_id: uuid.UUID) -> Declaration:
    """The order's declaration, locked by `prefetch`, or here for an event it was not given."""
    locked = _locked_rows(uow)
    if order_id not in locked.declarations:
        locked.declarations.update(
            await lock_rows(
                uow.session, Declaration, "order_id", [order_id], new_row=_new_declaration
            )
        )
    return locked.declarations[order_id]


async def _buyer_total(uow: UnitOfWork, key: BuyerYear | None) -> BuyerAnnualTotal | None:
    """The buyer's running CBEC total, locked so two orders cannot both slip under the limit.

    Orders of one buyer in one batch share the row, so each sees the ones cleared before it.
    """
    if key is None:
        return None
    locked = _locked_rows(uow)
    if key not in locked.buyer_totals:
        locked.buyer_totals.update(await lock_buyer_totals(uow.session, [key]))
    return locked.buyer_totals[key]


async def announce_cleared(
    uow: UnitOfWork, declaration: Declaration, charges: DutiesAndTaxes
) -> None:
    await uow.emit(
        CustomsCleared(
            order_id=declaration.order_id,
            declaration_id=declaration.id,
            declaration_type=declaration.declaration_type or "",
            lane=declaration.lane or "",
            duties_and_taxes=charges,
            dangerous_goods=declaration.dangerous_goods,
            rules_applied=declaration.rules_applied,
        )
    )


def count_towards_annual_limit(
    declaration: Declaration,
    lane: str | None,
    usage: AnnualUsage | None,
    buyer_total: BuyerAnnualTotal | None,
) -> None:
    """Add a cleared or released CBEC order to its buyer's year, and remember what was added
    (and where) on the declaration, for a withdrawal to take back exactly that."""
    if lane != Lane.CN_CBEC_9610 or usage is None or buyer_total is None:
        return
    buyer_total.cleared_cny = usage.after.amount
    buyer_total.orders += 1
    declaration.cbec_buyer_key = buyer_total.buyer_key
    declaration.cbec_year = buyer_total.year
    declaration.cbec_counted_cny = usage.this_order.amount


def release_usage(declaration: Declaration) -> tuple[BuyerYear, Money] | str:
    """For releasing a held CBEC declaration: the buyer's year it counts in and the CNY it
    adds, or why it cannot be released (财关税〔2018〕49号: released orders count towards the
    CNY 26,000 year like cleared ones)."""
    usage = (declaration.assessment or {}).get("cbec_annual_usage")
    identity = _stored_identity(declaration.order)
    if not usage or identity is None:
        return (
            "the order's CBEC value in CNY or the buyer's identity is unknown: it cannot be "
            "counted towards the buyer's annual limit, so it cannot be released; reject it"
        )
    value = Money(Decimal(usage["this_order"]["amount"]), "CNY")
    return (buyer_identity_key(identity), int(usage["year"])), value


def count_release(
    declaration: Declaration, total: BuyerAnnualTotal, value: Money, annual_limit_cny: Decimal
) -> str | None:
    """Count a released CBEC order in its buyer's year, or say why the limit forbids it."""
    after = total.cleared_cny + value.amount
    if after > annual_limit_cny:
        return (
            f"the buyer's {total.year} CBEC total would be CNY {after} (so far "
            f"{total.cleared_cny}, this order {value.amount}), above the CNY {annual_limit_cny} "
            "annual limit: general trade only"
        )
    usage = AnnualUsage(total.year, Money(total.cleared_cny, "CNY"), value)
    count_towards_annual_limit(declaration, Lane.CN_CBEC_9610, usage, total)
    return None


def record_decision(
    uow: UnitOfWork, declaration: Declaration, outcome: str, by: str, reasons: list[str]
) -> None:
    declaration.status = outcome
    declaration.decided_at = datetime.now(UTC)
    uow.session.add(
        Decision(declaration_id=declaration.id, outcome=outcome, decided_by=by, reasons=reasons)
    )


class CustomsHandlers:
    def __init__(self, settings: CustomsSettings, reference: ReferenceCache | None = None) -> None:
        self._collection_fee = Money(settings.carrier_collection_fee_eur, "EUR")
        self.reference = reference or ReferenceCache(
            settings.service_name, settings.reference_check_seconds
        )

    async def prefetch(self, events: Sequence[Event], uow: UnitOfWork) -> None:
        """The batch's rows locked, and the reference tables current (one cheap look at the
        newest load id every few seconds; a rebuild only after a load)."""
        await self.reference.refresh(uow.session)
        await prefetch(events, uow)

    def handlers(self) -> dict:
        return {
            OrderPlaced: self.on_order_placed,
            PaymentAuthorized: self.on_payment_authorized,
            PaymentAuthorizationExpired: self.on_order_withdrawn,
            FulfilmentCancelled: self.on_order_withdrawn,
        }

    async def on_order_placed(self, event: OrderPlaced, _: Envelope, uow: UnitOfWork) -> None:
        declaration = await _declaration(uow, event.order_id)
        declaration.order = event.order.model_dump(mode="json")
        declaration.ordered_at = event.placed_at
        await self._assess_when_ready(declaration, uow)

    async def on_payment_authorized(
        self, event: PaymentAuthorized, _: Envelope, uow: UnitOfWork
    ) -> None:
        declaration = await _declaration(uow, event.order_id)
        declaration.payment_id = event.payment_id
        declaration.payment_order_reference = event.order_reference
        await self._assess_when_ready(declaration, uow)

    async def on_order_withdrawn(
        self, event: PaymentAuthorizationExpired | FulfilmentCancelled, _: Envelope, uow: UnitOfWork
    ) -> None:
        """A cancelled or lapsed order is no longer declared, nor counted in a CBEC year."""
        declaration = await _declaration(uow, event.order_id)
        if declaration.status == CLEARED:
            await self._uncount(declaration, uow)
        if declaration.status in (AWAITING, HELD, CLEARED):
            record_decision(uow, declaration, WITHDRAWN, SYSTEM, [type(event).__name__])

    async def _uncount(self, declaration: Declaration, uow: UnitOfWork) -> None:
        """Take out of the buyer's year exactly what this declaration added to it, if anything."""
        counted = declaration.cbec_counted_cny
        if counted is None or declaration.cbec_buyer_key is None or declaration.cbec_year is None:
            return
        total = await _buyer_total(uow, (declaration.cbec_buyer_key, declaration.cbec_year))
        if total is not None:
            total.cleared_cny = max(Decimal(0), total.cleared_cny - counted)
            total.orders = max(0, total.orders - 1)
        declaration.cbec_counted_cny = None

    async def _assess_when_ready(self, declaration: Declaration, uow: UnitOfWork) -> None:
        if declaration.status != AWAITING or declaration.order is None:
            return
        if declaration.payment_id is None or declaration.ordered_at is None:
            return
        order = OrderDetails.model_validate(declaration.order)
        # The declaration is lodged now: its acceptance is the tax point (UCC Art 85).
        consignment = consignment_from(
            declaration.order_id,
            declaration.ordered_at,
            order,
            declaration.payment_id,
            accepted_at=now(),
            payment_order_reference=declaration.payment_order_reference,
        )
        identity = consignment.buyer.identity
        buyer_total = await _buyer_total(
            uow, _buyer_year(identity, consignment.tax_point) if identity else None
        )
        assessment = assess(
            consignment,
            buyer_total.cleared_cny if buyer_total else Decimal(0),
            fx=self.reference.exchange_rates,
            tables=self.reference.tables or NO_TABLES,
            carrier_collection_fee=self._collection_fee,
        )
        declaration.lane = assessment.lane
        declaration.declaration_type = assessment.declaration_type
        declaration.assessment = assessment_document(assessment)
        declaration.dangerous_goods = list(assessment.dangerous_goods)
        declaration.rules_applied = [rule.rule_id for rule in assessment.rules_fired]
        reasons = list(assessment.reasons)
        record_decision(uow, declaration, assessment.outcome, RULE_ENGINE, reasons)
        if assessment.charges_in_order_currency is not None:
            charges = duties_and_taxes(
                assessment.charges_in_order_currency,
                order.currency,
                assessment.collected_at_checkout,
            )
            declaration.duties_and_taxes = charges.model_dump(mode="json")
        if assessment.outcome is Outcome.CLEARED:
            count_towards_annual_limit(
                declaration, assessment.lane, assessment.cbec_annual_usage, buyer_total
            )
            await announce_cleared(uow, declaration, DutiesAndTaxes(**declaration.duties_and_taxes))
        elif assessment.outcome is Outcome.REJECTED:
            await uow.emit(
                CustomsRejected(
                    order_id=declaration.order_id, declaration_id=declaration.id, reasons=reasons
                )
            )
        else:
            await uow.emit(
                CustomsHeld(
                    order_id=declaration.order_id, declaration_id=declaration.id, reasons=reasons
                )
            )
