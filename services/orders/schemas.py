"""Request and response bodies of the partner API (v1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from shared.events import CurrencyCode, OrderDetails
from shared.fields import Paragraph
from shared.money import SUPPORTED_CURRENCIES


# `OrderDetails` with the currencies taken listed as an enum. The enum stays out of the event
# contracts, whose compatibility gate would take each new currency for a change of type.
class OrderRequest(OrderDetails):
    """An order as a partner places it.

    Its total (goods, shipping and insurance) is at most 999999999.9999 in its currency, and
    its items weigh at most 100000 kg together.
    """

    currency: Annotated[
        CurrencyCode, Field(json_schema_extra={"enum": sorted(SUPPORTED_CURRENCIES)})
    ]


class Totals(BaseModel):
    goods: Decimal
    shipping: Decimal
    insurance: Decimal
    total: Decimal
    currency: str


class TimelineItem(BaseModel):
    event_type: str = Field(examples=["PaymentAuthorized"])
    occurred_at: datetime
    source_service: str = Field(examples=["payments"])
    detail: dict[str, object]


class OrderResponse(BaseModel):
    id: uuid.UUID
    partner_reference: str
    status: str = Field(examples=["PENDING"])
    totals: Totals
    created_at: datetime
    updated_at: datetime
    cancellation_requested_at: datetime | None = Field(
        description="Set while a cancellation awaits the hub's answer"
    )
    timeline: list[TimelineItem]


class CancelRequest(BaseModel):
    reason: Paragraph = Field(min_length=3, max_length=500, examples=["buyer changed their mind"])


class OrderPage(BaseModel):
    items: list[OrderResponse]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )
