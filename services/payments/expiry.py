"""Voids authorizations left uncaptured past their window, and tells the order."""

from __future__ import annotations

import asyncio
import logging

from services.payments.service import Payments
from services.payments.settings import PaymentsSettings
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)

EXPIRY_BATCH_SIZE = 100


def expiry_job(payments: Payments, settings: PaymentsSettings):
    async def expire_authorizations(runtime: ServiceRuntime) -> None:
        while True:
            # One transaction per batch: if one void fails, nothing of the batch is recorded
            # and the supervisor restarts this job to try again.
            async with runtime.units_of_work() as uow:
                expired = await payments.expire_due(uow, EXPIRY_BATCH_SIZE)
                await uow.commit()
            if expired:
                log.info("authorizations expired", extra={"count": expired})
            await asyncio.sleep(settings.expiry_check_interval_seconds)

    return expire_authorizations
