"""The Shipment aggregate: a parcel's tracking status, driven by status scans.

Scan codes are the Cargo-IMP freight status codes (IATA), plus two the hub
uses internally where Cargo-IMP has none:

    FOH, RCS            freight on hand / received from shipper  -> RECEIVED_AT_HUB
    BKD, MAN            booked / manifested on a departure         -> BOOKED
    BUP (hub)           built up into a unit load device (ULD)
                        of that departure                          -> CONSOLIDATED
    DEP                 departed                                   -> DEPARTED
    ARR, RCF, NFD, AWD  arrived / received from flight /
                        consignee notified / documents delivered   -> ARRIVED
    TFD, OFD (hub)      transferred to the last-mile carrier /
                        out for delivery                           -> OUT_FOR_DELIVERY
    DLV                 delivered                                  -> DELIVERED
    DIS                 discrepancy                                -> EXCEPTION

The hub books a shipment itself once its payment is captured (`book`: a
departure and air waybills), then builds it up into a ULD of that departure
(`consolidate`). A BKD, MAN or BUP scan can confirm those steps but never take
them: a scan has no departure, waybill or ULD to give. Shipments of the rail
leg travel loose, from BOOKED straight to DEPARTED.

Several codes share a status because carriers send several messages for one
step (ARR, then RCF); a scan that repeats the current status is recorded
without changing it, and so is a booking or manifest confirmation after
build-up, since a built-up shipment is still booked.

A shipment no leg can carry is held at the hub (`hold`): it stays
RECEIVED_AT_HUB with the reason, and booking is tried again later.

A discrepancy (DIS) is final. In the saga a shipment in EXCEPTION is returned
to its seller and the buyer refunded, so no later scan is accepted: goods
found again after that are a case for people, not a journey that resumes.
Cancellation is possible only before departure.

Scans are refused when they would go back in time. The hub's own steps (book,
consolidate, hold, cancel) happen at the moment given or, when the clock of
the replica taking them is slightly behind, right after the last event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from services.fulfillment.domain.booking import Booking, travels_in_ulds
from services.fulfillment.domain.errors import (
    CancellationRefused,
    IllegalScan,
    InvalidTimestamp,
    ScanOutOfOrder,
)
from services.fulfillment.domain.schedule import HUB, Departure
from services.fulfillment.domain.uld import UldId


class TrackingStatus(StrEnum):
    CREATED = "CREATED"
    RECEIVED_AT_HUB = "RECEIVED_AT_HUB"
    BOOKED = "BOOKED"
    CONSOLIDATED = "CONSOLIDATED"
    DEPARTED = "DEPARTED"
    ARRIVED = "ARRIVED"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"
    CANCELLED = "CANCELLED"


class ScanCode(StrEnum):
    FOH = "FOH"
    RCS = "RCS"
    BUP = "BUP"
    BKD = "BKD"
    MAN = "MAN"
    DEP = "DEP"
    ARR = "ARR"
    RCF = "RCF"
    NFD = "NFD"
    AWD = "AWD"
    TFD = "TFD"
    OFD = "OFD"
    DLV = "DLV"
    DIS = "DIS"


SCAN_STATUS: dict[ScanCode, TrackingStatus] = {
    ScanCode.FOH: TrackingStatus.RECEIVED_AT_HUB,
    ScanCode.RCS: TrackingStatus.RECEIVED_AT_HUB,
    ScanCode.BKD: TrackingStatus.BOOKED,
    ScanCode.MAN: TrackingStatus.BOOKED,
    ScanCode.BUP: TrackingStatus.CONSOLIDATED,
    ScanCode.DEP: TrackingStatus.DEPARTED,
    ScanCode.ARR: TrackingStatus.ARRIVED,
    ScanCode.RCF: TrackingStatus.ARRIVED,
    ScanCode.NFD: TrackingStatus.ARRIVED,
    ScanCode.AWD: TrackingStatus.ARRIVED,
    ScanCode.TFD: TrackingStatus.OUT_FOR_DELIVERY,
    ScanCode.OFD: TrackingStatus.OUT_FOR_DELIVERY,
    ScanCode.DLV: TrackingStatus.DELIVERED,
    ScanCode.DIS: TrackingStatus.EXCEPTION,
}

_FORWARD: dict[TrackingStatus, frozenset[TrackingStatus]] = {
    TrackingStatus.CREATED: frozenset({TrackingStatus.RECEIVED_AT_HUB}),
    TrackingStatus.RECEIVED_AT_HUB: frozenset({TrackingStatus.BOOKED}),
    TrackingStatus.BOOKED: frozenset({TrackingStatus.CONSOLIDATED, TrackingStatus.DEPARTED}),
    TrackingStatus.CONSOLIDATED: frozenset({TrackingStatus.DEPARTED}),
    TrackingStatus.DEPARTED: frozenset({TrackingStatus.ARRIVED}),
    TrackingStatus.ARRIVED: frozenset({TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.DELIVERED}),
    TrackingStatus.OUT_FOR_DELIVERY: frozenset({TrackingStatus.DELIVERED}),
}
# Statuses reached only through one of the hub's own steps, and that step.
_HUB_STEPS: dict[TrackingStatus, str] = {
    TrackingStatus.BOOKED: "booking, once its payment is captured (departure and air waybills)",
    TrackingStatus.CONSOLIDATED: "load planning, which assigns its ULD",
}
# A built-up shipment is still booked: confirming its booking does not take it back.
_STILL: dict[TrackingStatus, TrackingStatus] = {
    TrackingStatus.CONSOLIDATED: TrackingStatus.BOOKED,
}
_WHY_FINAL: dict[TrackingStatus, str] = {
    TrackingStatus.DELIVERED: "its journey is over",
    TrackingStatus.CANCELLED: "it was cancelled",
    TrackingStatus.EXCEPTION: (
        "a discrepancy is final, the goods go back to the seller and the buyer is refunded"
    ),
}
TERMINAL_STATUSES = frozenset(_WHY_FINAL)
_AT_ORIGIN = frozenset(
    {
        TrackingStatus.RECEIVED_AT_HUB,
        TrackingStatus.BOOKED,
        TrackingStatus.CONSOLIDATED,
        TrackingStatus.DEPARTED,
    }
)
LEFT_HUB_STATUSES = frozenset(
    {
        TrackingStatus.DEPARTED,
        TrackingStatus.ARRIVED,
        TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.DELIVERED,
    }
)
CANCELLABLE_STATUSES = frozenset(
    {
        TrackingStatus.CREATED,
        TrackingStatus.RECEIVED_AT_HUB,
        TrackingStatus.BOOKED,
        TrackingStatus.CONSOLIDATED,
    }
)
# The steps after booking that the hub announces as they happen (ShipmentTracked); receipt,
# booking, exception and cancellation have events of their own.
TRACKED_STATUSES = frozenset({TrackingStatus.CONSOLIDATED}) | LEFT_HUB_STATUSES


def parse_scan_code(text: str) -> ScanCode:
    try:
        return ScanCode(text.strip().upper())
    except ValueError:
        raise IllegalScan(f"unknown scan code {text!r}") from None


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    status: TrackingStatus
    at: datetime
    scan_code: ScanCode | None = None
    reason: str | None = None
    location: str | None = None
    recorded_by: str | None = None  # the operator who scanned; None for the hub's own steps


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTimestamp(f"{moment.isoformat()} has no timezone; pass aware UTC time")
    return moment.astimezone(UTC)


@dataclass
class Shipment:
    shipment_id: uuid.UUID
    order_id: uuid.UUID
    destination: str
    created_at: datetime
    status: TrackingStatus = TrackingStatus.CREATED
    status_before_exception: TrackingStatus | None = None
    exception_reason: str | None = None
    history: list[TrackingEvent] = field(default_factory=list)
    booking: Booking | None = None
    uld_id: UldId | None = None
    hold_reason: str | None = None
    hold_checked_at: datetime | None = None

    @classmethod
    def create(
        cls, shipment_id: uuid.UUID, order_id: uuid.UUID, destination: str, at: datetime
    ) -> Shipment:
        created_at = _aware_utc(at)
        return cls(
            shipment_id=shipment_id,
            order_id=order_id,
            destination=destination,
            created_at=created_at,
            history=[TrackingEvent(TrackingStatus.CREATED, created_at)],
        )

    @property
    def last_event_at(self) -> datetime:
        return self.history[-1].at

    @property
    def departure(self) -> Departure | None:
        return None if self.booking is None else self.booking.departure

    def apply_scan(
        self,
        scan_code: str,
        at: datetime,
        reason: str | None = None,
        *,
        location: str | None = None,
        recorded_by: str | None = None,
    ) -> TrackingStatus:
        """Apply a status scan and return the resulting status; refuse one that makes no sense."""
        code = parse_scan_code(scan_code)
        target = SCAN_STATUS[code]
        at = self._next_moment(at, code.value)
        self._refuse_when_final(code.value)
        if target is TrackingStatus.EXCEPTION:
            self.status_before_exception = self.status
            self.status = TrackingStatus.EXCEPTION
            reason = self.exception_reason = reason or "discrepancy reported"
            self.hold_reason = None
            where = location
        elif target is self.status or _STILL.get(self.status) is target:
            where = location or self._where(self.status)
        else:
            self._refuse_unless_next(target, code.value)
            if target in _HUB_STEPS:
                raise IllegalScan(
                    f"shipment {self.shipment_id}: {code.value} ({target.value}) refused while "
                    f"{self.status.value}: a shipment becomes {target.value} only through the "
                    f"hub's {_HUB_STEPS[target]}, never by a scan"
                )
            self.status = target
            where = location or self._where(target)
        self.history.append(TrackingEvent(self.status, at, code, reason, where, recorded_by))
        return self.status

    def book(self, booking: Booking, at: datetime) -> None:
        at = self._hub_moment(at)
        self._refuse_when_final(ScanCode.BKD.value)
        self._refuse_unless_next(TrackingStatus.BOOKED, ScanCode.BKD.value)
        self.booking = booking
        self.hold_reason = None
        self.hold_checked_at = None
        self.status = TrackingStatus.BOOKED
        self._record(self.status, at, ScanCode.BKD, None, booking.departure.leg.origin)

    def consolidate(self, uld_id: UldId, at: datetime) -> None:
        at = self._hub_moment(at)
        self._refuse_when_final(ScanCode.BUP.value)
        self._refuse_unless_next(TrackingStatus.CONSOLIDATED, ScanCode.BUP.value)
        departure = self.departure
        assert departure is not None, "a booked shipment has its departure"
        if not travels_in_ulds(departure):
            raise IllegalScan(
                f"shipment {self.shipment_id}: {departure.leg.leg_id} is a "
                f"{departure.leg.mode.value} leg; its shipments travel loose, not in ULDs"
            )
        self.uld_id = uld_id
        self.status = TrackingStatus.CONSOLIDATED
        self._record(self.status, at, ScanCode.BUP, None, departure.leg.origin)

    def hold(self, reason: str, at: datetime) -> None:
        """No departure can take the shipment now: it waits at the hub, booking to be retried."""
        at = self._hub_moment(at)
        if self.status is not TrackingStatus.RECEIVED_AT_HUB:
            raise IllegalScan(
                f"shipment {self.shipment_id}: only a shipment waiting at the hub to be booked "
                f"can be held; it is {self.status.value}"
            )
        self.hold_checked_at = at
        if reason != self.hold_reason:
            self.hold_reason = reason
            self._record(self.status, at, None, f"held: {reason}", HUB)

    def cancel(self, reason: str, at: datetime) -> None:
        at = self._hub_moment(at)
        if self.status not in CANCELLABLE_STATUSES:
            raise CancellationRefused(self._why_too_late_to_cancel())
        self.status = TrackingStatus.CANCELLED
        self.hold_reason = None
        self._record(self.status, at, None, reason, None)

    def _why_too_late_to_cancel(self) -> str:
        if self.status is TrackingStatus.EXCEPTION:
            return (
                f"shipment {self.shipment_id} was reported as an exception "
                f"({self.exception_reason}); its goods go back to the seller"
            )
        if self.status is TrackingStatus.CANCELLED:
            return f"shipment {self.shipment_id} is already cancelled"
        return (
            f"shipment {self.shipment_id} is {self.status.value}: its goods have left the Liège "
            "hub, and a shipment can be cancelled only before departure"
        )

    def _record(
        self,
        status: TrackingStatus,
        at: datetime,
        code: ScanCode | None,
        reason: str | None,
        location: str | None,
    ) -> None:
        self.history.append(TrackingEvent(status, at, code, reason, location))

    def _where(self, status: TrackingStatus) -> str | None:
        """Where a scan reaching `status` happens, when the scanner does not say."""
        leg = None if self.departure is None else self.departure.leg
        if status in _AT_ORIGIN:
            return HUB if leg is None else leg.origin
        if status is TrackingStatus.ARRIVED and leg is not None:
            return leg.destination
        # The last mile ends at the buyer's, whose address the hub does not keep.
        return None

    def _refuse_when_final(self, code: str) -> None:
        if self.status in TERMINAL_STATUSES:
            raise IllegalScan(
                f"shipment {self.shipment_id}: no {code} scan after {self.status.value}: "
                f"{_WHY_FINAL[self.status]}"
            )

    def _refuse_unless_next(self, target: TrackingStatus, code: str) -> None:
        current = self.status
        if target in _FORWARD[current]:
            return
        if _order(target) <= _order(current):
            why = f"it is already {current.value}"
        elif _order(current) < _order(TrackingStatus.DEPARTED) < _order(target):
            why = "it has not departed yet"
        else:
            why = f"it has not reached {_prerequisite(target).value}"
        raise IllegalScan(
            f"shipment {self.shipment_id}: {code} ({target.value}) refused while "
            f"{current.value}: {why}"
        )

    def _next_moment(self, at: datetime, what: str) -> datetime:
        at = _aware_utc(at)
        if at < self.last_event_at:
            raise ScanOutOfOrder(
                f"shipment {self.shipment_id}: {what} at {at.isoformat()} is earlier than the "
                f"last event at {self.last_event_at.isoformat()}"
            )
        return at

    def _hub_moment(self, at: datetime) -> datetime:
        return max(_aware_utc(at), self.last_event_at)


_JOURNEY = (
    TrackingStatus.CREATED,
    TrackingStatus.RECEIVED_AT_HUB,
    TrackingStatus.BOOKED,
    TrackingStatus.CONSOLIDATED,
    TrackingStatus.DEPARTED,
    TrackingStatus.ARRIVED,
    TrackingStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED,
)


def _order(status: TrackingStatus) -> int:
    return _JOURNEY.index(status)


def _prerequisite(target: TrackingStatus) -> TrackingStatus:
    return next(source for source, targets in _FORWARD.items() if target in targets)
