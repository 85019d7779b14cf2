from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field

from shared.reference_files import SHIPPED_ECB_FILE
from shared.settings import ServiceSettings, local_database_url


class CustomsSettings(ServiceSettings):
    service_name: str = "customs"
    database_url: str = local_database_url("customs")
    carrier_collection_fee_eur: Decimal = Field(
        default=Decimal("0"),
        description="Fee the carrier adds when it collects import VAT from the recipient",
    )
    ecb_rates_file: Path = Field(
        default=SHIPPED_ECB_FILE,
        description="The ECB's eurofxref-hist file `load ecb-rates` reads by default; in "
        "production the ECB's published file, fetched by the operator's job",
    )
    reference_check_seconds: float = Field(
        default=5.0, gt=0, description="How often the consumer looks for a new reference load"
    )
