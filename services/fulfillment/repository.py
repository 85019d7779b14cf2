"""Loads and saves the `Shipment` aggregate and the ULDs being built up for departures."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, bindparam, case, false, func, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.fulfillment.domain.awb import HouseAirWaybill, MasterAirWaybill, parse_awb
from services.fulfillment.domain.booking import Booking
from services.fulfillment.domain.clock import HOLD_RETRY_INTERVAL, planned_automatic_scan
from services.fulfillment.domain.schedule import LIEGE_HUB_SCHEDULE, Departure
from services.fulfillment.domain.shipment import (
    LEFT_HUB_STATUSES,
    ScanCode,
    Shipment,
    TrackingEvent,
    TrackingStatus,
)
from services.fulfillment.domain.uld import ULD_TYPES, BuildingUnit, UldId, UldType, hub_uld_id
from services.fulfillment.tables import (
    Parcel,
    ShipmentRecord,
    UnitLoadRecord,
    next_serial,
    uld_serials,
)

# Shipments taken out of their ULD before it left: they no longer weigh in it.
_OUT_OF_UNIT = (TrackingStatus.CANCELLED, TrackingStatus.EXCEPTION)


def _history(shipment: Shipment) -> list[dict]:
    return [
        {
            "status": event.status,
            "at": event.at.isoformat(),
            "scan_code": event.scan_code,
            "reason": event.reason,
            "location": event.location,
            "recorded_by": event.recorded_by,
        }
        for event in shipment.history
    ]


def _tracking_event(entry: dict) -> TrackingEvent:
    return TrackingEvent(
        status=TrackingStatus(entry["status"]),
        at=datetime.fromisoformat(entry["at"]),
        scan_code=ScanCode(entry["scan_code"]) if entry["scan_code"] else None,
        reason=entry["reason"],
        location=entry.get("location"),
        recorded_by=entry.get("recorded_by"),
    )


def _booking(record: ShipmentRecord) -> Booking | None:
    if record.leg_id is None or record.house_awb is None:
        return None
    assert record.departs_at is not None and record.arrives_at is not None
    master = MasterAirWaybill(parse_awb(record.master_awb)) if record.master_awb else None
    departure = Departure(
        LIEGE_HUB_SCHEDULE.leg(record.leg_id), record.departs_at, record.arrives_at
    )
    return Booking(departure, HouseAirWaybill(record.house_awb, master), master)


def _hub_time_since(
    anchor: ColumnElement[datetime], now: datetime, factor: Decimal
) -> ColumnElement[datetime]:
    """SQL for `clock_from(anchor, factor).hub_time(now)`, to pre-select due rows."""
    elapsed = bindparam("now", now, type_=DateTime(timezone=True)) - anchor
    return anchor + elapsed * literal(float(factor))


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

    async def due_for_scan(self, now: datetime, factor: Decimal, limit: int) -> list[Shipment]:
        """Shipments whose next automatic scan is due, locked; those another replica holds
        are skipped, so replicas share the work instead of queueing for the same rows."""
        records = await self._session.scalars(
            select(ShipmentRecord)
            .where(
                ShipmentRecord.next_scan_at
                <= _hub_time_since(ShipmentRecord.last_event_at, now, factor)
            )
            .order_by(ShipmentRecord.next_scan_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [self._to_domain(record) for record in records]

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
        record.last_event_at = shipment.last_event_at
        planned = planned_automatic_scan(shipment)
        record.next_scan_at = None if planned is None else planned.due_at
        record.hold_reason = shipment.hold_reason
        record.hold_checked_at = shipment.hold_checked_at
        record.uld_id = None if shipment.uld_id is None else str(shipment.uld_id)
        booking = shipment.booking
        if booking is not None:
            record.house_awb = booking.house_awb.number
            record.master_awb = (
                None if booking.master_awb is None else str(booking.master_awb.number)
            )
            record.leg_id = booking.departure.leg.leg_id
            record.departs_at = booking.departure.departs_at
            record.arrives_at = booking.departure.arrives_at

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
            booking=_booking(record),
            uld_id=None if record.uld_id is None else UldId.parse(record.uld_id),
            hold_reason=record.hold_reason,
            hold_checked_at=record.hold_checked_at,
        )


async def held_parcels_to_retry(
    session: AsyncSession, now: datetime, factor: Decimal, limit: int
) -> list[Parcel]:
    """Parcels whose shipment is held and due another booking attempt, locked (skipping those
    another replica holds) in the order every path locks them: the parcel first."""
    hub_now = _hub_time_since(ShipmentRecord.hold_checked_at, now, factor)
    parcels = await session.scalars(
        select(Parcel)
        .join(ShipmentRecord, ShipmentRecord.order_id == Parcel.order_id)
        .where(
            ShipmentRecord.status == TrackingStatus.RECEIVED_AT_HUB,
            ShipmentRecord.hold_reason.is_not(None),
            ShipmentRecord.hold_checked_at + HOLD_RETRY_INTERVAL <= hub_now,
        )
        .order_by(ShipmentRecord.hold_checked_at)
        .limit(limit)
        .with_for_update(of=Parcel, skip_locked=True)
    )
    return list(parcels)


class UnitLoadRepository:
    """The ULDs of a departure, built up one booking at a time."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_departure(self, departure: Departure) -> None:
        """Serialise build-up per departure, so two bookings never overfill one unit."""
        key = f"uld-build-up:{departure.leg.leg_id}:{departure.departs_at.isoformat()}"
        await self._session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0)))
        )

    async def building(self, departure: Departure) -> list[BuildingUnit]:
        """Units of the departure still at the hub, oldest first, with the weight they carry."""
        carried = case((ShipmentRecord.status.in_(_OUT_OF_UNIT), 0), else_=Parcel.weight_kg)
        left_hub = or_(
            ShipmentRecord.status.in_(LEFT_HUB_STATUSES),
            ShipmentRecord.status_before_exception.in_(LEFT_HUB_STATUSES),
        )
        rows = await self._session.execute(
            select(UnitLoadRecord, func.coalesce(func.sum(carried), 0))
            .outerjoin(ShipmentRecord, ShipmentRecord.uld_id == UnitLoadRecord.id)
            .outerjoin(Parcel, Parcel.order_id == ShipmentRecord.order_id)
            .where(
                UnitLoadRecord.leg_id == departure.leg.leg_id,
                UnitLoadRecord.departs_at == departure.departs_at,
            )
            .group_by(UnitLoadRecord.id)
            # A unit one of whose shipments departed has gone with it.
            .having(not_(func.coalesce(func.bool_or(left_hub), false())))
            .order_by(UnitLoadRecord.created_at, UnitLoadRecord.id)
        )
        return [
            BuildingUnit(
                uld_id=UldId.parse(unit.id),
                uld_type=ULD_TYPES[unit.type_code],
                destination=unit.destination,
                dangerous_goods=unit.dangerous_goods,
                net_weight_kg=Decimal(net_weight),
            )
            for unit, net_weight in rows
        ]

    async def open(
        self, uld_type: UldType, departure: Departure, dangerous_goods: bool, now: datetime
    ) -> UldId:
        serial = await self._session.scalar(select(next_serial(uld_serials)))
        uld_id = hub_uld_id(uld_type, serial)
        self._session.add(
            UnitLoadRecord(
                id=str(uld_id),
                type_code=uld_type.code,
                leg_id=departure.leg.leg_id,
                departs_at=departure.departs_at,
                destination=departure.leg.destination,
                dangerous_goods=dangerous_goods,
                created_at=now,
            )
        )
        await self._session.flush()
        return uld_id
