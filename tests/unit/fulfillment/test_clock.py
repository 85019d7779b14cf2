from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.fulfillment.domain.clock import (
    DEMO_STEPS,
    DueScan,
    HubClock,
    next_automatic_scan,
    planned_automatic_scan,
)
from services.fulfillment.domain.errors import InvalidTimestamp
from services.fulfillment.domain.schedule import choose_departure
from services.fulfillment.domain.shipment import ScanCode, Shipment, TrackingStatus

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


def new_shipment() -> Shipment:
    return Shipment.create(uuid.uuid4(), uuid.uuid4(), "CN", HUB_START)


def test_first_automatic_scan_falls_due_after_its_dwell() -> None:
    shipment = new_shipment()
    dwell = DEMO_STEPS[TrackingStatus.CREATED][1]
    assert planned_automatic_scan(shipment) == DueScan(ScanCode.RCS, HUB_START + dwell)
    assert next_automatic_scan(shipment, HUB_START + dwell - timedelta(seconds=1)) is None
    assert next_automatic_scan(shipment, HUB_START + dwell) == DueScan(
        ScanCode.RCS, HUB_START + dwell
    )


def test_booked_shipment_departs_and_arrives_with_its_departure() -> None:
    shipment = new_shipment()
    for code in ("RCS", "BUP", "MAN"):
        shipment.apply_scan(code, HUB_START)
    departure = choose_departure("CN", HUB_START)
    assert planned_automatic_scan(shipment, departure) == DueScan(
        ScanCode.DEP, departure.departs_at
    )
    shipment.apply_scan("DEP", departure.departs_at)
    assert planned_automatic_scan(shipment, departure) == DueScan(
        ScanCode.ARR, departure.arrives_at
    )


def test_exceptions_and_finished_shipments_wait_for_nobody() -> None:
    held = new_shipment()
    held.report_exception("address unreadable", HUB_START)
    assert planned_automatic_scan(held) is None
    cancelled = new_shipment()
    cancelled.cancel("order cancelled", HUB_START)
    assert next_automatic_scan(cancelled, HUB_START + timedelta(days=365)) is None


def test_demo_shipment_walks_its_whole_journey_on_an_accelerated_clock() -> None:
    clock = HubClock(REAL_START, HUB_START, 3600)
    shipment = new_shipment()
    departure = choose_departure("CN", HUB_START + timedelta(hours=10))
    real_now = REAL_START
    applied = []
    while (due := planned_automatic_scan(shipment, departure)) is not None:
        real_now = clock.real_time(due.due_at)
        scan = next_automatic_scan(shipment, clock.hub_time(real_now), departure)
        assert scan is not None
        shipment.apply_scan(scan.scan_code, scan.due_at)
        applied.append(scan.scan_code)
    assert shipment.status is TrackingStatus.DELIVERED
    assert applied == [
        ScanCode.RCS,
        ScanCode.BUP,
        ScanCode.MAN,
        ScanCode.DEP,
        ScanCode.ARR,
        ScanCode.TFD,
        ScanCode.DLV,
    ]
    assert real_now - REAL_START < timedelta(minutes=10)
