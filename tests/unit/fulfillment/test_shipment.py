from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.fulfillment.domain.booking import Booking, book
from services.fulfillment.domain.errors import (
    CancellationRefused,
    IllegalScan,
    InvalidTimestamp,
    ScanOutOfOrder,
)
from services.fulfillment.domain.schedule import LIEGE_HUB_SCHEDULE, choose_departure
from services.fulfillment.domain.shipment import (
    SCAN_STATUS,
    TRACKED_STATUSES,
    ScanCode,
    Shipment,
    TrackingStatus,
)
from services.fulfillment.domain.uld import UldId

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S = TrackingStatus
ULD = UldId("AKE", "00001", "EH")


def freighter_booking() -> Booking:
    return book(choose_departure("CN", T0), house_serial=1, master_serial=1)


def rail_booking() -> Booking:
    departure = LIEGE_HUB_SCHEDULE.leg("LGG-CGO-RAIL").next_departure(T0)
    return book(departure, house_serial=2, master_serial=2)


# The steps that bring a new shipment to each status.
PATH: dict[TrackingStatus, list[str]] = {
    S.CREATED: [],
    S.RECEIVED_AT_HUB: ["RCS"],
    S.BOOKED: ["RCS", "book"],
    S.CONSOLIDATED: ["RCS", "book", "consolidate"],
    S.DEPARTED: ["RCS", "book", "consolidate", "DEP"],
    S.ARRIVED: ["RCS", "book", "consolidate", "DEP", "ARR"],
    S.OUT_FOR_DELIVERY: ["RCS", "book", "consolidate", "DEP", "ARR", "TFD"],
    S.DELIVERED: ["RCS", "book", "consolidate", "DEP", "ARR", "TFD", "DLV"],
    S.EXCEPTION: ["RCS", "book", "DIS"],
}


def new_shipment() -> Shipment:
    return Shipment.create(uuid.uuid4(), uuid.uuid4(), "CN", T0)


def take(shipment: Shipment, step: str, at: datetime = T0) -> None:
    if step == "book":
        shipment.book(freighter_booking(), at)
    elif step == "consolidate":
        shipment.consolidate(ULD, at)
    else:
        shipment.apply_scan(step, at)


def shipment_in(status: TrackingStatus) -> Shipment:
    shipment = new_shipment()
    if status is S.CANCELLED:
        shipment.cancel("buyer cancelled", T0)
        return shipment
    for step in PATH[status]:
        take(shipment, step)
    assert shipment.status is status
    return shipment


def test_full_journey() -> None:
    shipment = new_shipment()
    steps = ["FOH", "RCS", "book", "consolidate", "MAN", "DEP", "ARR", "RCF", "NFD", "OFD", "DLV"]
    for hour, step in enumerate(steps, start=1):
        take(shipment, step, T0 + timedelta(hours=hour))
    assert shipment.status is S.DELIVERED
    assert [event.status for event in shipment.history][:6] == [
        S.CREATED,
        S.RECEIVED_AT_HUB,
        S.RECEIVED_AT_HUB,
        S.BOOKED,
        S.CONSOLIDATED,
        S.CONSOLIDATED,
    ]
    assert [event.scan_code for event in shipment.history][3:6] == [
        ScanCode.BKD,
        ScanCode.BUP,
        ScanCode.MAN,
    ]
    assert shipment.history[-1].scan_code is ScanCode.DLV
    assert shipment.last_event_at == T0 + timedelta(hours=len(steps))


def test_every_scan_code_maps_to_a_status() -> None:
    assert set(SCAN_STATUS) == set(ScanCode)
    assert SCAN_STATUS[ScanCode.RCS] is S.RECEIVED_AT_HUB
    assert SCAN_STATUS[ScanCode.BKD] is SCAN_STATUS[ScanCode.MAN] is S.BOOKED
    assert SCAN_STATUS[ScanCode.BUP] is S.CONSOLIDATED
    assert SCAN_STATUS[ScanCode.DEP] is S.DEPARTED
    assert SCAN_STATUS[ScanCode.ARR] is S.ARRIVED
    assert SCAN_STATUS[ScanCode.TFD] is SCAN_STATUS[ScanCode.OFD] is S.OUT_FOR_DELIVERY
    assert SCAN_STATUS[ScanCode.DLV] is S.DELIVERED


def test_the_hub_announces_the_steps_after_booking() -> None:
    assert {
        S.CONSOLIDATED,
        S.DEPARTED,
        S.ARRIVED,
        S.OUT_FOR_DELIVERY,
        S.DELIVERED,
    } == TRACKED_STATUSES


# Every status against one scan of each kind.
SCANS = ("RCS", "BKD", "BUP", "MAN", "DEP", "ARR", "TFD", "DLV", "DIS")
BY_THE_HUB = "only through the hub's"
EXPECTED: dict[TrackingStatus, dict[str, TrackingStatus | str]] = {
    S.CREATED: {
        "RCS": S.RECEIVED_AT_HUB,
        "BKD": "not reached RECEIVED_AT_HUB",
        "BUP": "not reached BOOKED",
        "MAN": "not reached RECEIVED_AT_HUB",
        "DEP": "not reached BOOKED",
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
        "DIS": S.EXCEPTION,
    },
    S.RECEIVED_AT_HUB: {
        "RCS": S.RECEIVED_AT_HUB,
        "BKD": BY_THE_HUB + " booking",
        "BUP": "not reached BOOKED",
        "MAN": BY_THE_HUB + " booking",
        "DEP": "not reached BOOKED",
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
        "DIS": S.EXCEPTION,
    },
    S.BOOKED: {
        "RCS": "already BOOKED",
        "BKD": S.BOOKED,
        "BUP": BY_THE_HUB + " load planning",
        "MAN": S.BOOKED,
        "DEP": S.DEPARTED,
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
        "DIS": S.EXCEPTION,
    },
    S.CONSOLIDATED: {
        "RCS": "already CONSOLIDATED",
        "BKD": S.CONSOLIDATED,
        "BUP": S.CONSOLIDATED,
        "MAN": S.CONSOLIDATED,
        "DEP": S.DEPARTED,
        "ARR": "not departed",
        "TFD": "not departed",
        "DLV": "not departed",
        "DIS": S.EXCEPTION,
    },
    S.DEPARTED: {
        "RCS": "already DEPARTED",
        "BKD": "already DEPARTED",
        "BUP": "already DEPARTED",
        "MAN": "already DEPARTED",
        "DEP": S.DEPARTED,
        "ARR": S.ARRIVED,
        "TFD": "not reached ARRIVED",
        "DLV": "not reached ARRIVED",
        "DIS": S.EXCEPTION,
    },
    S.ARRIVED: {
        "RCS": "already ARRIVED",
        "BKD": "already ARRIVED",
        "BUP": "already ARRIVED",
        "MAN": "already ARRIVED",
        "DEP": "already ARRIVED",
        "ARR": S.ARRIVED,
        "TFD": S.OUT_FOR_DELIVERY,
        "DLV": S.DELIVERED,
        "DIS": S.EXCEPTION,
    },
    S.OUT_FOR_DELIVERY: {
        "RCS": "already OUT_FOR_DELIVERY",
        "BKD": "already OUT_FOR_DELIVERY",
        "BUP": "already OUT_FOR_DELIVERY",
        "MAN": "already OUT_FOR_DELIVERY",
        "DEP": "already OUT_FOR_DELIVERY",
        "ARR": "already OUT_FOR_DELIVERY",
        "TFD": S.OUT_FOR_DELIVERY,
        "DLV": S.DELIVERED,
        "DIS": S.EXCEPTION,
    },
    S.DELIVERED: dict.fromkeys(SCANS, "after DELIVERED: its journey is over"),
    S.CANCELLED: dict.fromkeys(SCANS, "after CANCELLED: it was cancelled"),
    S.EXCEPTION: dict.fromkeys(SCANS, "after EXCEPTION: a discrepancy is final"),
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
        assert shipment.history[-1].scan_code == code
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
    shipment.apply_scan("FOH", T0 + timedelta(hours=2))
    with pytest.raises(ScanOutOfOrder, match="earlier than the last event"):
        shipment.apply_scan("RCS", T0 + timedelta(hours=1))
    with pytest.raises(ScanOutOfOrder):
        new_shipment().apply_scan("RCS", T0 - timedelta(seconds=1))


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidTimestamp):
        new_shipment().apply_scan("RCS", datetime(2026, 3, 2, 9, 0))
    with pytest.raises(InvalidTimestamp):
        Shipment.create(uuid.uuid4(), uuid.uuid4(), "HGH", datetime(2026, 3, 2, 9, 0))


def test_scans_record_where_and_by_whom() -> None:
    shipment = shipment_in(S.CONSOLIDATED)
    shipment.apply_scan("DEP", T0, recorded_by="agent-7")
    shipment.apply_scan("ARR", T0)
    shipment.apply_scan("OFD", T0, location="Hangzhou depot")
    locations = [(event.scan_code, event.location) for event in shipment.history[1:]]
    assert locations == [
        (ScanCode.RCS, "LGG"),
        (ScanCode.BKD, "LGG"),
        (ScanCode.BUP, "LGG"),
        (ScanCode.DEP, "LGG"),
        (ScanCode.ARR, "HGH"),
        (ScanCode.OFD, "Hangzhou depot"),
    ]
    assert shipment.history[4].recorded_by == "agent-7"
    assert shipment.history[5].recorded_by is None


# ---- the hub's own steps --------------------------------------------------------------


def test_booking_records_the_departure_and_clears_a_hold() -> None:
    shipment = shipment_in(S.RECEIVED_AT_HUB)
    shipment.hold("no leg to US", T0)
    booking = freighter_booking()
    shipment.book(booking, T0 + timedelta(hours=1))
    assert shipment.status is S.BOOKED
    assert shipment.booking == booking
    assert shipment.departure == booking.departure
    assert shipment.hold_reason is None and shipment.hold_checked_at is None
    assert shipment.history[-1].scan_code is ScanCode.BKD


@pytest.mark.parametrize("status", [S.CREATED, S.BOOKED, S.DEPARTED, S.CANCELLED, S.EXCEPTION])
def test_only_a_shipment_received_at_the_hub_is_booked(status: TrackingStatus) -> None:
    shipment = shipment_in(status)
    with pytest.raises(IllegalScan):
        shipment.book(freighter_booking(), T0)
    assert shipment.status is status


def test_consolidation_records_the_uld() -> None:
    shipment = shipment_in(S.BOOKED)
    shipment.consolidate(ULD, T0)
    assert shipment.status is S.CONSOLIDATED
    assert shipment.uld_id == ULD
    assert shipment.history[-1].scan_code is ScanCode.BUP


def test_rail_shipments_travel_loose() -> None:
    shipment = shipment_in(S.RECEIVED_AT_HUB)
    shipment.book(rail_booking(), T0)
    with pytest.raises(IllegalScan, match="travel loose"):
        shipment.consolidate(ULD, T0)
    assert shipment.apply_scan("DEP", T0) is S.DEPARTED


def test_consolidation_needs_a_booking() -> None:
    with pytest.raises(IllegalScan, match="not reached BOOKED"):
        shipment_in(S.RECEIVED_AT_HUB).consolidate(ULD, T0)


def test_a_hold_is_recorded_once_per_reason_and_checked_each_time() -> None:
    shipment = shipment_in(S.RECEIVED_AT_HUB)
    shipment.hold("no leg accepts UN3480", T0 + timedelta(hours=1))
    shipment.hold("no leg accepts UN3480", T0 + timedelta(hours=2))
    assert shipment.status is S.RECEIVED_AT_HUB
    assert shipment.hold_reason == "no leg accepts UN3480"
    assert shipment.hold_checked_at == T0 + timedelta(hours=2)
    held = [event for event in shipment.history if event.reason]
    assert [(event.reason, event.at) for event in held] == [
        ("held: no leg accepts UN3480", T0 + timedelta(hours=1))
    ]


def test_only_a_shipment_waiting_at_the_hub_is_held() -> None:
    with pytest.raises(IllegalScan, match="only a shipment waiting at the hub"):
        shipment_in(S.BOOKED).hold("no leg", T0)


def test_hub_steps_never_go_back_in_time() -> None:
    """Another replica's clock may lag a little: its steps land right after the last event."""
    shipment = new_shipment()
    shipment.apply_scan("RCS", T0 + timedelta(seconds=1))
    shipment.book(freighter_booking(), T0)
    assert shipment.last_event_at == T0 + timedelta(seconds=1)


# ---- exceptions and cancellation ------------------------------------------------------


def test_a_discrepancy_is_final() -> None:
    shipment = shipment_in(S.DEPARTED)
    shipment.apply_scan("DIS", T0 + timedelta(hours=1), "missing at transfer")
    assert shipment.status is S.EXCEPTION
    assert shipment.exception_reason == "missing at transfer"
    assert shipment.status_before_exception is S.DEPARTED
    with pytest.raises(IllegalScan, match="goods go back to the seller"):
        shipment.apply_scan("ARR", T0 + timedelta(hours=2))


def test_dis_scan_without_reason_gets_a_default_one() -> None:
    shipment = shipment_in(S.ARRIVED)
    assert shipment.apply_scan("DIS", T0) is S.EXCEPTION
    assert shipment.exception_reason == "discrepancy reported"
    assert shipment.history[-1].reason == "discrepancy reported"


def test_a_discrepancy_ends_a_hold() -> None:
    shipment = shipment_in(S.RECEIVED_AT_HUB)
    shipment.hold("no leg", T0)
    shipment.apply_scan("DIS", T0, "damaged")
    assert shipment.hold_reason is None


@pytest.mark.parametrize("status", [S.CREATED, S.RECEIVED_AT_HUB, S.BOOKED, S.CONSOLIDATED])
def test_cancel_before_departure(status: TrackingStatus) -> None:
    shipment = shipment_in(status)
    shipment.cancel("order cancelled", T0 + timedelta(hours=1))
    assert shipment.status is S.CANCELLED
    assert shipment.history[-1].reason == "order cancelled"


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (S.DEPARTED, "have left the Liège hub"),
        (S.ARRIVED, "have left the Liège hub"),
        (S.OUT_FOR_DELIVERY, "have left the Liège hub"),
        (S.DELIVERED, "have left the Liège hub"),
        (S.CANCELLED, "already cancelled"),
        (S.EXCEPTION, "reported as an exception"),
    ],
)
def test_cancel_refused_from_departure_on(status: TrackingStatus, why: str) -> None:
    shipment = shipment_in(status)
    with pytest.raises(CancellationRefused, match=why):
        shipment.cancel("too late", T0 + timedelta(hours=1))
    assert shipment.status is status


def test_cancel_ends_a_hold() -> None:
    shipment = shipment_in(S.RECEIVED_AT_HUB)
    shipment.hold("no leg", T0)
    shipment.cancel("buyer changed their mind", T0)
    assert shipment.hold_reason is None


# ---- any sequence of scans ------------------------------------------------------------

JOURNEY = list(PATH)[:-1]
AFTER_BOOKING = ["DEP", "ARR", "TFD", "DLV"]
any_codes = st.lists(st.sampled_from(sorted(ScanCode)), max_size=12)
# The rest of the journey with a random scan after each step, so that many runs get delivered.
noisy_journeys = st.lists(
    st.sampled_from(sorted(ScanCode)), min_size=len(AFTER_BOOKING), max_size=len(AFTER_BOOKING)
).map(lambda noise: [code for pair in zip(AFTER_BOOKING, noise, strict=True) for code in pair])


@settings(max_examples=100, deadline=None)
@given(
    built_up=st.booleans(),
    codes=st.one_of(any_codes, noisy_journeys),
    gaps=st.lists(st.integers(min_value=-3600, max_value=86_400), min_size=12, max_size=12),
)
def test_random_scans_never_break_the_journey(
    built_up: bool, codes: list[str], gaps: list[int]
) -> None:
    shipment = shipment_in(S.CONSOLIDATED if built_up else S.BOOKED)
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
    if shipment.status in (S.DELIVERED, S.EXCEPTION):
        assert shipment.history[-1].status is shipment.status
        assert [event.status for event in shipment.history].count(S.EXCEPTION) <= 1
