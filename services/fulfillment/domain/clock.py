"""An accelerated hub clock, and the scans a demo shipment makes by itself.

`HubClock` maps real time to hub time: from `start_real`, hub time runs
`factor` times as fast from `start_hub` (factor 1 is real time; 3600 turns an
hour of hub time into a second). Arithmetic is in whole microseconds and
Decimal, so mapping back and forth is exact up to one microsecond.

`next_automatic_scan` says which scan a shipment is due for at a given hub
time, so a demo shipment walks its whole journey unattended: each step waits a
typical dwell time after the previous event, except that departure and arrival
follow the booked departure when one is given. An exception waits for a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from services.fulfillment.domain.errors import InvalidTimestamp
from services.fulfillment.domain.schedule import Departure
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


@dataclass(frozen=True, slots=True)
class DueScan:
    scan_code: ScanCode
    due_at: datetime


# Each status's next scan and the typical wait before it: an illustrative hub rhythm.
DEMO_STEPS: Mapping[TrackingStatus, tuple[ScanCode, timedelta]] = {
    TrackingStatus.CREATED: (ScanCode.RCS, timedelta(hours=2)),
    TrackingStatus.RECEIVED_AT_HUB: (ScanCode.BUP, timedelta(hours=3)),
    TrackingStatus.CONSOLIDATED: (ScanCode.MAN, timedelta(hours=2)),
    TrackingStatus.BOOKED: (ScanCode.DEP, timedelta(hours=4)),
    TrackingStatus.DEPARTED: (ScanCode.ARR, timedelta(hours=10)),
    TrackingStatus.ARRIVED: (ScanCode.TFD, timedelta(hours=6)),
    TrackingStatus.OUT_FOR_DELIVERY: (ScanCode.DLV, timedelta(hours=8)),
}


def planned_automatic_scan(
    shipment: Shipment,
    departure: Departure | None = None,
    steps: Mapping[TrackingStatus, tuple[ScanCode, timedelta]] = DEMO_STEPS,
) -> DueScan | None:
    """The shipment's next automatic scan and when it falls due; None when none will come."""
    step = steps.get(shipment.status)
    if step is None:
        return None
    scan_code, dwell = step
    due_at = shipment.last_event_at + dwell
    if departure is not None and shipment.status is TrackingStatus.BOOKED:
        due_at = max(shipment.last_event_at, departure.departs_at)
    elif departure is not None and shipment.status is TrackingStatus.DEPARTED:
        due_at = max(shipment.last_event_at, departure.arrives_at)
    return DueScan(scan_code, due_at)


def next_automatic_scan(
    shipment: Shipment,
    hub_now: datetime,
    departure: Departure | None = None,
    steps: Mapping[TrackingStatus, tuple[ScanCode, timedelta]] = DEMO_STEPS,
) -> DueScan | None:
    """The scan due at `hub_now`, or None when nothing is due yet (or ever)."""
    planned = planned_automatic_scan(shipment, departure, steps)
    if planned is None or planned.due_at > _aware_utc(hub_now):
        return None
    return planned
