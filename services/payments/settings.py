from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from shared.settings import ServiceSettings, local_database_url


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    database_url: str = local_database_url("payments")
    authorization_window: timedelta = Field(
        default=timedelta(days=7), description="Uncaptured authorizations are voided after this"
    )
    gateway_max_attempts: int = 4
    gateway_base_delay_seconds: float = 0.2
