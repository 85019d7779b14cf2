"""Operators' payments API: look a payment up, refund it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.payments.domain.errors import PaymentsDomainError
from services.payments.domain.gateway import GatewayOutcome
from services.payments.repository import WITH_OPERATIONS
from services.payments.service import Payments
from services.payments.tables import PaymentRecord, RefundIntent
from shared.fields import Paragraph, PositiveMoneyString
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
    amount: PositiveMoneyString = Field(examples=["10.00"])
    reason: Paragraph = Field(min_length=3, max_length=500)


class RefundIntentOut(BaseModel):
    id: uuid.UUID
    amount: Decimal
    idempotency_key: str
    requested_by: str
    requested_at: datetime
    outcome: str | None = Field(
        description="APPROVED or DECLINED; null while the processor has not answered (the "
        "recovery job asks it again with the same key)"
    )
    outcome_reason: str | None
    settled_at: datetime | None


class RefundOut(PaymentOut):
    refund: RefundIntentOut = Field(description="This refund request and what became of it")


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
    response_model=RefundOut,
    status_code=201,
    summary="Refund part or all of what was captured",
    description=(
        "Never more than captured minus earlier and pending refunds, also under concurrent "
        "requests. The request is committed with its idempotency key before the processor is "
        "asked: 201 when it approved, 402 when it declined, 202 while it does not answer (the "
        "refund is settled later, asking it again with the same key)."
    ),
    responses={202: {"model": RefundOut, "description": "The processor has not answered yet"}},
)
async def refund(
    payment_id: uuid.UUID,
    body: RefundRequest,
    request: Request,
    operator: Finance,
    uow: UnitOfWorkDep,
    response: Response,
) -> RefundOut:
    payments: Payments = request.app.state.payments
    try:
        intent = await payments.request_refund(
            uow, payment_id, body.amount, body.reason, operator.name
        )
    except PaymentsDomainError as refusal:
        raise ProblemError(409, "refund-refused", str(refusal)) from None
    if intent is None:
        raise ProblemError(404, "payment-not-found", f"No payment {payment_id}")
    # Durable before the processor hears of it: a crash from here on leaves a pending intent
    # that the recovery job settles with the same key, never a refund paid out unrecorded.
    await uow.commit()
    settled = await payments.settle_refund(uow, intent.id)
    await uow.commit()
    return _refund_out(await _record(uow, payment_id), settled or intent, response)


def _refund_out(record: PaymentRecord, intent: RefundIntent, response: Response) -> RefundOut:
    if intent.outcome == GatewayOutcome.DECLINED:
        raise ProblemError(
            402,
            "refund-declined",
            f"The processor declined: {intent.outcome_reason}",
            refund_id=str(intent.id),
        )
    if intent.outcome is None:
        response.status_code = 202
    return RefundOut(
        **_out(record).model_dump(),
        refund=RefundIntentOut.model_validate(intent, from_attributes=True),
    )
