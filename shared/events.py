"""Event contracts shared by all services.

Every event travels in a CloudEvents 1.0 envelope (`Envelope`) with a
`schemaversion` extension attribute. One topic per producing service; the
partition key is the order id so one order's events stay in order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.fields import (
    MAX_MONEY,
    CountryCode,
    Email,
    HsCode,
    Line,
    MoneyString,
    Paragraph,
    Quantity,
    decimal_string,
)
from shared.money import SUPPORTED_CURRENCIES

SPEC_VERSION = "1.0"
TYPE_PREFIX = "be.liege-ehub."


class Topics:
    ORDERS = "orders.events"
    PAYMENTS = "payments.events"
    CUSTOMS = "customs.events"
    FULFILLMENT = "fulfillment.events"

    ALL = (ORDERS, PAYMENTS, CUSTOMS, FULFILLMENT)


def dead_letter_topic(consumer_group: str) -> str:
    return f"{consumer_group}.dlq"


def dead_letter_resolutions_topic(consumer_group: str) -> str:
    """What became of each dead letter of `consumer_group` (replayed, discarded), by letter id."""
    return f"{dead_letter_topic(consumer_group)}.resolutions"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone")
    return value.astimezone(UTC)


def _currency(value: str) -> str:
    if value not in SUPPORTED_CURRENCIES:
        raise ValueError(f"unsupported ISO 4217 currency {value!r}")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
CurrencyCode = Annotated[str, AfterValidator(_currency)]
# What services compute and exchange (duties on top of an order's total, say): a Numeric(18, 4).
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
# A unit's weight, and the most an order may weigh (its parcel's Numeric(12, 3) holds it).
WeightString = decimal_string(4, 3, positive=True)
MAX_ORDER_WEIGHT_KG = Decimal(100_000)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    # Tolerant reader: a consumer ignores fields added by a newer producer; breaking changes
    # bump `schema_version` instead.
    model_config = ConfigDict(extra="ignore", frozen=True)


class MoneyAmount(Contract):
    amount: Amount
    currency: CurrencyCode


# ---- the order, as partners place it -------------------------------------------------


class Address(Contract):
    line1: Line = Field(min_length=1, max_length=200)
    line2: Line | None = Field(default=None, max_length=200)
    city: Line = Field(min_length=1, max_length=100)
    postal_code: Line = Field(min_length=1, max_length=20)
    region: Line | None = Field(default=None, max_length=100)
    country: CountryCode


class IdentityDocument(Contract):
    """Buyer identity required by China's cross-border retail import (name + ID number)."""

    document_type: Literal["CN_RESIDENT_ID", "PASSPORT"]
    number: Line = Field(min_length=5, max_length=32)


class Buyer(Contract):
    name: Line = Field(min_length=1, max_length=200)
    email: Email
    address: Address
    identity: IdentityDocument | None = None


class Seller(Contract):
    name: Line = Field(min_length=1, max_length=200)
    country: CountryCode
    ioss_number: str | None = Field(default=None, pattern=r"^IM[0-9]{10}$")


class OrderItem(Contract):
    sku: Line = Field(min_length=1, max_length=64)
    description: Paragraph = Field(min_length=3, max_length=500)
    hs_code: HsCode
    quantity: Quantity
    unit_price: MoneyString
    weight_kg: WeightString
    origin_country: CountryCode
    # Net content of one unit and its unit: China taxes high-end cosmetics per ml or g, or per
    # piece or sheet (财税〔2016〕103号); without it a cosmetic is held for the data.
    net_content: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)] | None = None
    net_content_unit: Literal["ml", "g", "piece", "sheet"] | None = None


class LogisticsDocument(Contract):
    """China CBEC: the logistics company's waybill and the order it names (GACC Announcement
    2018 No. 194), when the partner's own carrier issues it."""

    waybill: str = Field(min_length=3, max_length=50)
    order_reference: str = Field(min_length=1, max_length=100)


class PaymentInstruction(Contract):
    token: Line = Field(min_length=3, max_length=100)
    payer_name: Line | None = Field(default=None, max_length=200)


class OrderDetails(Contract):
    """What an order is: shared by the partner API and the OrderPlaced event.

    Its total (goods, shipping and insurance) is at most 999999999.9999 in its currency, and
    its items weigh at most 100000 kg together.
    """

    partner_reference: Line = Field(min_length=1, max_length=100)
    buyer: Buyer
    seller: Seller
    items: list[OrderItem] = Field(min_length=1, max_length=200)
    currency: CurrencyCode
    shipping_cost: MoneyString
    insurance_cost: MoneyString
    payment: PaymentInstruction
    logistics_document: LogisticsDocument | None = None

    @field_validator("items")
    @classmethod
    def _bounded_items(cls, items: list[OrderItem]) -> list[OrderItem]:
        if sum(item.unit_price * item.quantity for item in items) > MAX_MONEY:
            raise PydanticCustomError(
                "order_too_large", "the goods total more than {maximum}", {"maximum": MAX_MONEY}
            )
        if sum(item.weight_kg * item.quantity for item in items) > MAX_ORDER_WEIGHT_KG:
            raise PydanticCustomError(
                "order_too_heavy",
                "the items weigh more than {maximum} kg together",
                {"maximum": MAX_ORDER_WEIGHT_KG},
            )
        return items

    @model_validator(mode="after")
    def _bounded_total(self) -> OrderDetails:
        if self.order_total > MAX_MONEY:
            raise PydanticCustomError(
                "order_too_large", "the order totals more than {maximum}", {"maximum": MAX_MONEY}
            )
        return self

    @property
    def goods_total(self) -> Decimal:
        return sum((item.unit_price * item.quantity for item in self.items), Decimal(0))

    @property
    def order_total(self) -> Decimal:
        return self.goods_total + self.shipping_cost + self.insurance_cost


# ---- events ---------------------------------------------------------------------------


class Event(Contract):
    """Base of every event payload; `order_id` is the envelope subject and partition key."""

    topic: ClassVar[str]
    schema_version: ClassVar[int] = 1

    order_id: uuid.UUID

    @classmethod
    def type_name(cls) -> str:
        return TYPE_PREFIX + cls.__name__


class OrderPlaced(Event):
    topic = Topics.ORDERS
    partner_id: uuid.UUID
    placed_at: UtcDatetime
    order: OrderDetails


class OrderCancellationRequested(Event):
    """The partner asked to cancel. Fulfilment, which knows whether the goods left, answers."""

    topic = Topics.ORDERS
    reason: str


class ExchangeRateUsed(Contract):
    pair: str = Field(examples=["CNY/EUR"])
    rate: Decimal
    rate_date: date
    source: str


class PaymentAuthorized(Event):
    topic = Topics.PAYMENTS
    payment_id: uuid.UUID
    amount: MoneyAmount
    amount_in_eur: MoneyAmount | None = Field(
        default=None, description="The same amount in EUR, converted once at a dated rate"
    )
    exchange_rate: ExchangeRateUsed | None = None
    order_reference: str | None = Field(
        default=None,
        max_length=100,
        description="The order the payment names (partner_reference), as the payment company "
        "reports it: China's payment document of the three",
    )


class PaymentDeclined(Event):
    topic = Topics.PAYMENTS
    payment_id: uuid.UUID
    reason: str


class PaymentCaptured(Event):
    topic = Topics.PAYMENTS
    payment_id: uuid.UUID
    amount: MoneyAmount


class PaymentCaptureFailed(Event):
    topic = Topics.PAYMENTS
    payment_id: uuid.UUID
    reason: str


class PaymentVoided(Event):
    topic = Topics.PAYMENTS
    payment_id: uuid.UUID
    reason: str


class PaymentAuthorizationExpired(Event):
    """The authorization outlived its window uncaptured and was voided."""

    topic = Topics.PAYMENTS
    payment_id: uuid.UUID
    expired_at: UtcDatetime


class PaymentRefunded(Event):
    topic = Topics.PAYMENTS
    payment_id: uuid.UUID
    amount: MoneyAmount
    reason: str


class DutiesAndTaxes(Contract):
    """What customs charges on the goods, in the order's currency."""

    duty: MoneyAmount
    vat: MoneyAmount
    other_taxes: MoneyAmount
    fees: MoneyAmount = Field(description="Carrier's fee for collecting import VAT, if any")
    total: MoneyAmount
    collected_at_checkout: bool = Field(
        description="True when the buyer already paid these at checkout (e.g. IOSS VAT)"
    )


class CustomsCleared(Event):
    topic = Topics.CUSTOMS
    declaration_id: uuid.UUID
    declaration_type: str
    lane: str
    duties_and_taxes: DutiesAndTaxes
    dangerous_goods: list[str] = Field(default_factory=list)
    rules_applied: list[str] = Field(default_factory=list)


class CustomsRejected(Event):
    topic = Topics.CUSTOMS
    declaration_id: uuid.UUID
    reasons: list[str] = Field(min_length=1)


class CustomsHeld(Event):
    topic = Topics.CUSTOMS
    declaration_id: uuid.UUID
    reasons: list[str] = Field(min_length=1)


class ShipmentReceived(Event):
    topic = Topics.FULFILLMENT
    shipment_id: uuid.UUID
    hub: str


class ShipmentDispatched(Event):
    topic = Topics.FULFILLMENT
    shipment_id: uuid.UUID
    house_awb: str
    flight_number: str
    destination: str
    departs_at: UtcDatetime


class ShipmentTracked(Event):
    """A step of the shipment's journey after booking (consolidated, departed, ... delivered)."""

    topic = Topics.FULFILLMENT
    shipment_id: uuid.UUID
    status: str = Field(examples=["DEPARTED", "DELIVERED"])
    scan_code: str | None = None
    location: str | None = None
    reason: str | None = None
    at: UtcDatetime


class ShipmentException(Event):
    """The hub cannot deliver the shipment (damaged, lost, refused): it is returned, not sent."""

    topic = Topics.FULFILLMENT
    shipment_id: uuid.UUID
    reason: str


class FulfilmentCancelled(Event):
    """Answer to a cancellation request: nothing was or will be shipped for the order."""

    topic = Topics.FULFILLMENT
    shipment_id: uuid.UUID | None = None
    reason: str


class FulfilmentCancellationRefused(Event):
    """Answer to a cancellation request: the goods already left the hub."""

    topic = Topics.FULFILLMENT
    shipment_id: uuid.UUID
    reason: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name(): cls
    for cls in (
        OrderPlaced,
        OrderCancellationRequested,
        PaymentAuthorized,
        PaymentDeclined,
        PaymentCaptured,
        PaymentCaptureFailed,
        PaymentVoided,
        PaymentRefunded,
        PaymentAuthorizationExpired,
        CustomsCleared,
        CustomsRejected,
        CustomsHeld,
        ShipmentReceived,
        ShipmentDispatched,
        ShipmentTracked,
        ShipmentException,
        FulfilmentCancelled,
        FulfilmentCancellationRefused,
    )
}


# ---- the envelope ---------------------------------------------------------------------


class Envelope(BaseModel):
    """CloudEvents 1.0 structured-mode envelope with a `schemaversion` extension."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = SPEC_VERSION
    id: uuid.UUID
    source: str = Field(min_length=1)
    type: str
    time: UtcDatetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    schemaversion: int = Field(ge=1)
    data: dict[str, Any]

    @classmethod
    def wrap(cls, event: Event, source: str, *, event_id: uuid.UUID | None = None) -> Envelope:
        return cls(
            id=event_id or uuid.uuid4(),
            source=source,
            type=event.type_name(),
            time=utcnow(),
            subject=str(event.order_id),
            schemaversion=event.schema_version,
            data=event.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)

    def event(self) -> Event:
        """Parse `data` into its contract; raises `UnknownEventType` or `ValidationError`."""
        try:
            contract = EVENT_TYPES[self.type]
        except KeyError:
            raise UnknownEventType(self.type) from None
        if self.schemaversion > contract.schema_version:
            raise UnknownEventType(f"{self.type} schema version {self.schemaversion}")
        return contract.model_validate(self.data)


class UnknownEventType(LookupError):
    pass
