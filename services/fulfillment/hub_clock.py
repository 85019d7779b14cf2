"""The hub clock: booked shipments advance by themselves, and held ones are retried.

Every tick the job takes the shipments whose next automatic scan is due
(`domain/clock.py`) and applies it through `hub.record_scan`, the operators' code path, so
each step is announced the same way. It also tries again to book the shipments held for
want of a departure. Work is done in short transactions on rows taken with
`SELECT ... FOR UPDATE SKIP LOCKED`, so replicas share it and never wait on each other
for shipments (a departure or a booking still takes the hub's build-up lock).

Each step is taken in its order's trace, from the context stored with the shipment: a scan
is a span there (`record_scan`), a booking at last is announced there, and a tick that finds
nothing to do, or a retry that still books nothing, records no span at all.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

from services.fulfillment.domain.clock import clock_from, next_automatic_scan
from services.fulfillment.domain.shipment import Shipment
from services.fulfillment.hub import advance, record_scan
from services.fulfillment.repository import ShipmentRepository
from shared.events import utcnow
from shared.messaging.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.service import BackgroundJob, ServiceRuntime
from shared.telemetry import context_from, use_context

TICK_SECONDS = 0.2
BATCH_SIZE = 200


def hub_clock_job(factor: Decimal) -> BackgroundJob:
    async def advance_hub_clock(runtime: ServiceRuntime) -> None:
        while True:
            advanced = await advance_due_shipments(runtime.units_of_work, factor)
            retried = await retry_held_shipments(runtime.units_of_work, factor)
            # A full batch leaves more due: the next tick comes at once. Sleeping after
            # every batch would cap the hub at BATCH_SIZE shipments per tick, whatever the load.
            if advanced < BATCH_SIZE and retried < BATCH_SIZE:
                await asyncio.sleep(TICK_SECONDS)

    return advance_hub_clock


async def advance_due_shipments(units_of_work: UnitOfWorkFactory, factor: Decimal) -> int:
    """Apply the due scans of at most BATCH_SIZE shipments; returns how many there were."""
    async with units_of_work() as uow:
        now = utcnow()
        shipments = ShipmentRepository.of(uow.session)
        due = await shipments.due_for_scan(now, factor, BATCH_SIZE)
        for shipment in due:
            await _apply_due_scans(uow, shipment, factor, now)
        await uow.commit()
    return len(due)


async def retry_held_shipments(units_of_work: UnitOfWorkFactory, factor: Decimal) -> int:
    """Try again to book at most BATCH_SIZE held shipments; returns how many were tried."""
    async with units_of_work() as uow:
        now = utcnow()
        shipments = ShipmentRepository.of(uow.session)
        held = await shipments.held_for_retry(now, factor, BATCH_SIZE)
        for parcel in held:
            with use_context(context_from(shipments.trace_context_of(parcel.order_id))):
                await advance(uow, parcel, now)
        await uow.commit()
    return len(held)


async def _apply_due_scans(
    uow: UnitOfWork,
    shipment: Shipment,
    factor: Decimal,
    now: datetime,
) -> None:
    """Catch up every scan due by now, each recorded at the real moment it fell due."""
    while True:
        clock = clock_from(shipment.last_event_at, factor)
        scan = next_automatic_scan(shipment, clock.hub_time(now))
        if scan is None:
            return
        # Mapping back may round a microsecond past now; a scan is never recorded ahead of it.
        at = min(clock.real_time(scan.due_at), now)
        await record_scan(uow, shipment, scan.scan_code, at)
