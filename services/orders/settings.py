from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings, local_database_url


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    database_url: str = local_database_url("orders")
    webhook_local_targets: bool = Field(
        default=False,
        description=(
            "Accept plain-http webhook URLs and deliver to loopback or private addresses; "
            "only for local stacks and tests"
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
