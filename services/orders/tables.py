"""The orders database: partners and their API keys, orders, timelines, idempotency keys."""

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
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.orders.domain import FINAL_STATUSES, OrderStatus

IN_FLIGHT_STATUSES = tuple(status for status in OrderStatus if status not in FINAL_STATUSES)
# As SQL, for the predicate of the partial index and of the queries that must match it.
IN_FLIGHT_SQL = ", ".join(f"'{status.value}'" for status in IN_FLIGHT_STATUSES)


class Base(DeclarativeBase):
    pass


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Where new deliveries go; None without a webhook. Earlier endpoints keep their own.
    webhook_endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", use_alter=True)
    )
    # Set when the endpoint was disabled after failing too long, cleared when re-enabled.
    webhook_notice: Mapped[str | None] = mapped_column(String(500))
    # The partner's quota; None: the service's default (`partner_rate_*` settings).
    rate_limit_per_second: Mapped[int | None]
    rate_limit_burst: Mapped[int | None]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Written at most once a minute per key and replica, by the upkeep job (partners.py).
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OrdersReplica(Base):
    """A running orders process, by its heartbeat: the rate limiter splits each quota
    between the live ones."""

    __tablename__ = "orders_replicas"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_partner_page", "partner_id", "created_at", "id"),
        # Only orders in flight: what the metrics sampler counts every 15 s (saga_metrics).
        Index(
            "ix_orders_in_flight",
            "status",
            "status_changed_at",
            postgresql_where=text(f"status IN ({IN_FLIGHT_SQL})"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    partner_reference: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancellation_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    # When the order entered its status, and passed its last milestone (authorized, cleared,
    # shipped, delivered); None: not since placement (created_at). For saga_metrics.
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    milestone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Neither loads by itself: the consumer path must not read a timeline or a partner per
    # event, so whoever needs them says so (`selectinload`, `joinedload`).
    timeline: Mapped[list[TimelineRecord]] = relationship(
        order_by="TimelineRecord.occurred_at", lazy="raise"
    )
    partner: Mapped[Partner] = relationship(lazy="raise")


class TimelineRecord(Base):
    __tablename__ = "order_timeline"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    source_service: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("partner_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEndpoint(Base):
    """A URL and secret a partner registered. A delivery stays bound to the endpoint it was
    created for: a new URL is a new endpoint, and only an explicit re-target moves
    deliveries to it."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    # The secret a rotation replaced: it signs too until `previous_secret_until`.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Since when every attempt failed (None after a success).
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One signed notification to a partner, retried until it is acknowledged or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
        Index(
            "ix_webhook_deliveries_endpoint_due",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
        Index("ix_webhook_deliveries_partner_log", "partner_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # While an attempt is in flight, the end of its lease: a process that died mid-attempt
    # leaves the delivery due again then.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))


class WebhookAttempt(Base):
    """One try of a delivery, as the partner's delivery log shows it."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    url: Mapped[str] = mapped_column(String(2000))
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(500))
    next_retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
