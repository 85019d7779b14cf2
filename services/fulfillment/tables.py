"""The fulfilment database: parcels announced by orders, and the shipments the hub handles."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    Sequence,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


house_awb_serials = Sequence("house_awb_serial", metadata=Base.metadata, start=1)
master_awb_serials = Sequence("master_awb_serial", metadata=Base.metadata, start=1_000_000)
uld_serials = Sequence("uld_serial", metadata=Base.metadata, start=1)


class Parcel(Base):
    """What the hub knows of an order before it may ship: the goods, clearance, payment."""

    __tablename__ = "parcels"

    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    destination_country: Mapped[str | None] = mapped_column(String(2))
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    dangerous_goods: Mapped[list[str]] = mapped_column(JSONB, default=list)
    announced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set once the order is cancelled: nothing is created or booked for it afterwards.
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancellation_reason: Mapped[str | None] = mapped_column(Text)


class UnitLoadRecord(Base):
    """A ULD built up for one departure, until the first of its shipments departs."""

    __tablename__ = "ulds"
    __table_args__ = (
        Index("ix_ulds_building", "departs_at", postgresql_where=text("departed_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(3))
    leg_id: Mapped[str] = mapped_column(String(40))
    departs_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    destination: Mapped[str] = mapped_column(String(3))
    dangerous_goods: Mapped[bool]
    # What its shipments weigh while it is built up: claimed by each booking into it,
    # released by a shipment cancelled or in exception, so no booking adds them up.
    net_weight_kg: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    departed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShipmentRecord(Base):
    __tablename__ = "shipments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    destination: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(30), index=True)
    status_before_exception: Mapped[str | None] = mapped_column(String(30))
    exception_reason: Mapped[str | None] = mapped_column(String(500))
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    house_awb: Mapped[str | None] = mapped_column(String(12), unique=True)
    master_awb: Mapped[str | None] = mapped_column(String(12))
    leg_id: Mapped[str | None] = mapped_column(String(40))
    departs_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrives_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Checked at commit: a batch books shipments into ULDs it creates, and its one UPDATE of
    # the shipments (`shared.db.write_changed_rows`) runs before the flush inserts those.
    uld_id: Mapped[str | None] = mapped_column(
        ForeignKey("ulds.id", deferrable=True, initially="DEFERRED"), index=True
    )
    # Never loaded; declared so that the flush inserts a new ULD before the shipment in it.
    uld: Mapped[UnitLoadRecord | None] = relationship(lazy="raise")
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The W3C trace context (traceparent/tracestate) the shipment was created in, the order's:
    # later scans, the hub clock's and the operators', continue the order's trace from it.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    # The hub clock's bookkeeping, so that it finds due shipments without reading histories:
    # the last event's moment and, in hub time from there, when the next automatic scan falls.
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_scan_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


def next_serial(sequence: Sequence):
    return sequence.next_value().cast(BigInteger)
