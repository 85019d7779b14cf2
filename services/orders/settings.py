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
