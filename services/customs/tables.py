"""The customs database: declarations, their officer decisions, buyers' CBEC year totals, and
the reference tables operators load (services/customs/reference)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Numeric, String, func
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
    # The order the payment company's document names (China's payment document).
    payment_order_reference: Mapped[str | None] = mapped_column(String(100))
    lane: Mapped[str | None] = mapped_column(String(30))
    declaration_type: Mapped[str | None] = mapped_column(String(10))
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The `DutiesAndTaxes` contract, in the order currency, once the rules could compute it.
    duties_and_taxes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    dangerous_goods: Mapped[list[str]] = mapped_column(JSONB, default=list)
    rules_applied: Mapped[list[str]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # China CBEC: what this declaration added to a buyer's year, so a withdrawal takes back
    # exactly what was counted.
    cbec_buyer_key: Mapped[str | None] = mapped_column(String(128))
    cbec_year: Mapped[int | None]
    cbec_counted_cny: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))


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


class ReferenceLoad(Base):
    """One load of one reference table: the file, who loaded it, when, and what it covers."""

    __tablename__ = "reference_loads"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(500))
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_by: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    covers_from: Mapped[date] = mapped_column(Date)
    covers_to: Mapped[date | None] = mapped_column(Date)
    # A provisional extension: the rows of `extends_load_id` declared valid for longer.
    provisional: Mapped[bool] = mapped_column(default=False)
    extends_load_id: Mapped[int | None] = mapped_column(ForeignKey("reference_loads.id"))
    row_count: Mapped[int]


class ReferenceRow(Base):
    """A line of a loaded table file, its cells as written (re-checked by the same parser)."""

    __tablename__ = "reference_rows"

    load_id: Mapped[int] = mapped_column(ForeignKey("reference_loads.id"), primary_key=True)
    line: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    cells: Mapped[dict[str, str]] = mapped_column(JSONB)


class DailyExchangeRate(Base):
    """A rate as its authority published it: ECB (currency per EUR), CFETS (CNY per unit)."""

    __tablename__ = "exchange_rates"

    load_id: Mapped[int] = mapped_column(ForeignKey("reference_loads.id"), primary_key=True)
    authority: Mapped[str] = mapped_column(String(10), primary_key=True)
    published_on: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(20, 8))


class MonthlyCustomsRate(Base):
    """The customs rate of a month, derived at load time by the legal rule from daily rates."""

    __tablename__ = "customs_exchange_rates"

    load_id: Mapped[int] = mapped_column(ForeignKey("reference_loads.id"), primary_key=True)
    authority: Mapped[str] = mapped_column(String(10), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(20, 8))
    fixing_date: Mapped[date] = mapped_column(Date)
    published_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(500))
