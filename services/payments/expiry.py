"""Voids authorizations left uncaptured past their window, and tells the order."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select

from services.payments.domain.payment import PaymentStatus
from services.payments.service import Payments
from services.payments.settings import PaymentsSettings
from services.payments.tables import PaymentRecord
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)


def expiry_job(payments: Payments, settings: PaymentsSettings):
    async def expire_authorizations(runtime: ServiceRuntime) -> None:
        while True:
            async with runtime.units_of_work.sessions() as session:
                due = (
                    await session.scalars(
                        select(PaymentRecord.id)
                        .where(
                            PaymentRecord.status == PaymentStatus.AUTHORIZED,
                            PaymentRecord.expires_at < datetime.now(UTC),
                        )
                        .limit(100)
                    )
                ).all()
            for payment_id in due:
                async with runtime.units_of_work() as uow:
                    await payments.expire(uow, payment_id)
                    await uow.commit()
            if due:
                log.info("authorizations expired", extra={"count": len(due)})
            await asyncio.sleep(settings.expiry_check_interval_seconds)

    return expire_authorizations
