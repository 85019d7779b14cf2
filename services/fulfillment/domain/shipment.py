"""The Shipment aggregate: a parcel's tracking status, driven by status scans.

Scan codes are the Cargo-IMP freight status codes (IATA), plus two the hub
uses internally where Cargo-IMP has none:

    FOH, RCS            freight on hand / received from shipper  -> RECEIVED_AT_HUB
    BUP (hub)           built up into a unit load device           -> CONSOLIDATED
    BKD, MAN            booked / manifested on a departure         -> BOOKED
    DEP                 departed                                   -> DEPARTED
    ARR, RCF, NFD, AWD  arrived / received from flight /
                        consignee notified / documents delivered   -> ARRIVED
    TFD, OFD (hub)      transferred to the last-mile carrier /
                        out for delivery                           -> OUT_FOR_DELIVERY
    DLV                 delivered                                  -> DELIVERED
    DIS                 discrepancy                                -> EXCEPTION

Several codes share a status because carriers send several messages for one
step (ARR, then RCF); a scan that repeats the current status is recorded
without changing it. Booking may come straight after receipt (road legs carry
loose parcels, no ULD). An exception pauses the shipment: the next scan is
judged against the status it had before, and a valid one resumes the journey.
Cancellation is possible only before departure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from services.fulfillment.domain.errors import IllegalScan, InvalidTimestamp, ScanOutOfOrder


class TrackingStatus(StrEnum):
    CREATED = "CREATED"
    RECEIVED_AT_HUB = "RECEIVED_AT_HUB"
    CONSOLIDATED = "CONSOLIDATED"
    BOOKED = "BOOKED"
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
    ScanCode.BUP: TrackingStatus.CONSOLIDATED,
    ScanCode.BKD: TrackingStatus.BOOKED,
    ScanCode.MAN: TrackingStatus.BOOKED,
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
    TrackingStatus.RECEIVED_AT_HUB: frozenset({TrackingStatus.CONSOLIDATED, TrackingStatus.BOOKED}),
    TrackingStatus.CONSOLIDATED: frozenset({TrackingStatus.BOOKED}),
    TrackingStatus.BOOKED: frozenset({TrackingStatus.DEPARTED}),
    TrackingStatus.DEPARTED: frozenset({TrackingStatus.ARRIVED}),
    TrackingStatus.ARRIVED: frozenset({TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.DELIVERED}),
    TrackingStatus.OUT_FOR_DELIVERY: frozenset({TrackingStatus.DELIVERED}),
}
TERMINAL_STATUSES = frozenset({TrackingStatus.DELIVERED, TrackingStatus.CANCELLED})
CANCELLABLE_STATUSES = frozenset(
    {
        TrackingStatus.CREATED,
        TrackingStatus.RECEIVED_AT_HUB,
        TrackingStatus.CONSOLIDATED,
        TrackingStatus.BOOKED,
    }
)


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
    def journey_status(self) -> TrackingStatus:
        """Where the shipment stands on its journey, looking through an exception."""
        if self.status is TrackingStatus.EXCEPTION and self.status_before_exception is not None:
            return self.status_before_exception
        return self.status

    def apply_scan(self, scan_code: str, at: datetime, reason: str | None = None) -> TrackingStatus:
        """Apply a status scan and return the resulting status; refuse one that makes no sense."""
        code = parse_scan_code(scan_code)
        target = SCAN_STATUS[code]
        at = self._next_moment(at, code.value)
        if target is TrackingStatus.EXCEPTION:
            self._enter_exception(reason or "discrepancy reported", at, code)
            return self.status
        self._refuse_unless_reachable(target, code.value)
        self.status = target
        self.status_before_exception = None
        self.exception_reason = None
        self.history.append(TrackingEvent(target, at, code, reason))
        return self.status

    def report_exception(self, reason: str, at: datetime) -> None:
        self.apply_scan(ScanCode.DIS, at, reason)

    def cancel(self, reason: str, at: datetime) -> None:
        at = self._next_moment(at, "cancellation")
        if self.journey_status not in CANCELLABLE_STATUSES:
            raise IllegalScan(
                f"shipment {self.shipment_id}: cannot cancel once {self.journey_status.value}; "
                "cancellation is possible only before departure"
            )
        self.status = TrackingStatus.CANCELLED
        self.history.append(TrackingEvent(TrackingStatus.CANCELLED, at, None, reason))

    def _enter_exception(self, reason: str, at: datetime, code: ScanCode) -> None:
        if self.status in TERMINAL_STATUSES:
            raise IllegalScan(
                f"shipment {self.shipment_id}: no {code.value} scan after {self.status.value}"
            )
        self.status_before_exception = self.journey_status
        self.status = TrackingStatus.EXCEPTION
        self.exception_reason = reason
        self.history.append(TrackingEvent(TrackingStatus.EXCEPTION, at, code, reason))

    def _refuse_unless_reachable(self, target: TrackingStatus, code: str) -> None:
        if self.status in TERMINAL_STATUSES:
            raise IllegalScan(
                f"shipment {self.shipment_id}: no {code} scan after {self.status.value}"
            )
        current = self.journey_status
        if target is current or target in _FORWARD[current]:
            return
        if _order(target) < _order(current):
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


_JOURNEY = (
    TrackingStatus.CREATED,
    TrackingStatus.RECEIVED_AT_HUB,
    TrackingStatus.CONSOLIDATED,
    TrackingStatus.BOOKED,
    TrackingStatus.DEPARTED,
    TrackingStatus.ARRIVED,
    TrackingStatus.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED,
)


def _order(status: TrackingStatus) -> int:
    return _JOURNEY.index(status)


def _prerequisite(target: TrackingStatus) -> TrackingStatus:
    return next(source for source, targets in _FORWARD.items() if target in targets)
