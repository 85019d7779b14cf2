from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from shared.reference_files import SHIPPED_ECB_FILE
from shared.settings import ServiceSettings, local_database_url


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    database_url: str = local_database_url("payments")
    authorization_window: timedelta = Field(
        default=timedelta(days=7), description="Uncaptured authorizations are voided after this"
    )
    expiry_check_interval_seconds: float = 30.0
    gateway_max_attempts: int = 4
    gateway_base_delay_seconds: float = 0.2
    refund_recovery_grace_seconds: float = Field(
        default=5.0,
        description="A refund intent pending this long is one a crash left: the recovery job "
        "asks the processor again with its key",
    )
    refund_recovery_interval_seconds: float = 2.0
    ecb_rates_file: Path = Field(
        default=SHIPPED_ECB_FILE,
        description="The ECB's eurofxref-hist file `python -m services.payments.reference load "
        "ecb-rates` reads by default; in production the ECB's published file",
    )
    fx_max_rate_age_days: int = Field(
        default=35, description="Older rates are not used to report amounts in EUR"
    )
