"""Operators' refunds as intents, and the job that settles those a crash left pending.

A refund is first committed as an intent with its idempotency key, then the processor is
asked with that key, then its answer is recorded (`Payments.request_refund`, then
`Payments.settle_refund`). A crash between the three leaves the intent pending; this job asks
the processor again with the same key, which answers what it did the first time (or does it
now, if it never heard the request), and records that: the refund is paid out once and
recorded once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.settings import PaymentsSettings
from services.payments.tables import RefundIntent
from shared.service import ServiceRuntime

if TYPE_CHECKING:
    from services.payments.service import Payments

log = logging.getLogger(__name__)

RECOVERY_BATCH_SIZE = 50


class RefundIntents:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(
        self,
        payment_id: uuid.UUID,
        intent_id: uuid.UUID,
        idempotency_key: str,
        amount: Decimal,
        reason: str,
        requested_by: str,
        at: datetime,
    ) -> RefundIntent:
        intent = RefundIntent(
            id=intent_id,
            payment_id=payment_id,
            idempotency_key=idempotency_key,
            amount=amount,
            reason=reason,
            requested_by=requested_by,
            requested_at=at,
        )
        self._session.add(intent)
        return intent

    async def pending_total(self, payment_id: uuid.UUID) -> Decimal:
        """What this payment's pending intents will refund if the processor approves them."""
        total = await self._session.scalar(
            select(func.coalesce(func.sum(RefundIntent.amount), 0)).where(
                RefundIntent.payment_id == payment_id, RefundIntent.outcome.is_(None)
            )
        )
        return Decimal(total)

    async def payment_of(self, intent_id: uuid.UUID) -> uuid.UUID | None:
        return await self._session.scalar(
            select(RefundIntent.payment_id).where(RefundIntent.id == intent_id)
        )

    async def lock(self, intent_id: uuid.UUID) -> RefundIntent | None:
        """The intent, locked; None if another transaction is settling it right now."""
        return await self._session.scalar(
            select(RefundIntent)
            .where(RefundIntent.id == intent_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )

    async def pending_before(self, moment: datetime, limit: int) -> list[uuid.UUID]:
        return list(
            await self._session.scalars(
                select(RefundIntent.id)
                .where(RefundIntent.outcome.is_(None), RefundIntent.requested_at < moment)
                .order_by(RefundIntent.requested_at)
                .limit(limit)
            )
        )

    async def for_payment(self, payment_id: uuid.UUID) -> list[RefundIntent]:
        return list(
            await self._session.scalars(
                select(RefundIntent)
                .where(RefundIntent.payment_id == payment_id)
                .order_by(RefundIntent.requested_at)
            )
        )


def refund_recovery_job(payments: Payments, settings: PaymentsSettings):
    """Settle intents pending longer than the grace a live request takes to settle its own."""
    grace = timedelta(seconds=settings.refund_recovery_grace_seconds)

    async def settle_pending_refunds(runtime: ServiceRuntime) -> None:
        while True:
            async with runtime.units_of_work() as uow:
                due = await RefundIntents(uow.session).pending_before(
                    datetime.now(UTC) - grace, RECOVERY_BATCH_SIZE
                )
            for intent_id in due:
                # One transaction per intent: a refund the processor keeps failing waits for a
                # later round without holding back the others.
                async with runtime.units_of_work() as uow:
                    intent = await payments.settle_refund(uow, intent_id)
                    await uow.commit()
                if intent is not None and intent.outcome is not None:
                    log.info(
                        "pending refund settled",
                        extra={"intent_id": str(intent_id), "status": intent.outcome},
                    )
            await asyncio.sleep(settings.refund_recovery_interval_seconds)

    return settle_pending_refunds
