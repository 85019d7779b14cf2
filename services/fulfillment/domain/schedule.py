"""The hub's outbound legs from Liège (LGG), and choosing a shipment's departure.

Each leg runs weekly on fixed weekdays at a fixed UTC time and says which
dangerous goods it accepts:

- freighters (cargo aircraft) take every lithium battery UN number, including
  the cargo-aircraft-only UN3480 and UN3090;
- passenger-belly flights take only batteries packed with or inside equipment
  (UN3481, UN3091);
- road feeder services (trucks run under a flight-like schedule) take lithium
  batteries as class 9 goods under ADR;
- the rail leg takes none: we found no operator policy allowing them, so the
  conservative reading holds until one is recorded.

Sources are on each leg. Only the Hangzhou freighter and the Zhengzhou rail
service come from published reports; weekdays, times and the European legs are
an illustrative timetable for the demo, not a published one.

A destination is a country (ISO 3166 alpha-2, mapped to the legs that serve
it) or an IATA code (the legs ending there). Among the legs that accept every
UN number of the shipment, the one that delivers first wins: departing first
means little when the alternative is a train that arrives twelve days later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from services.fulfillment.domain.dangerous_goods import (
    LITHIUM_BATTERIES,
    PASSENGER_AIRCRAFT_ALLOWED,
    un_numbers,
)
from services.fulfillment.domain.errors import InvalidTimestamp, NoEligibleDeparture

HUB = "LGG"
_DAYS_IN_WEEK = 7


class TransportMode(StrEnum):
    FREIGHTER = "FREIGHTER"
    PASSENGER_BELLY = "PASSENGER_BELLY"
    ROAD = "ROAD"
    RAIL = "RAIL"


@dataclass(frozen=True, slots=True)
class Leg:
    leg_id: str
    destination: str
    mode: TransportMode
    weekdays: frozenset[int]  # 0 is Monday, as datetime.weekday() counts
    departure_time: time  # UTC
    transit: timedelta
    accepts_dangerous_goods: frozenset[str]
    cutoff: timedelta  # the goods must be ready this long before departure
    source: str
    origin: str = HUB

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= set(range(_DAYS_IN_WEEK)):
            raise ValueError(f"leg {self.leg_id}: weekdays must be a non-empty subset of 0..6")
        if self.departure_time.tzinfo is not None:
            raise ValueError(f"leg {self.leg_id}: departure time is naive and read as UTC")
        if self.transit <= timedelta(0) or self.cutoff < timedelta(0):
            raise ValueError(f"leg {self.leg_id}: transit must be positive, cutoff not negative")

    def accepts(self, dangerous_goods: Iterable[str]) -> bool:
        return un_numbers(dangerous_goods) <= self.accepts_dangerous_goods

    def next_departure(self, ready_at: datetime) -> Departure:
        """The first departure for goods ready at `ready_at`, counting the cutoff."""
        earliest = _aware_utc(ready_at) + self.cutoff
        candidate = datetime.combine(earliest.date(), self.departure_time, tzinfo=UTC)
        if candidate < earliest:
            candidate += timedelta(days=1)
        days_to_service = min(
            (weekday - candidate.weekday()) % _DAYS_IN_WEEK for weekday in self.weekdays
        )
        departs_at = candidate + timedelta(days=days_to_service)
        return Departure(self, departs_at, departs_at + self.transit)


@dataclass(frozen=True, slots=True)
class Departure:
    leg: Leg
    departs_at: datetime
    arrives_at: datetime


@dataclass(frozen=True)
class HubSchedule:
    legs: tuple[Leg, ...]
    legs_by_country: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        known = {leg.leg_id for leg in self.legs}
        if len(known) != len(self.legs):
            raise ValueError("leg ids must be unique")
        for country, leg_ids in self.legs_by_country.items():
            unknown = set(leg_ids) - known
            if unknown:
                raise ValueError(f"{country} maps to unknown legs {sorted(unknown)}")

    def leg(self, leg_id: str) -> Leg:
        """The leg a booking names; a booking on a leg no longer scheduled is a data error."""
        for leg in self.legs:
            if leg.leg_id == leg_id:
                return leg
        raise KeyError(f"no leg {leg_id!r} in the hub schedule")

    def legs_to(self, destination: str) -> tuple[Leg, ...]:
        code = destination.strip().upper()
        if len(code) == 2:
            wanted = set(self.legs_by_country.get(code, ()))
            return tuple(leg for leg in self.legs if leg.leg_id in wanted)
        return tuple(leg for leg in self.legs if leg.destination == code)

    def choose_departure(
        self, destination: str, ready_at: datetime, dangerous_goods: Iterable[str] = ()
    ) -> Departure:
        goods = un_numbers(dangerous_goods)
        serving = self.legs_to(destination)
        if not serving:
            raise NoEligibleDeparture(f"no leg from {HUB} serves {destination}; shipment held")
        eligible = [leg for leg in serving if leg.accepts(goods)]
        if not eligible:
            raise NoEligibleDeparture(
                f"no leg to {destination} accepts {', '.join(sorted(goods))} "
                f"(legs: {', '.join(leg.leg_id for leg in serving)}); shipment held"
            )
        departures = [leg.next_departure(ready_at) for leg in eligible]
        return min(departures, key=lambda d: (d.arrives_at, d.departs_at, d.leg.leg_id))


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTimestamp(f"{moment.isoformat()} has no timezone; pass aware UTC time")
    return moment.astimezone(UTC)


_MON, _TUE, _WED, _THU, _FRI, _SAT, _SUN = range(_DAYS_IN_WEEK)
_MON_TO_FRI = frozenset({_MON, _TUE, _WED, _THU, _FRI})
_MON_TO_SAT = _MON_TO_FRI | {_SAT}
_AIR_CUTOFF = timedelta(hours=3)
_ROAD_CUTOFF = timedelta(hours=1)
_ILLUSTRATIVE = "illustrative timetable for the demo, not a published schedule"

LIEGE_LEGS: tuple[Leg, ...] = (
    Leg(
        "LGG-HGH-747F",
        "HGH",
        TransportMode.FREIGHTER,
        frozenset({_TUE, _FRI}),
        time(21, 30),
        timedelta(hours=11),
        LITHIUM_BATTERIES,
        _AIR_CUTOFF,
        "Boeing 747-400F, two flights a week since November 2018 (Hangzhou.com.cn, "
        f"6 Nov 2018, Cainiao's Hangzhou-Liege route); weekdays and times: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-CGO-RAIL",
        "CGO",
        TransportMode.RAIL,
        frozenset({_WED, _SAT}),
        time(14, 0),
        timedelta(days=12),
        frozenset(),
        timedelta(hours=24),
        "Zhengzhou-Liege rail freight, about 11,000 km in 12 days (Beijing Review, "
        "25 Oct 2018), two trains a week (Air Cargo World, 1 Mar 2019); leaves from "
        f"the Liege Logistics Intermodal terminal; weekdays and times: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-BRU-RFS",
        "BRU",
        TransportMode.ROAD,
        _MON_TO_SAT,
        time(4, 0),
        timedelta(hours=2),
        LITHIUM_BATTERIES,
        _ROAD_CUTOFF,
        f"road feeder to Brussels: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-AMS-RFS",
        "AMS",
        TransportMode.ROAD,
        _MON_TO_SAT,
        time(3, 30),
        timedelta(hours=4),
        LITHIUM_BATTERIES,
        _ROAD_CUTOFF,
        f"road feeder to Amsterdam: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-CGN-RFS",
        "CGN",
        TransportMode.ROAD,
        _MON_TO_SAT,
        time(3, 0),
        timedelta(hours=2, minutes=30),
        LITHIUM_BATTERIES,
        _ROAD_CUTOFF,
        f"road feeder to Cologne: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-CDG-RFS",
        "CDG",
        TransportMode.ROAD,
        _MON_TO_SAT,
        time(1, 30),
        timedelta(hours=5),
        LITHIUM_BATTERIES,
        _ROAD_CUTOFF,
        f"road feeder to Paris: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-LUX-RFS",
        "LUX",
        TransportMode.ROAD,
        _MON_TO_FRI,
        time(5, 0),
        timedelta(hours=2, minutes=30),
        LITHIUM_BATTERIES,
        _ROAD_CUTOFF,
        f"road feeder to Luxembourg: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-MAD-PAX",
        "MAD",
        TransportMode.PASSENGER_BELLY,
        frozenset({_MON, _WED, _FRI}),
        time(6, 40),
        timedelta(hours=2, minutes=20),
        PASSENGER_AIRCRAFT_ALLOWED,
        _AIR_CUTOFF,
        f"passenger-belly flight to Madrid: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-MAD-RFS",
        "MAD",
        TransportMode.ROAD,
        frozenset({_MON, _THU}),
        time(18, 0),
        timedelta(hours=26),
        LITHIUM_BATTERIES,
        _ROAD_CUTOFF,
        f"road feeder to Madrid for what may not fly on passenger aircraft: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-BUD-F",
        "BUD",
        TransportMode.FREIGHTER,
        frozenset({_TUE, _THU, _SAT}),
        time(0, 30),
        timedelta(hours=2),
        LITHIUM_BATTERIES,
        _AIR_CUTOFF,
        f"freighter to Budapest: {_ILLUSTRATIVE}",
    ),
    Leg(
        "LGG-WAW-PAX",
        "WAW",
        TransportMode.PASSENGER_BELLY,
        _MON_TO_FRI,
        time(6, 0),
        timedelta(hours=2),
        PASSENGER_AIRCRAFT_ALLOWED,
        _AIR_CUTOFF,
        f"passenger-belly flight to Warsaw: {_ILLUSTRATIVE}",
    ),
)

LIEGE_HUB_SCHEDULE = HubSchedule(
    legs=LIEGE_LEGS,
    legs_by_country={
        "BE": ("LGG-BRU-RFS",),
        "NL": ("LGG-AMS-RFS",),
        "DE": ("LGG-CGN-RFS",),
        "FR": ("LGG-CDG-RFS",),
        "LU": ("LGG-LUX-RFS",),
        "ES": ("LGG-MAD-PAX", "LGG-MAD-RFS"),
        "HU": ("LGG-BUD-F",),
        "PL": ("LGG-WAW-PAX",),
        "CN": ("LGG-HGH-747F", "LGG-CGO-RAIL"),
    },
)


def choose_departure(
    destination: str,
    ready_at: datetime,
    dangerous_goods: Iterable[str] = (),
    schedule: HubSchedule = LIEGE_HUB_SCHEDULE,
) -> Departure:
    """The earliest-arriving departure able to carry the goods; `NoEligibleDeparture` holds it."""
    return schedule.choose_departure(destination, ready_at, dangerous_goods)
