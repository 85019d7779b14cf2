"""Hub customs officers' API: review held declarations, release or reject them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select, tuple_

from services.customs.consignments import reference_data_used
from services.customs.domain.model import Lane
from services.customs.handlers import (
    CHINA_TIME,
    HELD,
    announce_cleared,
    count_release,
    lock_buyer_totals,
    record_decision,
    release_usage,
)
from services.customs.reference.cache import ReferenceCache
from services.customs.tables import Decision, Declaration
from shared.events import CustomsRejected, DutiesAndTaxes, MoneyAmount
from shared.fields import MoneyString, Paragraph
from shared.operators import Operator, Role
from shared.pagination import Cursor, decode_cursor, encode_cursor
from shared.problems import PROBLEM_RESPONSES, ProblemError
from shared.service import UnitOfWorkDep, require_role

router = APIRouter(prefix="/v1", tags=["declarations"], responses=PROBLEM_RESPONSES)
Officer = Annotated[Operator, Depends(require_role(Role.CUSTOMS_OFFICER))]


class DecisionOut(BaseModel):
    outcome: str
    decided_by: str
    reasons: list[str]
    decided_at: datetime


class DeclarationSummary(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    reference: str
    status: str
    lane: str | None
    declaration_type: str | None
    created_at: datetime
    decided_at: datetime | None


class DeclarationDetail(DeclarationSummary):
    duties_and_taxes: dict[str, Any] | None
    dangerous_goods: list[str]
    assessment: dict[str, Any] | None = Field(description="The whole computation, rule by rule")
    reference_data: dict[str, Any] | None = Field(
        default=None,
        description="The reference table versions (load, SHA-256, dates, provisional) and the "
        "exchange rates (authority, publication day, load) the rules used",
    )
    decisions: list[DecisionOut]


class DeclarationPage(BaseModel):
    items: list[DeclarationSummary]
    next_cursor: str | None


class ReleaseRequest(BaseModel):
    reason: Paragraph = Field(min_length=3, max_length=500)
    duty: MoneyString | None = Field(
        default=None, description="Order-currency duty, required when the rules computed none"
    )
    vat: MoneyString | None = Field(default=None)
    other_taxes: MoneyString | None = Field(
        default=None,
        description="Order-currency consumption tax (China) or other taxes the officer "
        "assessed; 0 when not given",
    )


class RejectRequest(BaseModel):
    reason: Paragraph = Field(min_length=3, max_length=500)


async def _declaration(uow: UnitOfWorkDep, key: uuid.UUID, *, lock: bool = False) -> Declaration:
    query = select(Declaration).where(or_(Declaration.id == key, Declaration.order_id == key))
    declaration = await uow.session.scalar(query.with_for_update() if lock else query)
    if declaration is None:
        raise ProblemError(404, "declaration-not-found", f"No declaration {key}")
    return declaration


def _held(declaration: Declaration) -> None:
    if declaration.status != HELD:
        raise ProblemError(
            409,
            "declaration-not-held",
            f"Declaration {declaration.reference} is {declaration.status}; only HELD ones "
            "await an officer",
        )


@router.get("/declarations", response_model=DeclarationPage, summary="Declarations, newest first")
async def list_declarations(
    _: Officer,
    uow: UnitOfWorkDep,
    status: Annotated[str | None, Query(pattern="^[A-Z_]+$", examples=["HELD"])] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Cursor = None,
) -> DeclarationPage:
    query = select(Declaration)
    if status:
        query = query.where(Declaration.status == status)
    if cursor is not None:
        query = query.where(tuple_(Declaration.created_at, Declaration.id) < decode_cursor(cursor))
    rows = (
        await uow.session.scalars(
            query.order_by(Declaration.created_at.desc(), Declaration.id.desc()).limit(limit + 1)
        )
    ).all()
    page = rows[:limit]
    return DeclarationPage(
        items=[DeclarationSummary.model_validate(row, from_attributes=True) for row in page],
        next_cursor=(
            encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
        ),
    )


@router.get(
    "/declarations/{key}",
    response_model=DeclarationDetail,
    summary="One declaration (by order id or declaration id) with its whole computation",
)
async def get_declaration(key: uuid.UUID, _: Officer, uow: UnitOfWorkDep) -> DeclarationDetail:
    declaration = await _declaration(uow, key)
    decisions = (
        await uow.session.scalars(
            select(Decision).where(Decision.declaration_id == declaration.id).order_by(Decision.id)
        )
    ).all()
    summary = DeclarationSummary.model_validate(declaration, from_attributes=True)
    return DeclarationDetail(
        **summary.model_dump(),
        duties_and_taxes=declaration.duties_and_taxes,
        dangerous_goods=declaration.dangerous_goods,
        assessment=declaration.assessment,
        reference_data=reference_data_used(declaration.assessment),
        decisions=[DecisionOut.model_validate(d, from_attributes=True) for d in decisions],
    )


@router.post(
    "/declarations/{key}/release",
    response_model=DeclarationSummary,
    summary="Release a held declaration: the order clears",
)
async def release(
    key: uuid.UUID, body: ReleaseRequest, officer: Officer, uow: UnitOfWorkDep, request: Request
) -> DeclarationSummary:
    declaration = await _declaration(uow, key, lock=True)
    _held(declaration)
    charges = _charges_on_release(declaration, body)
    if declaration.lane == Lane.CN_CBEC_9610:
        await _count_cbec_release(declaration, uow, request.app.state.reference)
    declaration.duties_and_taxes = charges.model_dump(mode="json")
    record_decision(uow, declaration, "CLEARED", officer.name, [f"released: {body.reason}"])
    await announce_cleared(uow, declaration, charges)
    await uow.commit()
    return DeclarationSummary.model_validate(declaration, from_attributes=True)


@router.post(
    "/declarations/{key}/reject",
    response_model=DeclarationSummary,
    summary="Reject a held declaration: the order is refused and its payment voided",
)
async def reject(
    key: uuid.UUID, body: RejectRequest, officer: Officer, uow: UnitOfWorkDep
) -> DeclarationSummary:
    declaration = await _declaration(uow, key, lock=True)
    _held(declaration)
    reasons = [f"rejected by officer: {body.reason}"]
    record_decision(uow, declaration, "REJECTED", officer.name, reasons)
    await uow.emit(
        CustomsRejected(
            order_id=declaration.order_id, declaration_id=declaration.id, reasons=reasons
        )
    )
    await uow.commit()
    return DeclarationSummary.model_validate(declaration, from_attributes=True)


def _charges_on_release(declaration: Declaration, body: ReleaseRequest) -> DutiesAndTaxes:
    if body.duty is None and body.vat is None and declaration.duties_and_taxes is not None:
        return DutiesAndTaxes.model_validate(declaration.duties_and_taxes)
    if body.duty is None or body.vat is None:
        raise ProblemError(
            422,
            "charges-required",
            "The rules computed no charges for this declaration; the officer must give duty "
            "and vat",
            errors=[
                {"pointer": "/duty", "detail": "required"},
                {"pointer": "/vat", "detail": "required"},
            ],
        )
    currency = (declaration.order or {}).get("currency", "EUR")
    other_taxes = body.other_taxes or Decimal(0)
    return DutiesAndTaxes(
        duty=MoneyAmount(amount=body.duty, currency=currency),
        vat=MoneyAmount(amount=body.vat, currency=currency),
        other_taxes=MoneyAmount(amount=other_taxes, currency=currency),
        fees=MoneyAmount(amount=Decimal(0), currency=currency),
        total=MoneyAmount(amount=body.duty + body.vat + other_taxes, currency=currency),
        collected_at_checkout=False,
    )


async def _count_cbec_release(
    declaration: Declaration, uow: UnitOfWorkDep, reference: ReferenceCache
) -> None:
    """A released CBEC order counts towards its buyer's year, within the annual limit."""
    await reference.refresh(uow.session)
    day = datetime.now(CHINA_TIME).date()
    limits = reference.tables.cbec_limits.on(day) if reference.tables else None
    if limits is None:
        raise ProblemError(
            409, "reference-data-missing", f"No CBEC limits are loaded for {day}: load them first"
        )
    annual_limit = limits[1].annual_limit_cny
    found = release_usage(declaration)
    if isinstance(found, str):
        raise ProblemError(409, "cbec-release-refused", found)
    key, value = found
    [total] = (await lock_buyer_totals(uow.session, [key])).values()
    refusal = count_release(declaration, total, value, annual_limit)
    if refusal is not None:
        raise ProblemError(409, "cbec-release-refused", f"{refusal}; reject it instead")
