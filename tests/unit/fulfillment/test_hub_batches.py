"""The hub's consumer path: a batch locks what it needs up front, decides in memory, and
claims ULD space from each unit's own weight counter, never adding up a departure.

The database is replaced by an in-memory stand-in that answers the statements of the
repositories, applies what they write, and records every statement it is asked to run.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Update

from services.fulfillment import handlers
from services.fulfillment.domain.schedule import choose_departure
from services.fulfillment.domain.shipment import TrackingStatus
from services.fulfillment.domain.uld import AKE
from services.fulfillment.hub import record_scan
from services.fulfillment.repository import ShipmentRepository, shipment_id_for
from services.fulfillment.tables import Parcel, ShipmentRecord, UnitLoadRecord
from shared.events import (
    CustomsCleared,
    Event,
    FulfilmentCancelled,
    OrderCancellationRequested,
    OrderPlaced,
    PaymentCaptured,
    ShipmentDispatched,
    ShipmentReceived,
    ShipmentTracked,
)
from tests.unit.shared.test_contracts import DEMO_ORDER

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
PARCEL_KG = Decimal("0.160")  # the demo order: two scarves of 80 g
DEPARTURE = choose_departure("BE", NOW)  # the Brussels road feeder, carried in ULDs


class HubDatabase:
    """Answers the repositories' statements from rows kept here, and records each."""

    def __init__(self) -> None:
        self.parcels: dict[uuid.UUID, Parcel] = {}
        self.shipments: dict[uuid.UUID, ShipmentRecord] = {}
        self.units: dict[str, UnitLoadRecord] = {}
        self.statements: list[str] = []
        self._serials = itertools.count(1)

    def serve(self, session: AsyncSession) -> AsyncSession:
        session.execute = self._execute  # type: ignore[method-assign]
        session.scalars = self._scalars  # type: ignore[method-assign]
        session.scalar = self._scalar  # type: ignore[method-assign]
        session.get = self._get  # type: ignore[method-assign]
        return session

    def unit(self, serial: int, *, net_kg: str, created_at: datetime, **changes: Any) -> str:
        row = UnitLoadRecord(
            id=f"AKE {serial:05d} EH",
            type_code="AKE",
            leg_id=DEPARTURE.leg.leg_id,
            departs_at=DEPARTURE.departs_at,
            destination=DEPARTURE.leg.destination,
            dangerous_goods=False,
            net_weight_kg=Decimal(net_kg),
            departed_at=None,
            created_at=created_at,
        )
        for name, value in changes.items():
            setattr(row, name, value)
        self.units[row.id] = row
        return row.id

    def _record(self, statement: Any) -> dict[str, Any]:
        compiled = statement.compile(dialect=postgresql.dialect())
        self.statements.append(" ".join(str(compiled).split()))
        return compiled.params

    async def _execute(self, statement: Any, *args: Any, **kwargs: Any) -> list[tuple]:
        params = self._record(statement)
        sql = self.statements[-1]
        if sql.startswith("INSERT INTO parcels"):
            [columns] = args  # one array per column: the batch's rows in one statement
            for order_id in columns["order_id"]:
                self.parcels.setdefault(order_id, Parcel(order_id=order_id, dangerous_goods=[]))
            return []
        if isinstance(statement, Update):
            self.units[params["id_1"]].departed_at = params["departed_at"]
            return []
        if "pg_advisory_xact_lock" in sql:
            return [(None,)]
        assert "house_awb_serial" in sql, sql
        count = params["generate_series_2"]
        return [(next(self._serials), 1_000_000 + next(self._serials)) for _ in range(count)]

    async def _scalars(self, statement: Any, *args: Any, **kwargs: Any) -> list[Any]:
        params = self._record(statement)
        entity = statement.column_descriptions[0]["entity"]
        if entity is Parcel:
            return [self.parcels[order_id] for order_id in sorted(params["order_id_1"])]
        if entity is ShipmentRecord:
            wanted = params["order_id_1"]
            return [record for key, record in self.shipments.items() if key in wanted]
        assert entity is UnitLoadRecord
        building = [
            unit
            for unit in self.units.values()
            if unit.departed_at is None and unit.departs_at >= params["departs_at_1"]
        ]
        return sorted(building, key=lambda unit: (unit.created_at, unit.id))

    async def _scalar(self, statement: Any, *args: Any, **kwargs: Any) -> int:
        self._record(statement)
        assert "uld_serial" in self.statements[-1]
        return 100 + len(self.units)

    async def _get(self, model: type, key: Any, **kwargs: Any) -> Any:
        self._record(model.__table__.select())
        if model is ShipmentRecord:
            return next(record for record in self.shipments.values() if record.id == key)
        assert model is Parcel
        return self.parcels[key]


class RecordingUnitOfWork:
    def __init__(self, database: HubDatabase) -> None:
        self.session = database.serve(AsyncSession())
        self.emitted: list[Event] = []

    async def emit(self, event: Event) -> None:
        self.emitted.append(event)

    def added(self, model: type) -> list[Any]:
        return [row for row in self.session.new if isinstance(row, model)]


@pytest.fixture(autouse=True)
def hub_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "utcnow", lambda: NOW)


@pytest.fixture
def database() -> HubDatabase:
    return HubDatabase()


def order_events(order_id: uuid.UUID) -> list[Event]:
    taxes = {"amount": "0.00", "currency": "EUR"}
    return [
        OrderPlaced(order_id=order_id, partner_id=uuid.uuid4(), placed_at=NOW, order=DEMO_ORDER),
        CustomsCleared(
            order_id=order_id,
            declaration_id=uuid.uuid4(),
            declaration_type="H7",
            lane="GREEN",
            duties_and_taxes={
                **dict.fromkeys(("duty", "vat", "other_taxes", "fees", "total"), taxes),
                "collected_at_checkout": True,
            },
        ),
        PaymentCaptured(
            order_id=order_id,
            payment_id=uuid.uuid4(),
            amount={"amount": "57.10", "currency": "EUR"},
        ),
    ]


async def consume(uow: RecordingUnitOfWork, events: list[Event]) -> None:
    """What the runtime does with a batch inside its transaction, the commit aside."""
    await handlers.prefetch(events, uow)  # type: ignore[arg-type]
    for event in events:
        await handlers.HANDLERS[type(event)](event, None, uow)  # type: ignore[arg-type]


def interleaved(order_ids: list[uuid.UUID]) -> Iterator[Event]:
    """Each order's events in order, the orders' events mixed as topics deliver them."""
    per_order = [order_events(order_id) for order_id in order_ids]
    for step in range(3):
        for events in per_order:
            yield events[step]


def kinds(statements: list[str]) -> list[str]:
    return [statement.split(" (")[0].split(" FROM ")[0][:40] for statement in statements]


@pytest.mark.parametrize("orders", [1, 25, 80])
async def test_a_batch_books_every_parcel_in_the_same_few_statements(database, orders):
    uow = RecordingUnitOfWork(database)
    order_ids = [uuid.uuid4() for _ in range(orders)]

    await consume(uow, list(interleaved(order_ids)))

    assert len(database.statements) == 7, kinds(database.statements)
    lock_parcels, load_parcels, load_shipments, build_up, units, serials, open_unit = (
        database.statements
    )
    assert lock_parcels.startswith("INSERT INTO parcels")
    assert load_parcels.startswith("SELECT parcels.") and "FOR UPDATE" in load_parcels
    assert load_shipments.startswith("SELECT shipments.") and "FOR UPDATE" in load_shipments
    assert "pg_advisory_xact_lock" in build_up
    assert units.startswith("SELECT ulds.") and "sum(" not in units
    assert "uld_serial" in open_unit
    assert "house_awb_serial" in serials and "master_awb_serial" in serials
    shipments = uow.added(ShipmentRecord)
    assert {record.order_id for record in shipments} == set(order_ids)
    assert {record.status for record in shipments} == {TrackingStatus.CONSOLIDATED}
    assert len({record.house_awb for record in shipments}) == orders
    [unit] = uow.added(UnitLoadRecord)
    assert {record.uld_id for record in shipments} == {unit.id}
    assert unit.net_weight_kg == PARCEL_KG * orders
    assert [type(event) for event in uow.emitted].count(ShipmentDispatched) == orders
    assert [type(event) for event in uow.emitted].count(ShipmentTracked) == orders


async def test_facts_are_recorded_on_the_parcel_and_a_shipment_waits_for_its_payment(database):
    uow = RecordingUnitOfWork(database)
    order_id = uuid.uuid4()
    placed, cleared, _ = order_events(order_id)

    await consume(uow, [cleared, placed])

    parcel = database.parcels[order_id]
    assert (parcel.weight_kg, parcel.destination_country) == (PARCEL_KG, "BE")
    assert parcel.cleared_at == NOW and parcel.paid_at is None
    [shipment] = uow.added(ShipmentRecord)
    assert shipment.id == shipment_id_for(order_id)
    assert shipment.status is TrackingStatus.RECEIVED_AT_HUB
    assert [type(event) for event in uow.emitted] == [ShipmentReceived]
    # Nothing is booked: no build-up lock, no serial.
    assert len(database.statements) == 3


async def test_a_unit_without_room_or_already_gone_is_passed_over(database):
    hour = timedelta(hours=1)
    nearly_full = str(AKE.payload_kg - Decimal("0.100"))
    database.unit(1, net_kg="0", created_at=NOW - 3 * hour, departed_at=NOW - hour)
    database.unit(2, net_kg=nearly_full, created_at=NOW - 2 * hour)
    roomy = database.unit(3, net_kg="10.000", created_at=NOW - hour)
    uow = RecordingUnitOfWork(database)

    await consume(uow, order_events(uuid.uuid4()))

    [shipment] = uow.added(ShipmentRecord)
    assert shipment.uld_id == roomy
    assert database.units[roomy].net_weight_kg == Decimal("10.000") + PARCEL_KG
    assert database.units["AKE 00002 EH"].net_weight_kg == Decimal(nearly_full)
    assert uow.added(UnitLoadRecord) == []


async def test_a_full_unit_makes_the_next_booking_open_another(database):
    full = database.unit(1, net_kg=str(AKE.payload_kg - PARCEL_KG), created_at=NOW)
    uow = RecordingUnitOfWork(database)

    await consume(uow, [*order_events(uuid.uuid4()), *order_events(uuid.uuid4())])

    first, second = sorted(uow.added(ShipmentRecord), key=lambda record: record.house_awb)
    assert first.uld_id == full
    assert database.units[full].net_weight_kg == AKE.payload_kg
    [opened] = uow.added(UnitLoadRecord)
    assert second.uld_id == opened.id
    assert opened.net_weight_kg == PARCEL_KG


async def built_up_order(database: HubDatabase) -> tuple[uuid.UUID, str]:
    """An order whose shipment was consolidated by an earlier, committed batch."""
    order_id = uuid.uuid4()
    uow = RecordingUnitOfWork(database)
    await consume(uow, order_events(order_id))
    [record] = uow.added(ShipmentRecord)
    database.shipments[order_id] = record
    for unit in uow.added(UnitLoadRecord):
        database.units[unit.id] = unit
    database.statements.clear()
    return order_id, record.uld_id


async def test_cancelling_a_built_up_shipment_gives_its_weight_back(database):
    order_id, uld_id = await built_up_order(database)
    database.units[uld_id].net_weight_kg += Decimal("5.000")  # another shipment's
    uow = RecordingUnitOfWork(database)

    cancellation = OrderCancellationRequested(order_id=order_id, reason="buyer changed mind")
    await consume(uow, [cancellation])

    assert database.shipments[order_id].status is TrackingStatus.CANCELLED
    assert database.units[uld_id].net_weight_kg == Decimal("5.000")
    [answer] = uow.emitted
    assert isinstance(answer, FulfilmentCancelled)
    assert answer.shipment_id == shipment_id_for(order_id)


async def test_a_unit_leaves_with_its_first_shipment_and_takes_no_more(database):
    order_id, uld_id = await built_up_order(database)
    uow = RecordingUnitOfWork(database)
    shipment = await ShipmentRepository.of(uow.session).get(shipment_id_for(order_id))
    departed_at = NOW + timedelta(minutes=5)

    await record_scan(uow, shipment, "DEP", departed_at)

    assert database.units[uld_id].departed_at == departed_at
    later = RecordingUnitOfWork(database)
    await consume(later, order_events(uuid.uuid4()))
    [shipment] = later.added(ShipmentRecord)
    [opened] = later.added(UnitLoadRecord)
    assert shipment.uld_id == opened.id != uld_id


async def test_an_exception_before_departure_releases_its_weight_and_after_it_does_not(
    database,
):
    held, uld_id = await built_up_order(database)
    gone, _ = await built_up_order(database)
    assert database.units[uld_id].net_weight_kg == 2 * PARCEL_KG
    uow = RecordingUnitOfWork(database)
    shipments = ShipmentRepository.of(uow.session)

    await record_scan(uow, await shipments.get(shipment_id_for(held)), "DIS", NOW, reason="torn")

    assert database.units[uld_id].net_weight_kg == PARCEL_KG
    later = RecordingUnitOfWork(database)
    departed = await ShipmentRepository.of(later.session).get(shipment_id_for(gone))
    await record_scan(later, departed, "DEP", NOW + timedelta(minutes=1))
    database.statements.clear()
    await record_scan(later, departed, "DIS", NOW + timedelta(minutes=2), reason="lost")

    assert database.statements == []
    assert database.units[uld_id].net_weight_kg == PARCEL_KG


async def test_what_a_transaction_held_is_forgotten_when_it_ends(database):
    uow = RecordingUnitOfWork(database)
    await uow.session.begin()
    held = ShipmentRepository.of(uow.session)
    assert ShipmentRepository.of(uow.session) is held

    await uow.session.rollback()

    assert ShipmentRepository.of(uow.session) is not held
