"""Hub operators' API: record shipments' scans, look up shipments and their tracking."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import select

from services.fulfillment.domain.errors import IllegalScan, ScanOutOfOrder
from services.fulfillment.domain.schedule import LIEGE_HUB_SCHEDULE
from services.fulfillment.domain.shipment import ScanCode, TrackingStatus
from services.fulfillment.hub import record_scan
from services.fulfillment.repository import ShipmentRepository
from services.fulfillment.tables import Parcel, ShipmentRecord
from shared.events import utcnow
from shared.fields import Line, Paragraph, Timestamp
from shared.operators import Operator, Role
from shared.problems import PROBLEM_RESPONSES, ProblemError
from shared.service import UnitOfWorkDep, require_role

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["shipments"], responses=PROBLEM_RESPONSES)
HubOperator = Annotated[Operator, Depends(require_role(Role.HUB_OPERATOR))]


def _code_as_scanned(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[ScanCode, BeforeValidator(_code_as_scanned)] = Field(
        description="Cargo-IMP status code (RCS, DEP, ARR, RCF, TFD, OFD, DLV, DIS, ...)",
        examples=["DEP"],
    )
    at: Timestamp | None = Field(
        default=None, description="When the scan happened; now when left out. Never ahead of now"
    )
    location: Line | None = Field(default=None, min_length=1, max_length=100, examples=["BRU"])
    reason: Paragraph | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Why, for a discrepancy (DIS) above all",
        examples=["parcel crushed at build-up"],
    )


class TrackingEntry(BaseModel):
    status: str
    at: datetime
    scan_code: str | None
    location: str | None
    reason: str | None
    recorded_by: str | None


class LegOut(BaseModel):
    leg_id: str
    mode: str
    origin: str
    destination: str


class ShipmentSummary(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    status: str
    destination: str
    house_awb: str | None
    leg_id: str | None
    departs_at: datetime | None
    uld_id: str | None
    hold_reason: str | None = Field(description="Why the shipment waits at the hub, if it does")
    created_at: datetime
    last_event_at: datetime


class ShipmentDetail(ShipmentSummary):
    master_awb: str | None
    leg: LegOut | None
    arrives_at: datetime | None
    weight_kg: Decimal | None
    dangerous_goods: list[str]
    status_before_exception: str | None
    exception_reason: str | None
    history: list[TrackingEntry] = Field(description="Every status and scan, oldest first")


@router.post(
    "/shipments/{shipment_id}/scans",
    status_code=201,
    response_model=ShipmentDetail,
    summary="Record a scan; one that makes no sense for the shipment is refused (409)",
    description=(
        "Refused, changing nothing: 409 for a scan that makes no sense for the shipment "
        "(delivered before departed, anything after DELIVERED, CANCELLED or EXCEPTION, a time "
        "before its last event or after now: scans are in the order they happen), 404 for an "
        "unknown shipment, 422 for a bad body (unknown code, time without a timezone). A DIS "
        "(discrepancy) scan is final: the goods go back to the seller and the buyer is "
        "refunded, so no later scan is "
        "accepted. Booking (BKD) and build-up into a ULD (BUP) are the hub's own steps, taken "
        "once the payment is captured: a scan can confirm them, never take them."
    ),
)
async def post_scan(
    shipment_id: uuid.UUID, body: ScanRequest, operator: HubOperator, uow: UnitOfWorkDep
) -> ShipmentDetail:
    now = utcnow()
    if body.at is not None and body.at > now:
        # 409, not 422: the body is well formed (its schema cannot say "before now"); its
        # time conflicts with the clock as a time before the last event does with the history.
        raise ProblemError(
            409,
            "scan-in-the-future",
            f"A scan at {body.at.isoformat()} has not happened yet (now is {now.isoformat()})",
            errors=[{"pointer": "/at", "detail": "must not be in the future"}],
        )
    shipments = ShipmentRepository.of(uow.session)
    shipment = await shipments.get(shipment_id)
    if shipment is None:
        raise ProblemError(404, "shipment-not-found", f"No shipment {shipment_id}")
    try:
        await record_scan(
            uow,
            shipment,
            body.code,
            body.at or now,
            reason=body.reason,
            location=body.location,
            recorded_by=operator.name,
        )
    except ScanOutOfOrder as refusal:
        raise ProblemError(409, "scan-out-of-order", str(refusal)) from None
    except IllegalScan as refusal:
        raise ProblemError(
            409, "illegal-scan", str(refusal), shipment_status=shipment.status
        ) from None
    record = shipments.record_of(shipment)
    await uow.commit()
    log.info(
        "scan recorded",
        extra={"shipment_id": str(shipment_id), "scan": body.code, "operator": operator.name},
    )
    return await _detail(uow, record)


@router.get(
    "/shipments/{shipment_id}",
    response_model=ShipmentDetail,
    summary="One shipment with its air waybills, leg, ULD and whole tracking history",
)
async def get_shipment(
    shipment_id: uuid.UUID, _: HubOperator, uow: UnitOfWorkDep
) -> ShipmentDetail:
    record = await uow.session.get(ShipmentRecord, shipment_id)
    if record is None:
        raise ProblemError(404, "shipment-not-found", f"No shipment {shipment_id}")
    return await _detail(uow, record)


@router.get(
    "/shipments",
    response_model=list[ShipmentSummary],
    summary="Shipments, newest first, by order or status",
)
async def list_shipments(
    _: HubOperator,
    uow: UnitOfWorkDep,
    order_id: uuid.UUID | None = None,
    status: TrackingStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ShipmentSummary]:
    query = select(ShipmentRecord)
    if order_id is not None:
        query = query.where(ShipmentRecord.order_id == order_id)
    if status is not None:
        query = query.where(ShipmentRecord.status == status)
    records = await uow.session.scalars(
        query.order_by(ShipmentRecord.created_at.desc(), ShipmentRecord.id).limit(limit)
    )
    return [ShipmentSummary.model_validate(record, from_attributes=True) for record in records]


async def _detail(uow: UnitOfWorkDep, record: ShipmentRecord) -> ShipmentDetail:
    parcel = await uow.session.get(Parcel, record.order_id)
    leg = None if record.leg_id is None else LIEGE_HUB_SCHEDULE.leg(record.leg_id)
    summary = ShipmentSummary.model_validate(record, from_attributes=True)
    return ShipmentDetail(
        **summary.model_dump(),
        master_awb=record.master_awb,
        leg=None
        if leg is None
        else LegOut(
            leg_id=leg.leg_id, mode=leg.mode, origin=leg.origin, destination=leg.destination
        ),
        arrives_at=record.arrives_at,
        weight_kg=None if parcel is None else parcel.weight_kg,
        dangerous_goods=[] if parcel is None else parcel.dangerous_goods,
        status_before_exception=record.status_before_exception,
        exception_reason=record.exception_reason,
        history=[
            TrackingEntry(
                status=entry["status"],
                at=entry["at"],
                scan_code=entry["scan_code"],
                location=entry.get("location"),
                reason=entry["reason"],
                recorded_by=entry.get("recorded_by"),
            )
            for entry in record.history
        ],
    )
