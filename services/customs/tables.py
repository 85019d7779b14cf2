"""The customs database: declarations, their officer decisions, and buyers' CBEC year totals."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Declaration(Base):
    """One per order. Waits for both the order (the goods) and its payment authorization."""

    __tablename__ = "declarations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    order_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    order: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ordered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_id: Mapped[uuid.UUID | None]
    lane: Mapped[str | None] = mapped_column(String(30))
    declaration_type: Mapped[str | None] = mapped_column(String(10))
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The `DutiesAndTaxes` contract, in the order currency, once the rules could compute it.
    duties_and_taxes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    dangerous_goods: Mapped[list[str]] = mapped_column(JSONB, default=list)
    rules_applied: Mapped[list[str]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Decision(Base):
    """Append-only audit trail: a database trigger refuses any UPDATE or DELETE."""

    __tablename__ = "declaration_decisions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    declaration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("declarations.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    decided_by: Mapped[str] = mapped_column(String(200))
    reasons: Mapped[list[str]] = mapped_column(JSONB)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BuyerAnnualTotal(Base):
    """China CBEC: what a buyer (by identity) has cleared this calendar year, in CNY."""

    __tablename__ = "cbec_buyer_totals"

    buyer_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    cleared_cny: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    orders: Mapped[int]
