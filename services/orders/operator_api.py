"""Operator API of orders (admin listener): any partner's order, found by id or reference,
and the orders that have stopped moving. Read-only: operators act through the other
services' routes (release a declaration, scan a shipment, replay a dead letter)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from services.orders.api import order_response
from services.orders.domain import FINAL_STATUSES
from services.orders.schemas import OrderResponse
from services.orders.settings import OrdersSettings
from services.orders.tables import Order
from shared.fields import Line
from shared.operators import Operator, Role
from shared.problems import PROBLEM_RESPONSES, ProblemError
from shared.service import UnitOfWorkDep, require_role, runtime_of

router = APIRouter(prefix="/v1", tags=["operator: orders"], responses=PROBLEM_RESPONSES)

AnyOperator = Annotated[Operator, Depends(require_role(*Role))]


class OperatorOrder(OrderResponse):
    partner: str = Field(description="The partner platform that placed it")


class OperatorOrderList(BaseModel):
    items: list[OperatorOrder]


class OperatorOut(BaseModel):
    name: str = Field(description="What audits record for this operator")
    roles: list[Role]


def _operator_order(order: Order) -> OperatorOrder:
    return OperatorOrder(**order_response(order).model_dump(), partner=order.partner.name)


def _with_partner_and_timeline(query):
    return query.options(joinedload(Order.partner, innerjoin=True), selectinload(Order.timeline))


@router.get("/operators/me", response_model=OperatorOut, summary="Who this credential is")
async def who_am_i(operator: AnyOperator) -> OperatorOut:
    return OperatorOut(name=operator.name, roles=sorted(operator.roles))


@router.get(
    "/orders/stuck",
    response_model=OperatorOrderList,
    summary="Orders in a non-final status that has not changed for a while, oldest first",
)
async def stuck_orders(
    request: Request,
    _: AnyOperator,
    uow: UnitOfWorkDep,
    older_than_minutes: Annotated[
        int | None,
        Query(
            ge=1,
            le=60 * 24 * 30,
            description="Any non-final status unchanged this long; by default each status's "
            "own objective (STATUS_OBJECTIVES, as `ehub_orders_stuck` counts)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OperatorOrderList:
    now = datetime.now(UTC)
    settings: OrdersSettings = runtime_of(request).settings
    overdue = (
        [Order.updated_at < now - timedelta(minutes=older_than_minutes)]
        if older_than_minutes
        else [
            and_(Order.status == str(status), Order.updated_at < now - objective)
            for status, objective in settings.status_objectives.items()
        ]
    )
    rows = await uow.session.scalars(
        _with_partner_and_timeline(select(Order))
        .where(Order.status.not_in([str(status) for status in FINAL_STATUSES]))
        .where(or_(*overdue))
        .order_by(Order.updated_at)
        .limit(limit)
    )
    return OperatorOrderList(items=[_operator_order(order) for order in rows])


@router.get(
    "/orders",
    response_model=OperatorOrderList,
    summary="Orders of any partner with this partner reference, newest first",
)
async def find_orders(
    _: AnyOperator,
    uow: UnitOfWorkDep,
    partner_reference: Annotated[Line, Query(min_length=1, max_length=100)],
) -> OperatorOrderList:
    rows = await uow.session.scalars(
        _with_partner_and_timeline(select(Order))
        .where(Order.partner_reference == partner_reference)
        .order_by(Order.created_at.desc())
        .limit(20)
    )
    return OperatorOrderList(items=[_operator_order(order) for order in rows])


@router.get("/orders/{order_id}", response_model=OperatorOrder, summary="Any partner's order")
async def get_any_order(order_id: uuid.UUID, _: AnyOperator, uow: UnitOfWorkDep) -> OperatorOrder:
    order = await uow.session.scalar(
        _with_partner_and_timeline(select(Order)).where(Order.id == order_id)
    )
    if order is None:
        raise ProblemError(404, "order-not-found", f"No order {order_id}")
    return _operator_order(order)
