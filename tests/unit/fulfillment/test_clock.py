from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.fulfillment.domain.booking import book
from services.fulfillment.domain.clock import (
    LAST_MILE_STEPS,
    DueScan,
    HubClock,
    clock_from,
    next_automatic_scan,
    planned_automatic_scan,
)
from services.fulfillment.domain.errors import InvalidTimestamp
from services.fulfillment.domain.schedule import choose_departure
from services.fulfillment.domain.shipment import ScanCode, Shipment, TrackingStatus
from services.fulfillment.domain.uld import UldId

REAL_START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HUB_START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_factor_one_is_real_time_shifted() -> None:
    clock = HubClock(REAL_START, HUB_START)
    assert clock.hub_time(REAL_START + timedelta(minutes=5)) == HUB_START + timedelta(minutes=5)


def test_factor_3600_makes_an_hour_pass_each_second() -> None:
    clock = HubClock(REAL_START, HUB_START, 3600)
    assert clock.hub_time(REAL_START + timedelta(seconds=1)) == HUB_START + timedelta(hours=1)
    assert clock.real_time(HUB_START + timedelta(days=1)) == REAL_START + timedelta(seconds=24)


def test_fractional_factors_are_exact() -> None:
    clock = HubClock(REAL_START, HUB_START, Decimal("1.5"))
    assert clock.hub_time(REAL_START + timedelta(seconds=10)) == HUB_START + timedelta(seconds=15)


@pytest.mark.parametrize("factor", [0, -2, Decimal("NaN"), 2.0])
def test_invalid_factors_are_refused(factor: object) -> None:
    with pytest.raises(ValueError, match="factor"):
        HubClock(REAL_START, HUB_START, factor)  # type: ignore[arg-type]


def test_naive_moments_are_refused() -> None:
    with pytest.raises(InvalidTimestamp):
        HubClock(datetime(2026, 1, 1), HUB_START)
    with pytest.raises(InvalidTimestamp):
        HubClock(REAL_START, HUB_START).hub_time(datetime(2026, 1, 1))


@given(
    seconds=st.integers(min_value=-(10**5), max_value=10**5),
    micros=st.integers(min_value=0, max_value=999_999),
    factor=st.integers(min_value=1, max_value=100_000),
)
def test_real_and_hub_time_map_back_within_a_microsecond(
    seconds: int, micros: int, factor: int
) -> None:
    clock = HubClock(REAL_START, HUB_START, factor)
    real = REAL_START + timedelta(seconds=seconds, microseconds=micros)
    back = clock.real_time(clock.hub_time(real))
    assert abs(back - real) <= timedelta(microseconds=1)
    assert clock.hub_time(real + timedelta(microseconds=1)) >= clock.hub_time(real)


DEMO_FACTOR = Decimal(3600)


def received(destination: str, at: datetime) -> Shipment:
    shipment = Shipment.create(uuid.uuid4(), uuid.uuid4(), destination, at)
    shipment.apply_scan("RCS", at)
    return shipment


def booked(destination: str, at: datetime) -> Shipment:
    shipment = received(destination, at)
    shipment.book(book(choose_departure(destination, at), 1, 1), at)
    return shipment


def test_a_clock_from_an_anchor_shows_the_anchor_there() -> None:
    clock = clock_from(REAL_START, DEMO_FACTOR)
    assert clock.hub_time(REAL_START) == REAL_START
    assert clock.hub_time(REAL_START + timedelta(seconds=2)) == REAL_START + timedelta(hours=2)


def test_nothing_happens_by_itself_before_booking() -> None:
    assert planned_automatic_scan(received("CN", HUB_START)) is None
    assert next_automatic_scan(received("CN", HUB_START), HUB_START + timedelta(days=30)) is None


@pytest.mark.parametrize("built_up", [False, True])
def test_booked_shipment_departs_with_its_departure(built_up: bool) -> None:
    shipment = booked("CN", HUB_START)
    if built_up:
        shipment.consolidate(UldId("AKE", "00001", "EH"), HUB_START)
    departure = shipment.departure
    assert departure is not None
    assert planned_automatic_scan(shipment) == DueScan(ScanCode.DEP, departure.departs_at)
    assert next_automatic_scan(shipment, departure.departs_at - timedelta(seconds=1)) is None


def test_arrival_follows_the_actual_departure() -> None:
    shipment = booked("CN", HUB_START)
    departure = shipment.departure
    assert departure is not None
    late = departure.departs_at + timedelta(hours=3)
    shipment.apply_scan("DEP", late)
    transit = departure.arrives_at - departure.departs_at
    assert planned_automatic_scan(shipment) == DueScan(ScanCode.ARR, late + transit)


def test_the_last_mile_takes_its_typical_dwell() -> None:
    shipment = booked("CN", HUB_START)
    shipment.apply_scan("DEP", HUB_START)
    shipment.apply_scan("ARR", HUB_START)
    tfd_dwell = LAST_MILE_STEPS[TrackingStatus.ARRIVED][1]
    assert planned_automatic_scan(shipment) == DueScan(ScanCode.TFD, HUB_START + tfd_dwell)
    shipment.apply_scan("TFD", HUB_START)
    dlv_dwell = LAST_MILE_STEPS[TrackingStatus.OUT_FOR_DELIVERY][1]
    assert planned_automatic_scan(shipment) == DueScan(ScanCode.DLV, HUB_START + dlv_dwell)


def test_exceptions_and_finished_shipments_wait_for_nobody() -> None:
    broken = booked("CN", HUB_START)
    broken.apply_scan("DIS", HUB_START, "parcel crushed")
    assert planned_automatic_scan(broken) is None
    cancelled = booked("CN", HUB_START)
    cancelled.cancel("order cancelled", HUB_START)
    assert next_automatic_scan(cancelled, HUB_START + timedelta(days=365)) is None
    delivered = booked("CN", HUB_START)
    for code in ("DEP", "ARR", "DLV"):
        delivered.apply_scan(code, HUB_START)
    assert planned_automatic_scan(delivered) is None


def walk_unattended(shipment: Shipment, factor: Decimal) -> tuple[list[ScanCode], datetime]:
    """Apply due scans as the hub clock job does: each at the real moment it falls due."""
    applied, real_now = [], shipment.last_event_at
    while (planned := planned_automatic_scan(shipment)) is not None:
        clock = clock_from(shipment.last_event_at, factor)
        real_now = clock.real_time(planned.due_at)
        due = next_automatic_scan(shipment, clock.hub_time(real_now))
        assert due == planned
        shipment.apply_scan(due.scan_code, real_now)
        applied.append(due.scan_code)
    return applied, real_now


def test_a_booked_shipment_walks_to_delivery_on_an_accelerated_clock() -> None:
    shipment = booked("CN", REAL_START)
    shipment.consolidate(UldId("AKE", "00001", "EH"), REAL_START)
    applied, delivered_at = walk_unattended(shipment, DEMO_FACTOR)
    assert shipment.status is TrackingStatus.DELIVERED
    assert applied == [ScanCode.DEP, ScanCode.ARR, ScanCode.TFD, ScanCode.DLV]
    moments = [event.at for event in shipment.history]
    assert moments == sorted(moments)
    assert delivered_at - REAL_START < timedelta(minutes=5)


@pytest.mark.parametrize("hour_of_week", range(0, 7 * 24, 1))
def test_at_the_demo_factor_a_belgian_order_is_delivered_within_about_a_minute(
    hour_of_week: int,
) -> None:
    """The demo order goes by the 04:00 road feeder to Brussels: 16 hub hours from departure
    to delivery, plus up to 49 hours' wait over a weekend, so 17 to 65 seconds at 3600."""
    booked_at = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(hours=hour_of_week, minutes=30)
    shipment = booked("BE", booked_at)
    _, delivered_at = walk_unattended(shipment, DEMO_FACTOR)
    assert shipment.status is TrackingStatus.DELIVERED
    assert timedelta(seconds=16) <= delivered_at - booked_at <= timedelta(seconds=66)
