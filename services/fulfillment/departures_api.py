"""Hub operators' view of departures: each leg's unit load devices and the parcels in them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.fulfillment.api import HubOperator
from services.fulfillment.domain.schedule import LIEGE_HUB_SCHEDULE
from services.fulfillment.tables import ShipmentRecord, UnitLoadRecord
from shared.events import utcnow
from shared.problems import PROBLEM_RESPONSES
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/v1", tags=["departures"], responses=PROBLEM_RESPONSES)


class ParcelInUld(BaseModel):
    shipment_id: uuid.UUID
    order_id: uuid.UUID
    house_awb: str | None
    status: str


class UldOut(BaseModel):
    id: str = Field(examples=["AKE12345LG"])
    type_code: str = Field(examples=["AKE"])
    net_weight_kg: Decimal
    dangerous_goods: bool
    departed_at: datetime | None
    parcels: list[ParcelInUld]


class DepartureOut(BaseModel):
    leg_id: str
    mode: str
    origin: str
    destination: str
    departs_at: datetime
    ulds: list[UldOut]


@router.get(
    "/departures",
    response_model=list[DepartureOut],
    summary="Departures with a ULD built for them, soonest first, from `since` on",
)
async def list_departures(
    _: HubOperator,
    uow: UnitOfWorkDep,
    since_hours: Annotated[
        int, Query(ge=0, le=24 * 14, description="Include departures this many hours past")
    ] = 24,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[DepartureOut]:
    ulds = (
        await uow.session.scalars(
            select(UnitLoadRecord)
            .where(UnitLoadRecord.departs_at >= utcnow() - timedelta(hours=since_hours))
            .order_by(UnitLoadRecord.departs_at, UnitLoadRecord.leg_id, UnitLoadRecord.id)
        )
    ).all()
    departures: dict[tuple[str, datetime], list[UnitLoadRecord]] = defaultdict(list)
    for uld in ulds:
        if len(departures) == limit and (uld.leg_id, uld.departs_at) not in departures:
            break
        departures[(uld.leg_id, uld.departs_at)].append(uld)
    kept = [uld.id for loads in departures.values() for uld in loads]
    parcels: dict[str, list[ParcelInUld]] = defaultdict(list)
    for shipment in await uow.session.scalars(
        select(ShipmentRecord)
        .where(ShipmentRecord.uld_id.in_(kept))
        .order_by(ShipmentRecord.created_at)
    ):
        parcels[shipment.uld_id].append(
            ParcelInUld(
                shipment_id=shipment.id,
                order_id=shipment.order_id,
                house_awb=shipment.house_awb,
                status=shipment.status,
            )
        )
    result = []
    for (leg_id, departs_at), loads in departures.items():
        leg = LIEGE_HUB_SCHEDULE.leg(leg_id)
        result.append(
            DepartureOut(
                leg_id=leg_id,
                mode=leg.mode,
                origin=leg.origin,
                destination=leg.destination,
                departs_at=departs_at,
                ulds=[
                    UldOut(
                        id=uld.id,
                        type_code=uld.type_code,
                        net_weight_kg=uld.net_weight_kg,
                        dangerous_goods=uld.dangerous_goods,
                        departed_at=uld.departed_at,
                        parcels=parcels[uld.id],
                    )
                    for uld in loads
                ],
            )
        )
    return result
