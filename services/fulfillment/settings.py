from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from shared.settings import ServiceSettings, local_database_url


class FulfillmentSettings(ServiceSettings):
    service_name: str = "fulfillment"
    database_url: str = local_database_url("fulfillment")
    hub_clock_factor: Decimal = Field(
        default=Decimal(1),
        ge=0,
        description=(
            "How much faster than real time booked shipments advance by themselves (env "
            "HUB_CLOCK_FACTOR): 1 follows the timetable in real time, 3600 makes each hub hour "
            "a second, 0 turns the automatic advance off so only operators' scans move them"
        ),
    )
