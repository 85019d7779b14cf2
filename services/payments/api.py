"""Operators' payments API: look a payment up, refund it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.payments.domain.errors import PaymentsDomainError
from services.payments.repository import WITH_OPERATIONS
from services.payments.service import PaymentDeclinedByGateway, Payments
from services.payments.tables import PaymentRecord
from shared.operators import Operator, Role
from shared.problems import PROBLEM_RESPONSES, ProblemError
from shared.service import UnitOfWorkDep, require_role

router = APIRouter(prefix="/v1", tags=["payments"], responses=PROBLEM_RESPONSES)
Finance = Annotated[Operator, Depends(require_role(Role.FINANCE))]


class OperationOut(BaseModel):
    sequence: int
    kind: str
    amount: Decimal
    idempotency_key: str
    reason: str | None
    at: datetime


class PaymentOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    status: str
    currency: str
    authorized_amount: Decimal
    captured_amount: Decimal
    refunded_amount: Decimal
    amount_eur: Decimal | None
    exchange_rate: dict[str, Any] | None
    expires_at: datetime | None
    operations: list[OperationOut]


class RefundRequest(BaseModel):
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=4, examples=["10.00"])
    reason: str = Field(min_length=3, max_length=500)


def _out(record: PaymentRecord) -> PaymentOut:
    return PaymentOut.model_validate(record, from_attributes=True)


async def _record(uow: UnitOfWorkDep, payment_id: uuid.UUID) -> PaymentRecord:
    record = await uow.session.get(
        PaymentRecord, payment_id, populate_existing=True, options=[WITH_OPERATIONS]
    )
    if record is None:
        raise ProblemError(404, "payment-not-found", f"No payment {payment_id}")
    return record


@router.get("/payments", response_model=list[PaymentOut], summary="Payments of an order")
async def find_payments(
    _: Finance, uow: UnitOfWorkDep, order_id: Annotated[uuid.UUID, Query()]
) -> list[PaymentOut]:
    records = await uow.session.scalars(
        select(PaymentRecord).where(PaymentRecord.order_id == order_id).options(WITH_OPERATIONS)
    )
    return [_out(record) for record in records]


@router.get("/payments/{payment_id}", response_model=PaymentOut, summary="A payment and its log")
async def get_payment(payment_id: uuid.UUID, _: Finance, uow: UnitOfWorkDep) -> PaymentOut:
    return _out(await _record(uow, payment_id))


@router.post(
    "/payments/{payment_id}/refunds",
    response_model=PaymentOut,
    status_code=201,
    summary="Refund part or all of what was captured",
    description="Never more than captured minus earlier refunds, also under concurrent requests.",
)
async def refund(
    payment_id: uuid.UUID, body: RefundRequest, request: Request, _: Finance, uow: UnitOfWorkDep
) -> PaymentOut:
    payments: Payments = request.app.state.payments
    try:
        refunded = await payments.refund(uow, payment_id, body.amount, body.reason)
    except PaymentsDomainError as refusal:
        raise ProblemError(409, "refund-refused", str(refusal)) from None
    except PaymentDeclinedByGateway as declined:
        raise ProblemError(402, "refund-declined", f"The processor declined: {declined}") from None
    if refunded is None:
        raise ProblemError(404, "payment-not-found", f"No payment {payment_id}")
    await uow.commit()
    return _out(await _record(uow, payment_id))
