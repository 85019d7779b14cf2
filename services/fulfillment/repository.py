"""The rows a fulfilment transaction works on: parcels and shipments, locked once and kept
for the transaction, and the ULDs being built up at the hub.

A transaction locks what it will change up front, in a few statements: a consumer batch
every parcel and shipment of its orders (`ShipmentRepository.lock_orders`, the consumer's
prefetch), the hub clock the shipments it advances, the operators' API the one shipment
scanned. The hub then finds them here without SQL, absent shipments included, changes them
in memory, and the flush at commit writes them. Each repository lives as long as its
transaction: `of(session)` returns the current transaction's, and it is forgotten when the
transaction ends, committed or rolled back, since its locks are gone and after a rollback
its rows no longer say what the database holds.

Build-up: each ULD row counts the net weight of its shipments (`net_weight_kg`) and says
when it left (`departed_at`, with the first of its shipments), so choosing a unit never
adds up the shipments of a departure. Of the two ways to claim space in one, a conditional
`UPDATE ... WHERE net_weight_kg + :w <= :payload` per parcel or a batch's units assigned in
memory under one lock, this takes the second. A conditional update leaves the unit row
locked until the batch commits, and a batch booking parcels to several departures would
take those rows in the order its events came, so two batches could deadlock; to the
consumer a deadlock is the handlers' failure, not the infrastructure's, so their events
would be split off, retried and at worst dead-lettered. Instead,
the first transaction step that touches build-up takes one hub-wide lock
(`pg_advisory_xact_lock`) and loads every unit still being built up for a departure to
come (one statement, a handful of rows: units, never parcels); `choose_unit` then decides
in memory on up-to-date weights, and the flush writes the new weights. Every writer of
`ulds` takes that lock first (bookings, cancellations and exceptions releasing weight,
departures), so the weights are exact and first-fit holds as if bookings came one at a
time. One lock for the hub rather than one per departure costs little: a consumer batch
books to most departures anyway, and taking a lock per departure in the order bookings
come would bring the deadlocks back. Locks are taken in one order everywhere: parcels,
then shipments, then build-up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import DateTime, bindparam, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.fulfillment.domain.awb import HouseAirWaybill, MasterAirWaybill, parse_awb
from services.fulfillment.domain.booking import Booking
from services.fulfillment.domain.clock import HOLD_RETRY_INTERVAL, planned_automatic_scan
from services.fulfillment.domain.schedule import LIEGE_HUB_SCHEDULE, Departure
from services.fulfillment.domain.shipment import (
    ScanCode,
    Shipment,
    TrackingEvent,
    TrackingStatus,
)
from services.fulfillment.domain.uld import (
    ULD_TYPES,
    BuildingUnit,
    ShipmentLoad,
    UldId,
    UnitChoice,
    hub_uld_id,
)
from services.fulfillment.tables import (
    Parcel,
    ShipmentRecord,
    UnitLoadRecord,
    house_awb_serials,
    master_awb_serials,
    next_serial,
    uld_serials,
)
from shared.db import lock_rows, per_transaction
from shared.telemetry import current_trace_context

R = TypeVar("R")

BUILD_UP_LOCK = "fulfillment:uld-build-up"
SHIPMENT_ID_NAMESPACE = uuid.UUID("0b5f7a3e-92d4-4c1b-8f0e-3d7a5c9e2f61")


def shipment_id_for(order_id: uuid.UUID) -> uuid.UUID:
    """Shipment ids derive from the order id: a redelivered event can never create a second."""
    return uuid.uuid5(SHIPMENT_ID_NAMESPACE, str(order_id))


def _history(shipment: Shipment) -> list[dict]:
    return [
        {
            "status": step.status,
            "at": step.at.isoformat(),
            "scan_code": step.scan_code,
            "reason": step.reason,
            "location": step.location,
            "recorded_by": step.recorded_by,
        }
        for step in shipment.history
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


def _new_parcel(_: uuid.UUID) -> dict[str, Any]:
    return {"dangerous_goods": []}


class ShipmentRepository:
    """The parcels and shipments the transaction holds locked, by order id, and the
    `Shipment` aggregates made of them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._parcels: dict[uuid.UUID, Parcel] = {}
        # Every order looked up, those without a shipment yet included (None).
        self._shipments: dict[uuid.UUID, Shipment | None] = {}
        self._records: dict[uuid.UUID, ShipmentRecord] = {}
        self._bookings_expected = 0
        self._awb_serials: list[tuple[int, int]] = []

    @classmethod
    def of(cls, session: AsyncSession) -> ShipmentRepository:
        return per_transaction(session, cls, lambda: cls(session))

    async def lock_orders(self, order_ids: Iterable[uuid.UUID]) -> None:
        """Lock every order's parcel (created when the order is new to the hub) and its
        shipment, if it has one: three statements, however many orders."""
        wanted = set(order_ids) - self._shipments.keys()
        if not wanted:
            return
        self._parcels.update(
            await lock_rows(self._session, Parcel, "order_id", wanted, new_row=_new_parcel)
        )
        records = await self._session.scalars(
            select(ShipmentRecord)
            .where(ShipmentRecord.order_id.in_(sorted(wanted)))
            .order_by(ShipmentRecord.id)
            .with_for_update()
        )
        self._shipments.update(dict.fromkeys(wanted))
        for record in records:
            self._hold(record)

    def parcel(self, order_id: uuid.UUID) -> Parcel:
        """The order's parcel, locked by `lock_orders` or `held_for_retry`."""
        return self._parcels[order_id]

    def for_order(self, order_id: uuid.UUID) -> Shipment | None:
        """The order's shipment, or None when it has none; the order must be held."""
        return self._shipments[order_id]

    async def weight_of(self, order_id: uuid.UUID) -> Decimal:
        """The parcel's weight, read without locking it: a path that holds the shipment
        only must not lock the parcel after it, and an announced weight never changes."""
        parcel = self._parcels.get(order_id) or await self._session.get(Parcel, order_id)
        assert parcel is not None and parcel.weight_kg is not None, "a shipment has its parcel"
        return parcel.weight_kg

    async def get(self, shipment_id: uuid.UUID) -> Shipment | None:
        record = await self._session.get(ShipmentRecord, shipment_id, with_for_update=True)
        return None if record is None else self._hold(record)

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
        return [self._hold(record) for record in records]

    async def held_for_retry(self, now: datetime, factor: Decimal, limit: int) -> list[Parcel]:
        """Parcels whose shipment is held and due another booking attempt, locked with
        their shipments in one statement (skipping those another replica holds)."""
        hub_now = _hub_time_since(ShipmentRecord.hold_checked_at, now, factor)
        rows = await self._session.execute(
            select(Parcel, ShipmentRecord)
            .join(ShipmentRecord, ShipmentRecord.order_id == Parcel.order_id)
            .where(
                ShipmentRecord.status == TrackingStatus.RECEIVED_AT_HUB,
                ShipmentRecord.hold_reason.is_not(None),
                ShipmentRecord.hold_checked_at + HOLD_RETRY_INTERVAL <= hub_now,
            )
            .order_by(ShipmentRecord.hold_checked_at)
            .limit(limit)
            .with_for_update(of=(Parcel, ShipmentRecord), skip_locked=True)
        )
        parcels = []
        for parcel, record in rows:
            self._parcels[parcel.order_id] = parcel
            self._hold(record)
            parcels.append(parcel)
        return parcels

    def expect_bookings(self, count: int) -> None:
        """How many bookings the transaction is likely to make: the first one draws air
        waybill serials for all of them at once. A serial drawn and not used is a gap in
        its sequence, which sequences have anyway."""
        self._bookings_expected = count

    async def next_awb_serials(self) -> tuple[int, int]:
        """The next house and master air waybill serials."""
        if not self._awb_serials:
            drawn = await self._session.execute(
                select(next_serial(house_awb_serials), next_serial(master_awb_serials)).select_from(
                    func.generate_series(1, max(self._bookings_expected, 1))
                )
            )
            # Kept in reverse, so that bookings take them in the sequences' order.
            self._awb_serials = [(house, master) for house, master in drawn][::-1]
            self._bookings_expected = 0
        return self._awb_serials.pop()

    def record_of(self, shipment: Shipment) -> ShipmentRecord:
        return self._records[shipment.shipment_id]

    def trace_context_of(self, order_id: uuid.UUID) -> dict[str, str]:
        """The trace context the order's shipment was created in; empty when the order is
        held without a shipment, or its shipment is older than the stored contexts."""
        shipment = self._shipments.get(order_id)
        if shipment is None:
            return {}
        return self._records[shipment.shipment_id].trace_context or {}

    def add(self, shipment: Shipment) -> None:
        """A new shipment, created in its order's trace: the context is kept with it."""
        record = ShipmentRecord(
            id=shipment.shipment_id,
            order_id=shipment.order_id,
            destination=shipment.destination,
            created_at=shipment.created_at,
            trace_context=current_trace_context(),
        )
        self._records[shipment.shipment_id] = record
        self._shipments[shipment.order_id] = shipment
        self._session.add(record)
        self.save(shipment)

    def save(self, shipment: Shipment) -> None:
        """Copy the aggregate onto its row, for the flush at commit."""
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

    def _hold(self, record: ShipmentRecord) -> Shipment:
        """Keep the locked row (the session's identity map would let an unchanged one go)
        and the aggregate made of it, for the rest of the transaction."""
        self._records[record.id] = record
        shipment = Shipment(
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
        self._shipments[record.order_id] = shipment
        return shipment


class UnitLoadRepository:
    """The ULDs being built up at the hub, under the build-up lock, with the net weight
    each carries."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._locked = False
        self._building: dict[str, UnitLoadRecord] | None = None
        self._departed: set[str] = set()

    @classmethod
    def of(cls, session: AsyncSession) -> UnitLoadRepository:
        return per_transaction(session, cls, lambda: cls(session))

    async def building(self, departure: Departure, now: datetime) -> list[BuildingUnit]:
        """Units of the departure still at the hub, oldest first, with what they carry."""
        return [
            BuildingUnit(
                uld_id=UldId.parse(unit.id),
                uld_type=ULD_TYPES[unit.type_code],
                destination=unit.destination,
                dangerous_goods=unit.dangerous_goods,
                net_weight_kg=unit.net_weight_kg,
            )
            for unit in (await self._units(now)).values()
            if unit.leg_id == departure.leg.leg_id and unit.departs_at == departure.departs_at
        ]

    async def load(
        self, choice: UnitChoice, departure: Departure, shipment: ShipmentLoad, now: datetime
    ) -> UldId:
        """Build the shipment up into the unit chosen among `building`, opening it when
        the choice is a new one, and count its weight there."""
        units = await self._units(now)
        if choice.uld_id is None:
            serial = await self._session.scalar(select(next_serial(uld_serials)))
            uld_id = hub_uld_id(choice.uld_type, serial)
            unit = UnitLoadRecord(
                id=str(uld_id),
                type_code=choice.uld_type.code,
                leg_id=departure.leg.leg_id,
                departs_at=departure.departs_at,
                destination=departure.leg.destination,
                dangerous_goods=bool(shipment.dangerous_goods),
                net_weight_kg=Decimal(0),
                created_at=now,
            )
            self._session.add(unit)
            units[unit.id] = unit
        else:
            uld_id = choice.uld_id
            unit = units[str(uld_id)]
        unit.net_weight_kg += shipment.weight_kg
        return uld_id

    async def unload(self, uld_id: UldId, weight_kg: Decimal, now: datetime) -> None:
        """A shipment taken out of its unit (cancelled, or an exception) no longer weighs in
        it. Only units still being built up count: one that left, or whose departure is
        past, takes no more shipments."""
        unit = (await self._units(now)).get(str(uld_id))
        if unit is not None:
            unit.net_weight_kg -= weight_kg

    async def departed(self, uld_id: UldId, at: datetime) -> None:
        """The unit left with one of its shipments: it is built up no further. Its first
        shipment to depart marks it (once per transaction: the others find it marked)."""
        key = str(uld_id)
        if key in self._departed:
            return
        await self._lock()
        await self._session.execute(
            update(UnitLoadRecord.__table__)
            .where(
                UnitLoadRecord.__table__.c.id == key,
                UnitLoadRecord.__table__.c.departed_at.is_(None),
            )
            .values(departed_at=at)
        )
        self._departed.add(key)
        if self._building is not None:
            self._building.pop(key, None)

    async def _lock(self) -> None:
        if not self._locked:
            await self._session.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended(BUILD_UP_LOCK, 0)))
            )
            self._locked = True

    async def _units(self, now: datetime) -> dict[str, UnitLoadRecord]:
        """Every unit still being built up for a departure from `now` on, by id, oldest
        first, loaded once per transaction under the build-up lock. A booking's departure
        never lies before its moment, so later steps of the transaction find theirs here."""
        if self._building is None:
            await self._lock()
            units = await self._session.scalars(
                select(UnitLoadRecord)
                .where(UnitLoadRecord.departed_at.is_(None), UnitLoadRecord.departs_at >= now)
                .order_by(UnitLoadRecord.created_at, UnitLoadRecord.id)
                # What the transaction changed so far is written once, at commit.
                .execution_options(autoflush=False)
            )
            self._building = {unit.id: unit for unit in units if unit.id not in self._departed}
        return self._building
