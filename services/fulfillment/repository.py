"""Loads and saves the `Shipment` aggregate."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.fulfillment.domain.shipment import (
    ScanCode,
    Shipment,
    TrackingEvent,
    TrackingStatus,
)
from services.fulfillment.tables import ShipmentRecord


def _history(shipment: Shipment) -> list[dict]:
    return [
        {
            "status": event.status,
            "at": event.at.isoformat(),
            "scan_code": event.scan_code,
            "reason": event.reason,
        }
        for event in shipment.history
    ]


def _tracking_event(entry: dict) -> TrackingEvent:
    return TrackingEvent(
        status=TrackingStatus(entry["status"]),
        at=datetime.fromisoformat(entry["at"]),
        scan_code=ScanCode(entry["scan_code"]) if entry["scan_code"] else None,
        reason=entry["reason"],
    )


class ShipmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._records: dict[uuid.UUID, ShipmentRecord] = {}

    async def for_order(self, order_id: uuid.UUID) -> Shipment | None:
        record = await self._session.scalar(
            select(ShipmentRecord).where(ShipmentRecord.order_id == order_id).with_for_update()
        )
        return None if record is None else self._to_domain(record)

    async def get(self, shipment_id: uuid.UUID) -> Shipment | None:
        record = await self._session.get(ShipmentRecord, shipment_id, with_for_update=True)
        return None if record is None else self._to_domain(record)

    def record_of(self, shipment: Shipment) -> ShipmentRecord:
        return self._records[shipment.shipment_id]

    def add(self, shipment: Shipment) -> ShipmentRecord:
        record = ShipmentRecord(
            id=shipment.shipment_id,
            order_id=shipment.order_id,
            destination=shipment.destination,
            created_at=shipment.created_at,
        )
        self._records[shipment.shipment_id] = record
        self._session.add(record)
        self.save(shipment)
        return record

    def save(self, shipment: Shipment) -> None:
        record = self._records[shipment.shipment_id]
        record.status = shipment.status
        record.status_before_exception = shipment.status_before_exception
        record.exception_reason = shipment.exception_reason
        record.history = _history(shipment)

    def _to_domain(self, record: ShipmentRecord) -> Shipment:
        self._records[record.id] = record
        return Shipment(
            shipment_id=record.id,
            order_id=record.order_id,
            destination=record.destination,
            created_at=record.created_at,
            status=TrackingStatus(record.status),
            status_before_exception=(
                TrackingStatus(record.status_before_exception)
                if record.status_before_exception
                else None
            ),
            exception_reason=record.exception_reason,
            history=[_tracking_event(entry) for entry in record.history],
        )
