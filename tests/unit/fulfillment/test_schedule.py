from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.fulfillment.domain.booking import travels_in_ulds
from services.fulfillment.domain.dangerous_goods import (
    CARGO_AIRCRAFT_ONLY,
    LITHIUM_BATTERIES,
)
from services.fulfillment.domain.errors import InvalidTimestamp, NoEligibleDeparture
from services.fulfillment.domain.schedule import (
    LIEGE_HUB_SCHEDULE,
    HubSchedule,
    Leg,
    TransportMode,
    choose_departure,
)

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """`day` counts from Monday 2 March 2026 (0)."""
    return datetime(2026, 3, 2 + day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("destination", "ready_at", "goods", "leg_id", "departs_at"),
    [
        ("BE", at(0, 10), (), "LGG-BRU-RFS", at(1, 4)),
        ("BE", at(1, 2, 59), (), "LGG-BRU-RFS", at(1, 4)),
        ("BE", at(1, 3, 1), (), "LGG-BRU-RFS", at(2, 4)),
        ("BE", at(5, 10), (), "LGG-BRU-RFS", at(7, 4)),
        ("DE", at(0, 10), ("UN3480",), "LGG-CGN-RFS", at(1, 3)),
        ("CN", at(0, 10), (), "LGG-HGH-747F", at(1, 21, 30)),
        ("CN", at(0, 10), ("UN3480",), "LGG-HGH-747F", at(1, 21, 30)),
        ("HGH", at(1, 19), (), "LGG-HGH-747F", at(4, 21, 30)),
        ("ES", at(1, 10), ("UN3481",), "LGG-MAD-PAX", at(2, 6, 40)),
        ("ES", at(0, 10), ("UN3481",), "LGG-MAD-RFS", at(0, 18)),
        ("ES", at(0, 10), ("UN3480",), "LGG-MAD-RFS", at(0, 18)),
        ("ES", at(1, 10), ("UN3480",), "LGG-MAD-RFS", at(3, 18)),
        ("HU", at(0, 10), ("UN3090",), "LGG-BUD-F", at(1, 0, 30)),
        ("HU", at(0, 22), ("UN3090",), "LGG-BUD-F", at(3, 0, 30)),
        ("pl", at(0, 10), ("un 3481",), "LGG-WAW-PAX", at(1, 6)),
    ],
)
def test_choose_departure(
    destination: str, ready_at: datetime, goods: tuple[str, ...], leg_id: str, departs_at: datetime
) -> None:
    departure = choose_departure(destination, ready_at, goods)
    assert departure.leg.leg_id == leg_id
    assert departure.departs_at == departs_at
    assert departure.arrives_at == departs_at + departure.leg.transit


def leg(leg_id: str, weekdays: set[int], departs: time, transit: timedelta) -> Leg:
    return Leg(
        leg_id,
        "XXX",
        TransportMode.FREIGHTER,
        frozenset(weekdays),
        departs,
        transit,
        LITHIUM_BATTERIES,
        timedelta(0),
        "test",
    )


def test_earliest_arrival_beats_earliest_departure() -> None:
    slow = leg("slow", {0}, time(12), timedelta(days=12))
    fast = leg("fast", {1}, time(12), timedelta(hours=11))
    schedule = HubSchedule((slow, fast), {"CN": ("slow", "fast")})
    departure = choose_departure("CN", MONDAY, schedule=schedule)
    assert departure.leg is fast
    assert departure.departs_at > slow.next_departure(MONDAY).departs_at


def test_ties_on_arrival_go_to_the_earlier_departure() -> None:
    early = leg("early", {0}, time(12), timedelta(hours=5))
    late = leg("late", {0}, time(14), timedelta(hours=3))
    schedule = HubSchedule((late, early), {"BE": ("late", "early")})
    assert choose_departure("BE", MONDAY, schedule=schedule).leg is early


def test_cargo_aircraft_only_goods_are_held_when_only_passenger_flights_serve() -> None:
    with pytest.raises(NoEligibleDeparture, match=r"UN3480.*LGG-WAW-PAX.*held"):
        choose_departure("PL", MONDAY, ["UN3480"])


def test_unknown_destinations_are_held() -> None:
    with pytest.raises(NoEligibleDeparture, match="serves IT"):
        choose_departure("IT", MONDAY)
    with pytest.raises(NoEligibleDeparture):
        choose_departure("JFK", MONDAY)


def test_goods_no_leg_knows_are_held() -> None:
    with pytest.raises(NoEligibleDeparture):
        choose_departure("BE", MONDAY, ["UN1845"])


def test_rail_takes_no_batteries() -> None:
    with pytest.raises(NoEligibleDeparture):
        choose_departure("CGO", MONDAY, ["UN3481"])


def test_naive_ready_time_is_refused() -> None:
    with pytest.raises(InvalidTimestamp):
        choose_departure("BE", datetime(2026, 3, 2, 10, 0))


def test_every_leg_names_its_source_and_passenger_legs_refuse_cargo_aircraft_only_goods() -> None:
    for leg in LIEGE_HUB_SCHEDULE.legs:
        assert leg.source
        assert leg.origin == "LGG"
        if leg.mode is TransportMode.PASSENGER_BELLY:
            assert not leg.accepts_dangerous_goods & CARGO_AIRCRAFT_ONLY
    hangzhou = LIEGE_HUB_SCHEDULE.legs_to("HGH")[0]
    assert hangzhou.mode is TransportMode.FREIGHTER
    assert "747-400F" in hangzhou.source
    assert len(hangzhou.weekdays) == 2
    zhengzhou = LIEGE_HUB_SCHEDULE.legs_to("CGO")[0]
    assert zhengzhou.mode is TransportMode.RAIL


def test_schedule_validates_its_data() -> None:
    leg = LIEGE_HUB_SCHEDULE.legs[0]
    with pytest.raises(ValueError, match="unique"):
        HubSchedule((leg, leg), {})
    with pytest.raises(ValueError, match="unknown legs"):
        HubSchedule((leg,), {"BE": ("nope",)})
    with pytest.raises(ValueError, match="weekdays"):
        Leg(
            "x",
            "BRU",
            TransportMode.ROAD,
            frozenset({7}),
            time(4),
            timedelta(hours=1),
            frozenset(),
            timedelta(0),
            "s",
        )


countries = st.sampled_from(sorted(LIEGE_HUB_SCHEDULE.legs_by_country))
ready_times = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
goods = st.frozensets(st.sampled_from(sorted(LITHIUM_BATTERIES)), max_size=2)


@settings(max_examples=100, deadline=None)
@given(destination=countries, ready_at=ready_times, dangerous_goods=goods)
def test_choice_respects_goods_cutoff_and_timetable(
    destination: str, ready_at: datetime, dangerous_goods: frozenset[str]
) -> None:
    serving = LIEGE_HUB_SCHEDULE.legs_to(destination)
    eligible = [leg for leg in serving if dangerous_goods <= leg.accepts_dangerous_goods]
    if not eligible:
        with pytest.raises(NoEligibleDeparture):
            choose_departure(destination, ready_at, dangerous_goods)
        return
    departure = choose_departure(destination, ready_at, dangerous_goods)
    leg = departure.leg
    assert leg in eligible
    assert dangerous_goods <= leg.accepts_dangerous_goods
    assert departure.departs_at >= ready_at + leg.cutoff
    assert departure.departs_at - (ready_at + leg.cutoff) < timedelta(days=7)
    assert departure.departs_at.weekday() in leg.weekdays
    assert departure.departs_at.timetz().replace(tzinfo=None) == leg.departure_time
    assert all(
        departure.arrives_at <= other.next_departure(ready_at).arrives_at for other in eligible
    )


def test_bookings_find_their_leg_by_id() -> None:
    assert LIEGE_HUB_SCHEDULE.leg("LGG-BRU-RFS").destination == "BRU"
    with pytest.raises(KeyError, match="LGG-XXX"):
        LIEGE_HUB_SCHEDULE.leg("LGG-XXX")


@pytest.mark.parametrize(
    ("leg_id", "in_ulds"),
    [("LGG-HGH-747F", True), ("LGG-MAD-PAX", True), ("LGG-BRU-RFS", True), ("LGG-CGO-RAIL", False)],
)
def test_air_and_road_feeder_legs_carry_ulds_rail_carries_loose(leg_id: str, in_ulds: bool) -> None:
    departure = LIEGE_HUB_SCHEDULE.leg(leg_id).next_departure(MONDAY)
    assert travels_in_ulds(departure) is in_ulds
