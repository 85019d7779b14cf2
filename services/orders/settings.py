from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from services.orders.domain import OrderStatus
from services.orders.rate_limits import DEFAULT_QUOTA
from shared.settings import ServiceSettings, local_database_url

# How long an order may stay in each non-final status before it counts as stuck
# (`ehub_orders_stuck`, alert OrdersStuck). Payment and customs answer within seconds unless
# an officer holds the declaration; SHIPPED waits for its departure, IN_TRANSIT for the
# flight, the road feeder and the last mile.
DEFAULT_STATUS_OBJECTIVES = {
    OrderStatus.PENDING: timedelta(minutes=5),
    OrderStatus.PAYMENT_AUTHORIZED: timedelta(minutes=15),
    OrderStatus.CUSTOMS_HELD: timedelta(hours=4),
    OrderStatus.CUSTOMS_CLEARED: timedelta(minutes=30),
    OrderStatus.SHIPPED: timedelta(hours=48),
    OrderStatus.IN_TRANSIT: timedelta(days=7),
}


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    database_url: str = local_database_url("orders")
    webhook_local_targets: bool = Field(
        default=False,
        description=(
            "Accept plain-http webhook URLs and deliver to loopback addresses only (never "
            "elsewhere, nor a DNS lookup): for local stacks and tests"
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long one delivery attempt may take"
    )
    webhook_concurrency_per_endpoint: int = Field(
        default=4,
        ge=1,
        description="Attempts in flight at once to one partner endpoint, per process; each "
        "endpoint has its own, so a slow receiver never holds another partner's deliveries",
    )
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_first_retry_seconds: float = Field(
        default=2.0, gt=0, description="Retries wait this long, doubled at each attempt"
    )
    webhook_disable_after_seconds: float = Field(
        default=5 * 24 * 3600,
        gt=0,
        description="An endpoint whose every attempt failed for this long is disabled, "
        "with a notice on the partner's record",
    )
    webhook_poll_seconds: float = Field(
        default=0.2, gt=0, description="How often due deliveries are looked for"
    )
    partner_rate_per_second: int = Field(
        default=DEFAULT_QUOTA.rate,
        ge=1,
        description="Requests per second a partner's keys may send, unless the partner has a "
        "quota of its own (cli set-rate-limit); enforced across all replicas together",
    )
    partner_rate_burst: int = Field(
        default=DEFAULT_QUOTA.burst, ge=1, description="Requests a partner may send at once"
    )
    status_objectives: dict[OrderStatus, timedelta] = Field(
        default_factory=lambda: dict(DEFAULT_STATUS_OBJECTIVES),
        description=(
            "Objective per non-final status, JSON with ISO 8601 durations or seconds, e.g. "
            'STATUS_OBJECTIVES=\'{"CUSTOMS_HELD": "PT2H"}\'; statuses not named keep their default'
        ),
    )

    @field_validator("status_objectives", mode="after")
    @classmethod
    def _over_defaults(cls, objectives: dict[OrderStatus, timedelta]) -> dict:
        return {**DEFAULT_STATUS_OBJECTIVES, **objectives}
