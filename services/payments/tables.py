"""The payments database: one payment per order, its append-only operation log, and the ECB
reference rates amounts are reported in EUR with (loaded by services/payments/reference.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class PaymentRecord(Base):
    __tablename__ = "payments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    token: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), index=True)
    authorized_amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    captured_amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    refunded_amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    authorization_reference: Mapped[str | None] = mapped_column(String(100))
    authorized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The amount in EUR as reported to customs, with the dated rate used to convert it.
    amount_eur: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    exchange_rate: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    # Loaded only where a query asks for it (an eager-load option), never behind its back.
    operations: Mapped[list[OperationRecord]] = relationship(
        order_by="OperationRecord.sequence", lazy="raise"
    )


class OperationRecord(Base):
    __tablename__ = "payment_operations"
    __table_args__ = (UniqueConstraint("payment_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    sequence: Mapped[int]
    kind: Mapped[str] = mapped_column(String(30))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    # Unique: the database itself refuses a second capture recorded under the same key.
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    gateway_reference: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RefundIntent(Base):
    """An operator's refund, committed with its idempotency key before the processor is asked,
    then settled with the processor's answer (`outcome`); a pending one after a crash is
    settled by `refund_recovery`, which asks the processor again with the same key."""

    __tablename__ = "refund_intents"
    __table_args__ = (
        Index(
            "ix_refund_intents_pending", "requested_at", postgresql_where=text("outcome IS NULL")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_reason: Mapped[str | None] = mapped_column(String(200))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SandboxMemory(Base):
    """What the built-in sandbox processor remembers (see `sandbox_store`)."""

    __tablename__ = "sandbox_memory"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)


class CancelledOrder(Base):
    """Orders cancelled before payments saw them placed: never to be authorized."""

    __tablename__ = "cancelled_orders"

    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    cancelled_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class RateLoad(Base):
    """One load of the ECB's reference rates: the file, who loaded it, when, what it covers."""

    __tablename__ = "reference_loads"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(500))
    file_name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_by: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    covers_from: Mapped[date] = mapped_column(Date)
    covers_to: Mapped[date] = mapped_column(Date)
    row_count: Mapped[int]


class ReportingRate(Base):
    """An ECB reference rate as published: one EUR buys `rate` units of `quote`."""

    __tablename__ = "exchange_rates"

    load_id: Mapped[int] = mapped_column(ForeignKey("reference_loads.id"), primary_key=True)
    published_on: Mapped[date] = mapped_column(Date, primary_key=True)
    quote: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(20, 8))
