from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from shared.settings import ServiceSettings, local_database_url


class CustomsSettings(ServiceSettings):
    service_name: str = "customs"
    database_url: str = local_database_url("customs")
    carrier_collection_fee_eur: Decimal = Field(
        default=Decimal("0"),
        description="Fee the carrier adds when it collects import VAT from the recipient",
    )
