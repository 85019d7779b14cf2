"""An accelerated hub clock, and the scans a shipment makes by itself after booking.

`HubClock` maps real time to hub time: from `start_real`, hub time runs
`factor` times as fast from `start_hub` (factor 1 is real time; 3600 turns an
hour of hub time into a second). Arithmetic is in whole microseconds and
Decimal, so mapping back and forth is exact up to one microsecond.

`next_automatic_scan` says which scan a booked shipment is due for at a given
hub time, so it walks the rest of its journey unattended: it departs with its
booked departure, arrives the leg's transit time after it actually departed,
and the last mile takes a typical dwell per step. Booking and build-up follow
the payment, not the clock, and an exception waits for a person.

The fulfilment service anchors a clock at each shipment's last event
(`clock_from`): with a factor above 1 every wait is compressed, the wait for
the next departure included, while the moments recorded stay real ones
(`real_time` of the due moment), never ahead of the wall clock other services
and operators use. That is why, on an accelerated clock, a shipment departs
before its scheduled departure time: the schedule is kept as booked, only the
waiting is shortened for the demo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from services.fulfillment.domain.errors import InvalidTimestamp
from services.fulfillment.domain.shipment import ScanCode, Shipment, TrackingStatus

_ONE_MICROSECOND = timedelta(microseconds=1)


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTimestamp(f"{moment.isoformat()} has no timezone; pass aware UTC time")
    return moment.astimezone(UTC)


def _scale(span: timedelta, factor: Decimal) -> timedelta:
    microseconds = Decimal(span // _ONE_MICROSECOND) * factor
    return timedelta(microseconds=int(microseconds.to_integral_value(rounding=ROUND_FLOOR)))


@dataclass(frozen=True, slots=True)
class HubClock:
    start_real: datetime
    start_hub: datetime
    factor: Decimal | int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_real", _aware_utc(self.start_real))
        object.__setattr__(self, "start_hub", _aware_utc(self.start_hub))
        if isinstance(self.factor, float):
            raise ValueError("the clock factor is a Decimal or an int, never a float")
        if not self._speed.is_finite() or self._speed <= 0:
            raise ValueError(f"the clock factor must be positive, got {self.factor}")

    @property
    def _speed(self) -> Decimal:
        return Decimal(self.factor)

    def hub_time(self, real_now: datetime) -> datetime:
        return self.start_hub + _scale(_aware_utc(real_now) - self.start_real, self._speed)

    def real_time(self, hub_moment: datetime) -> datetime:
        """When, in real time, the hub clock shows `hub_moment`: for scheduling a wake-up."""
        return self.start_real + _scale(_aware_utc(hub_moment) - self.start_hub, 1 / self._speed)


def clock_from(anchor: datetime, factor: Decimal | int) -> HubClock:
    """A clock that shows `anchor` at `anchor` and then runs `factor` times as fast."""
    return HubClock(anchor, anchor, factor)


@dataclass(frozen=True, slots=True)
class DueScan:
    scan_code: ScanCode
    due_at: datetime


# The last mile after arrival, each step's scan and typical wait: an illustrative rhythm.
LAST_MILE_STEPS: Mapping[TrackingStatus, tuple[ScanCode, timedelta]] = {
    TrackingStatus.ARRIVED: (ScanCode.TFD, timedelta(hours=6)),
    TrackingStatus.OUT_FOR_DELIVERY: (ScanCode.DLV, timedelta(hours=8)),
}
# A held shipment waits for a leg that can take it; the hub tries to book it again this often.
HOLD_RETRY_INTERVAL = timedelta(hours=1)


def planned_automatic_scan(shipment: Shipment) -> DueScan | None:
    """The shipment's next automatic scan and when it falls due; None when none will come."""
    departure = shipment.departure
    if departure is None:
        return None
    if shipment.status in (TrackingStatus.BOOKED, TrackingStatus.CONSOLIDATED):
        return DueScan(ScanCode.DEP, max(shipment.last_event_at, departure.departs_at))
    if shipment.status is TrackingStatus.DEPARTED:
        transit = departure.arrives_at - departure.departs_at
        return DueScan(ScanCode.ARR, shipment.last_event_at + transit)
    step = LAST_MILE_STEPS.get(shipment.status)
    if step is None:
        return None
    scan_code, dwell = step
    return DueScan(scan_code, shipment.last_event_at + dwell)


def next_automatic_scan(shipment: Shipment, hub_now: datetime) -> DueScan | None:
    """The scan due at `hub_now`, or None when nothing is due yet (or ever)."""
    planned = planned_automatic_scan(shipment)
    if planned is None or planned.due_at > _aware_utc(hub_now):
        return None
    return planned
