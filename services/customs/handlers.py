"""Customs in the saga: declare an order once its goods are known and its payment authorized.

Both facts arrive on different topics in either order; each handler records its fact on the
declaration and assesses once both are there. The rule engine decides; this module only
loads, stores and announces.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.customs.consignments import assessment_document, consignment_from, duties_and_taxes
from services.customs.domain.engine import assess, buyer_identity_key
from services.customs.domain.model import (
    Assessment,
    IdentityDocument,
    IdentityDocumentType,
    Lane,
    Outcome,
)
from services.customs.domain.tables.exchange_rates import SNAPSHOT
from services.customs.settings import CustomsSettings
from services.customs.tables import BuyerAnnualTotal, Decision, Declaration
from shared.db import record_facts
from shared.events import (
    CustomsCleared,
    CustomsHeld,
    CustomsRejected,
    DutiesAndTaxes,
    Envelope,
    FulfilmentCancelled,
    OrderDetails,
    OrderPlaced,
    PaymentAuthorizationExpired,
    PaymentAuthorized,
    Topics,
)
from shared.messaging.unit_of_work import UnitOfWork
from shared.money import Money

SUBSCRIPTIONS = [Topics.ORDERS, Topics.PAYMENTS, Topics.FULFILLMENT]
RULE_ENGINE = "rules"
SYSTEM = "saga"
AWAITING = "AWAITING_ORDER_AND_PAYMENT"
HELD = "HELD"
CLEARED = "CLEARED"
WITHDRAWN = "WITHDRAWN"
# China has one time zone and no daylight saving; CBEC years run on it.
CHINA_TIME = timezone(timedelta(hours=8))


def declaration_reference(order_id: uuid.UUID) -> str:
    return f"LGG{order_id.hex[:15].upper()}"


async def _record(uow: UnitOfWork, order_id: uuid.UUID, **facts: object) -> Declaration:
    """What one event taught us about the order's declaration, on its row locked."""
    return await record_facts(
        uow.session,
        Declaration,
        {"order_id": order_id},
        facts,
        defaults={
            "id": uuid.uuid4(),
            "reference": declaration_reference(order_id),
            "status": AWAITING,
            "dangerous_goods": [],
            "rules_applied": [],
        },
    )


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


def record_decision(
    uow: UnitOfWork, declaration: Declaration, outcome: str, by: str, reasons: list[str]
) -> None:
    declaration.status = outcome
    declaration.decided_at = datetime.now(UTC)
    uow.session.add(
        Decision(declaration_id=declaration.id, outcome=outcome, decided_by=by, reasons=reasons)
    )


class CustomsHandlers:
    def __init__(self, settings: CustomsSettings) -> None:
        self._collection_fee = Money(settings.carrier_collection_fee_eur, "EUR")

    def handlers(self) -> dict:
        return {
            OrderPlaced: self.on_order_placed,
            PaymentAuthorized: self.on_payment_authorized,
            PaymentAuthorizationExpired: self.on_order_withdrawn,
            FulfilmentCancelled: self.on_order_withdrawn,
        }

    async def on_order_placed(self, event: OrderPlaced, _: Envelope, uow: UnitOfWork) -> None:
        declaration = await _record(
            uow,
            event.order_id,
            order=event.order.model_dump(mode="json"),
            ordered_at=event.placed_at,
        )
        await self._assess_when_ready(declaration, uow)

    async def on_payment_authorized(
        self, event: PaymentAuthorized, _: Envelope, uow: UnitOfWork
    ) -> None:
        declaration = await _record(uow, event.order_id, payment_id=event.payment_id)
        await self._assess_when_ready(declaration, uow)

    async def on_order_withdrawn(
        self, event: PaymentAuthorizationExpired | FulfilmentCancelled, _: Envelope, uow: UnitOfWork
    ) -> None:
        """A cancelled or lapsed order is no longer declared, nor counted in a CBEC year."""
        declaration = await _record(uow, event.order_id)
        if declaration.status == CLEARED:
            await self._uncount(declaration, uow)
        if declaration.status in (AWAITING, HELD, CLEARED):
            record_decision(uow, declaration, WITHDRAWN, SYSTEM, [type(event).__name__])

    async def _uncount(self, declaration: Declaration, uow: UnitOfWork) -> None:
        usage = (declaration.assessment or {}).get("cbec_annual_usage")
        order = declaration.order or {}
        identity = (order.get("buyer") or {}).get("identity")
        if not usage or not identity:
            return
        consignment_identity = IdentityDocument(
            IdentityDocumentType(identity["document_type"]), identity["number"]
        )
        total = await self._buyer_total(uow, consignment_identity, declaration)
        if total is not None:
            total.cleared_cny = max(
                Decimal(0), total.cleared_cny - Decimal(usage["this_order"]["amount"])
            )
            total.orders = max(0, total.orders - 1)

    async def _assess_when_ready(self, declaration: Declaration, uow: UnitOfWork) -> None:
        if declaration.status != AWAITING or declaration.order is None:
            return
        if declaration.payment_id is None or declaration.ordered_at is None:
            return
        order = OrderDetails.model_validate(declaration.order)
        consignment = consignment_from(
            declaration.order_id, declaration.ordered_at, order, declaration.payment_id
        )
        buyer_total = await self._buyer_total(uow, consignment.buyer.identity, declaration)
        assessment = assess(
            consignment,
            buyer_total.cleared_cny if buyer_total else Decimal(0),
            fx=SNAPSHOT,
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
            self._count_towards_annual_limit(assessment, buyer_total, uow)
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

    async def _buyer_total(
        self, uow, identity, declaration: Declaration
    ) -> BuyerAnnualTotal | None:
        """The buyer's running CBEC total, locked so two orders cannot both slip under the limit."""
        if identity is None or declaration.ordered_at is None:
            return None
        key = buyer_identity_key(identity)
        year = declaration.ordered_at.astimezone(CHINA_TIME).year
        await uow.session.execute(
            insert(BuyerAnnualTotal)
            .values(buyer_key=key, year=year, cleared_cny=Decimal(0), orders=0)
            .on_conflict_do_nothing()
        )
        return await uow.session.scalar(
            select(BuyerAnnualTotal)
            .where(BuyerAnnualTotal.buyer_key == key, BuyerAnnualTotal.year == year)
            .with_for_update()
        )

    @staticmethod
    def _count_towards_annual_limit(
        assessment: Assessment, buyer_total: BuyerAnnualTotal | None, uow: UnitOfWork
    ) -> None:
        usage = assessment.cbec_annual_usage
        if assessment.lane is not Lane.CN_CBEC_9610 or usage is None or buyer_total is None:
            return
        buyer_total.cleared_cny = usage.after.amount
        buyer_total.orders += 1
