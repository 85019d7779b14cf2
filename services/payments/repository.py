"""Loads and saves the `Payment` aggregate; the domain never sees a table.

Payments are read locked and kept, by order, in a cache of the transaction: a consumer
batch locks the payments of all its orders at once (`lock_for_orders`) and its handlers
then find them, or find that there is none, without SQL. What the handlers change is
written by the flush at commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BindParameter, Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from services.payments.domain.payment import OperationKind, Payment, PaymentOperation, PaymentStatus
from services.payments.tables import CancelledOrder, OperationRecord, PaymentRecord
from shared.db import per_transaction
from shared.events import ExchangeRateUsed
from shared.money import Money, round_money

WITH_OPERATIONS = selectinload(PaymentRecord.operations)


def _uuids(values: Collection[uuid.UUID]) -> BindParameter:
    # One array parameter: the same statement, prepared once, whatever the batch size.
    return bindparam("ids", list(values), type_=ARRAY(Uuid))


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # order id -> its locked payment record, or None when it has none
        self._by_order: dict[uuid.UUID, PaymentRecord | None] = per_transaction(
            session, "payments by order", dict
        )
        # order id -> whether it was cancelled before payments saw it placed
        self._cancelled: dict[uuid.UUID, bool] = per_transaction(session, "cancelled orders", dict)

    async def lock_for_orders(self, order_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Payment]:
        """The payments of these orders, by order, locked for this transaction (one statement)."""
        wanted = sorted(set(order_ids) - self._by_order.keys())
        if wanted:
            # The logs joined in, not read by a second statement: only the payments are
            # locked (a log is appended to under its payment's lock).
            records = (
                await self._session.scalars(
                    select(PaymentRecord)
                    .where(PaymentRecord.order_id == any_(_uuids(wanted)))
                    .order_by(PaymentRecord.order_id)
                    .with_for_update(of=PaymentRecord)
                    .options(joinedload(PaymentRecord.operations))
                    .execution_options(populate_existing=True)
                )
            ).unique()
            self._by_order.update(dict.fromkeys(wanted))
            self._by_order.update({record.order_id: record for record in records})
        return {
            order_id: self._to_domain(record)
            for order_id in order_ids
            if (record := self._by_order[order_id]) is not None
        }

    async def lock_expired(self, now: datetime, limit: int) -> list[Payment]:
        """Authorized payments past their window, locked; those another transaction holds
        (being captured right now, say) are left for a later round."""
        records = (
            await self._session.scalars(
                select(PaymentRecord)
                .where(
                    PaymentRecord.status == PaymentStatus.AUTHORIZED,
                    PaymentRecord.expires_at < now,
                )
                .order_by(PaymentRecord.expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .options(WITH_OPERATIONS)
                .execution_options(populate_existing=True)
            )
        ).all()
        self._by_order.update({record.order_id: record for record in records})
        return [self._to_domain(record) for record in records]

    async def for_order(self, order_id: uuid.UUID) -> Payment | None:
        """The order's payment, locked for this transaction."""
        return (await self.lock_for_orders([order_id])).get(order_id)

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        """The payment, locked for this transaction."""
        record = await self._session.get(
            PaymentRecord,
            payment_id,
            with_for_update=True,
            options=[WITH_OPERATIONS],
            populate_existing=True,
        )
        if record is None:
            return None
        self._by_order[record.order_id] = record
        return self._to_domain(record)

    async def load_cancellations(self, order_ids: Collection[uuid.UUID]) -> None:
        """Learn which of these orders were cancelled before placement, in one statement."""
        wanted = set(order_ids) - self._cancelled.keys()
        if not wanted:
            return
        cancelled = set(
            await self._session.scalars(
                select(CancelledOrder.order_id).where(
                    CancelledOrder.order_id == any_(_uuids(wanted))
                )
            )
        )
        self._cancelled.update({order_id: order_id in cancelled for order_id in wanted})

    async def is_cancelled(self, order_id: uuid.UUID) -> bool:
        await self.load_cancellations([order_id])
        return self._cancelled[order_id]

    async def mark_cancelled(self, order_id: uuid.UUID) -> None:
        if not await self.is_cancelled(order_id):
            self._session.add(CancelledOrder(order_id=order_id))
            self._cancelled[order_id] = True

    def token_of(self, payment: Payment) -> str:
        return self._record_of(payment).token

    def authorization_reference_of(self, payment: Payment) -> str | None:
        return self._record_of(payment).authorization_reference

    def add(self, payment: Payment, token: str) -> None:
        record = PaymentRecord(
            id=payment.payment_id,
            order_id=payment.order_id,
            currency=payment.currency,
            token=token,
            operations=[],
        )
        self._by_order[payment.order_id] = record
        self._session.add(record)
        self.save(payment)

    def save(self, payment: Payment, gateway_reference: str | None = None) -> None:
        """Write the aggregate's state and its new operations (the log is append-only)."""
        record = self._record_of(payment)
        record.status = payment.status
        record.authorized_amount = payment.authorized_amount.amount
        record.captured_amount = payment.captured_amount.amount
        record.refunded_amount = payment.refunded_amount.amount
        record.authorized_at = payment.authorized_at
        record.expires_at = payment.expires_at
        for sequence, operation in enumerate(payment.operations, start=1):
            if sequence <= len(record.operations):
                continue
            if operation.kind is OperationKind.AUTHORIZATION:
                record.authorization_reference = gateway_reference
            record.operations.append(
                OperationRecord(
                    sequence=sequence,
                    kind=operation.kind,
                    amount=operation.amount.amount,
                    idempotency_key=operation.idempotency_key,
                    gateway_reference=gateway_reference,
                    reason=operation.reason,
                    at=operation.at,
                )
            )

    def record_eur_amount(
        self, payment: Payment, in_eur: Money | None, rate: ExchangeRateUsed | None
    ) -> None:
        record = self._record_of(payment)
        record.amount_eur = in_eur.amount if in_eur else None
        record.exchange_rate = rate.model_dump(mode="json") if rate else None

    def _record_of(self, payment: Payment) -> PaymentRecord:
        record = self._by_order[payment.order_id]
        assert record is not None, "a payment is loaded or added before it is used"
        return record

    def _to_domain(self, record: PaymentRecord) -> Payment:
        currency = record.currency

        def money(amount: Decimal) -> Money:
            return Money(round_money(amount, currency), currency)

        return Payment(
            payment_id=record.id,
            order_id=record.order_id,
            currency=currency,
            authorized_amount=money(record.authorized_amount),
            captured_amount=money(record.captured_amount),
            refunded_amount=money(record.refunded_amount),
            status=PaymentStatus(record.status),
            authorized_at=record.authorized_at,
            expires_at=record.expires_at,
            operations=[
                PaymentOperation(
                    kind=OperationKind(operation.kind),
                    amount=money(operation.amount),
                    idempotency_key=operation.idempotency_key,
                    at=operation.at,
                    reason=operation.reason,
                )
                for operation in record.operations
            ],
        )
