"""Loads and saves the `Payment` aggregate; the domain never sees a table."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.domain.payment import OperationKind, Payment, PaymentOperation, PaymentStatus
from services.payments.tables import OperationRecord, PaymentRecord
from shared.events import ExchangeRateUsed
from shared.money import Money, round_money


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._records: dict[uuid.UUID, PaymentRecord] = {}

    async def for_order(self, order_id: uuid.UUID) -> Payment | None:
        """The order's payment, locked for this transaction."""
        record = await self._session.scalar(
            select(PaymentRecord).where(PaymentRecord.order_id == order_id).with_for_update()
        )
        return None if record is None else self._to_domain(record)

    async def get(self, payment_id: uuid.UUID) -> Payment | None:
        record = await self._session.get(PaymentRecord, payment_id, with_for_update=True)
        return None if record is None else self._to_domain(record)

    def token_of(self, payment: Payment) -> str:
        return self._records[payment.payment_id].token

    def authorization_reference_of(self, payment: Payment) -> str | None:
        return self._records[payment.payment_id].authorization_reference

    def add(self, payment: Payment, token: str) -> None:
        record = PaymentRecord(
            id=payment.payment_id,
            order_id=payment.order_id,
            currency=payment.currency,
            token=token,
            operations=[],
        )
        self._records[payment.payment_id] = record
        self._session.add(record)
        self.save(payment)

    def save(self, payment: Payment, gateway_reference: str | None = None) -> None:
        """Write the aggregate's state and its new operations (the log is append-only)."""
        record = self._records[payment.payment_id]
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
        record = self._records[payment.payment_id]
        record.amount_eur = in_eur.amount if in_eur else None
        record.exchange_rate = rate.model_dump(mode="json") if rate else None

    def _to_domain(self, record: PaymentRecord) -> Payment:
        self._records[record.id] = record
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
