from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings, local_database_url

SAMPLE_RATES = Path(__file__).parent / "domain" / "data" / "exchange_rates.csv"


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    database_url: str = local_database_url("payments")
    authorization_window: timedelta = Field(
        default=timedelta(days=7), description="Uncaptured authorizations are voided after this"
    )
    expiry_check_interval_seconds: float = 30.0
    gateway_max_attempts: int = 4
    gateway_base_delay_seconds: float = 0.2
    exchange_rates_file: Path = SAMPLE_RATES
    fx_max_rate_age_days: int = Field(
        default=35, description="Older rates are not used to report amounts in EUR"
    )
