from __future__ import annotations

from shared.settings import ServiceSettings, local_database_url


class FulfillmentSettings(ServiceSettings):
    service_name: str = "fulfillment"
    database_url: str = local_database_url("fulfillment")
