from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.fulfillment.domain.errors import IllegalScan, InvalidTimestamp, ScanOutOfOrder
from services.fulfillment.domain.shipment import (
    SCAN_STATUS,
    ScanCode,
    Shipment,
    TrackingStatus,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S = TrackingStatus

# The scans that bring a new shipment to each journey status.
PATH: dict[TrackingStatus, list[str]] = {
    S.CREATED: [],
    S.RECEIVED_AT_HUB: ["RCS"],
    S.CONSOLIDATED: ["RCS", "BUP"],
    S.BOOKED: ["RCS", "BUP", "MAN"],
    S.DEPARTED: ["RCS", "BUP", "MAN", "DEP"],
    S.ARRIVED: ["RCS", "BUP", "MAN", "DEP", "ARR"],
    S.OUT_FOR_DELIVERY: ["RCS", "BUP", "MAN", "DEP", "ARR", "TFD"],
    S.DELIVERED: ["RCS", "BUP", "MAN", "DEP", "ARR", "TFD", "DLV"],
}


def new_shipment() -> Shipment:
    return Shipment.create(uuid.uuid4(), uuid.uuid4(), "HGH", T0)


def shipment_in(status: TrackingStatus) -> Shipment:
    shipment = new_shipment()
    if status is S.CANCELLED:
        shipment.cancel("buyer cancelled", T0)
        return shipment
    for code in PATH[status]:
        shipment.apply_scan(code, T0)
    assert shipment.status is status
    return shipment


def test_full_journey() -> None:
    shipment = new_shipment()
    codes = ["FOH", "RCS", "BUP", "BKD", "MAN", "DEP", "ARR", "RCF", "NFD", "OFD", "DLV"]
    for hour, code in enumerate(codes, start=1):
        shipment.apply_scan(code, T0 + timedelta(hours=hour))
    assert shipment.status is S.DELIVERED
    assert [event.status for event in shipment.history][:3] == [
        S.CREATED,
        S.RECEIVED_AT_HUB,
        S.RECEIVED_AT_HUB,
    ]
    assert shipment.history[-1].scan_code is ScanCode.DLV
    assert shipment.last_event_at == T0 + timedelta(hours=len(codes))


def test_every_scan_code_maps_to_a_status() -> None:
    assert set(SCAN_STATUS) == set(ScanCode)
    assert SCAN_STATUS[ScanCode.RCS] is S.RECEIVED_AT_HUB
    assert SCAN_STATUS[ScanCode.MAN] is S.BOOKED
    assert SCAN_STATUS[ScanCode.DEP] is S.DEPARTED
    assert SCAN_STATUS[ScanCode.ARR] is S.ARRIVED
    assert SCAN_STATUS[ScanCode.TFD] is SCAN_STATUS[ScanCode.OFD] is S.OUT_FOR_DELIVERY
    assert SCAN_STATUS[ScanCode.DLV] is S.DELIVERED


def test_road_legs_may_book_without_consolidation() -> None:
    shipment = shipment_in(S.RECEIVED_AT_HUB)
    assert shipment.apply_scan("BKD", T0) is S.BOOKED


# Every journey status against one representative scan per target status.
REPRESENTATIVE_SCANS = ("RCS", "BUP", "MAN", "DEP", "ARR", "TFD", "DLV", "DIS")
EXPECTED: dict[TrackingStatus, dict[str, TrackingStatus | str]] = {
    S.CREATED: {
        "RCS": S.RECEIVED_AT_HUB,
        "BUP": "not reached RECEIVED_AT_HUB",
        "MAN": "not reached RECEIVED_AT_HUB",
        "DEP": "not reached BOOKED",
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
    },
    S.RECEIVED_AT_HUB: {
        "RCS": S.RECEIVED_AT_HUB,
        "BUP": S.CONSOLIDATED,
        "MAN": S.BOOKED,
        "DEP": "not reached BOOKED",
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
    },
    S.CONSOLIDATED: {
        "RCS": "already CONSOLIDATED",
        "BUP": S.CONSOLIDATED,
        "MAN": S.BOOKED,
        "DEP": "not reached BOOKED",
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
    },
    S.BOOKED: {
        "RCS": "already BOOKED",
        "BUP": "already BOOKED",
        "MAN": S.BOOKED,
        "DEP": S.DEPARTED,
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
    },
    S.DEPARTED: {
        "RCS": "already DEPARTED",
        "BUP": "already DEPARTED",
        "MAN": "already DEPARTED",
        "DEP": S.DEPARTED,
        "ARR": S.ARRIVED,
        "TFD": "not reached ARRIVED",
        "DLV": "not reached ARRIVED",
    },
    S.ARRIVED: {
        "RCS": "already ARRIVED",
        "BUP": "already ARRIVED",
        "MAN": "already ARRIVED",
        "DEP": "already ARRIVED",
        "ARR": S.ARRIVED,
        "TFD": S.OUT_FOR_DELIVERY,
        "DLV": S.DELIVERED,
    },
    S.OUT_FOR_DELIVERY: {
        "RCS": "already OUT_FOR_DELIVERY",
        "BUP": "already OUT_FOR_DELIVERY",
        "MAN": "already OUT_FOR_DELIVERY",
        "DEP": "already OUT_FOR_DELIVERY",
        "ARR": "already OUT_FOR_DELIVERY",
        "TFD": S.OUT_FOR_DELIVERY,
        "DLV": S.DELIVERED,
    },
    S.DELIVERED: dict.fromkeys(REPRESENTATIVE_SCANS, "after DELIVERED"),
    S.CANCELLED: dict.fromkeys(REPRESENTATIVE_SCANS, "after CANCELLED"),
}
CASES = [
    (status, code, outcome) for status, row in EXPECTED.items() for code, outcome in row.items()
]


@pytest.mark.parametrize(("status", "code", "outcome"), CASES)
def test_scan_table(status: TrackingStatus, code: str, outcome: TrackingStatus | str) -> None:
    shipment = shipment_in(status)
    history_before = list(shipment.history)
    if isinstance(outcome, TrackingStatus):
        assert shipment.apply_scan(code, T0 + timedelta(minutes=1)) is outcome
        assert shipment.history[-1].status is outcome
    else:
        with pytest.raises(IllegalScan, match=outcome):
            shipment.apply_scan(code, T0 + timedelta(minutes=1))
        assert shipment.status is status
        assert shipment.history == history_before


def test_delivered_before_departed_names_the_problem() -> None:
    with pytest.raises(
        IllegalScan, match=r"DLV \(DELIVERED\) refused while BOOKED: it has not departed yet"
    ):
        shipment_in(S.BOOKED).apply_scan("DLV", T0)


def test_unknown_scan_codes_are_refused() -> None:
    with pytest.raises(IllegalScan, match="unknown scan code 'XYZ'"):
        new_shipment().apply_scan("XYZ", T0)


def test_scan_codes_are_read_case_insensitively() -> None:
    assert new_shipment().apply_scan(" rcs ", T0) is S.RECEIVED_AT_HUB


def test_time_going_backwards_is_refused_but_equal_times_are_fine() -> None:
    shipment = new_shipment()
    shipment.apply_scan("RCS", T0 + timedelta(hours=2))
    shipment.apply_scan("BUP", T0 + timedelta(hours=2))
    with pytest.raises(ScanOutOfOrder, match="earlier than the last event"):
        shipment.apply_scan("MAN", T0 + timedelta(hours=1))
    with pytest.raises(ScanOutOfOrder):
        new_shipment().apply_scan("RCS", T0 - timedelta(seconds=1))


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidTimestamp):
        new_shipment().apply_scan("RCS", datetime(2026, 3, 2, 9, 0))
    with pytest.raises(InvalidTimestamp):
        Shipment.create(uuid.uuid4(), uuid.uuid4(), "HGH", datetime(2026, 3, 2, 9, 0))


def test_exception_pauses_and_a_valid_scan_resumes() -> None:
    shipment = shipment_in(S.BOOKED)
    shipment.report_exception("ULD damaged at build-up", T0 + timedelta(hours=1))
    assert shipment.status is S.EXCEPTION
    assert shipment.exception_reason == "ULD damaged at build-up"
    assert shipment.journey_status is S.BOOKED
    with pytest.raises(IllegalScan, match="while BOOKED"):
        shipment.apply_scan("DLV", T0 + timedelta(hours=2))
    assert shipment.apply_scan("DEP", T0 + timedelta(hours=3)) is S.DEPARTED
    assert shipment.exception_reason is None
    assert shipment.status_before_exception is None


def test_dis_scan_without_reason_gets_a_default_one() -> None:
    shipment = shipment_in(S.ARRIVED)
    assert shipment.apply_scan("DIS", T0) is S.EXCEPTION
    assert shipment.exception_reason == "discrepancy reported"


@pytest.mark.parametrize("status", [S.CREATED, S.RECEIVED_AT_HUB, S.CONSOLIDATED, S.BOOKED])
def test_cancel_before_departure(status: TrackingStatus) -> None:
    shipment = shipment_in(status)
    shipment.cancel("order cancelled", T0 + timedelta(hours=1))
    assert shipment.status is S.CANCELLED
    assert shipment.history[-1].reason == "order cancelled"


@pytest.mark.parametrize(
    "status", [S.DEPARTED, S.ARRIVED, S.OUT_FOR_DELIVERY, S.DELIVERED, S.CANCELLED]
)
def test_cancel_refused_from_departure_on(status: TrackingStatus) -> None:
    shipment = shipment_in(status)
    with pytest.raises(IllegalScan, match="only before departure"):
        shipment.cancel("too late", T0 + timedelta(hours=1))
    assert shipment.status is status


def test_cancel_during_exception_depends_on_where_it_stopped() -> None:
    held_at_hub = shipment_in(S.CONSOLIDATED)
    held_at_hub.report_exception("customs hold", T0)
    held_at_hub.cancel("customs rejected", T0)
    assert held_at_hub.status is S.CANCELLED
    lost_in_transit = shipment_in(S.DEPARTED)
    lost_in_transit.report_exception("missing at transfer", T0)
    with pytest.raises(IllegalScan):
        lost_in_transit.cancel("give up", T0)


JOURNEY = list(PATH)
any_codes = st.lists(st.sampled_from(sorted(ScanCode)), max_size=14)
# The happy path with a random scan after each step, so that many runs get delivered.
noisy_journeys = st.lists(
    st.sampled_from(sorted(ScanCode)),
    min_size=len(PATH[S.DELIVERED]),
    max_size=len(PATH[S.DELIVERED]),
).map(lambda noise: [code for pair in zip(PATH[S.DELIVERED], noise, strict=True) for code in pair])


@settings(max_examples=100, deadline=None)
@given(
    codes=st.one_of(any_codes, noisy_journeys),
    gaps=st.lists(st.integers(min_value=-3600, max_value=86_400), min_size=14, max_size=14),
)
def test_random_scans_never_break_the_journey(codes: list[str], gaps: list[int]) -> None:
    shipment = new_shipment()
    now = T0
    for code, seconds in zip(codes, gaps, strict=False):  # never fewer gaps than codes
        try:
            shipment.apply_scan(code, now + timedelta(seconds=seconds))
        except (IllegalScan, ScanOutOfOrder):
            continue
        now += timedelta(seconds=seconds)
    moments = [event.at for event in shipment.history]
    assert moments == sorted(moments)
    reached = [event.status for event in shipment.history if event.status in JOURNEY]
    assert [JOURNEY.index(status) for status in reached] == sorted(
        JOURNEY.index(s) for s in reached
    )
    if S.DELIVERED in reached:
        assert S.DEPARTED in reached
        assert reached[-1] is S.DELIVERED
        assert shipment.history[-1].status is S.DELIVERED
