from __future__ import annotations

from shared.settings import ServiceSettings, local_database_url


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    database_url: str = local_database_url("orders")
