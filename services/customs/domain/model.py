"""What the rule engine reads (a `Consignment`) and what it decides (an `Assessment`).

Plain frozen dataclasses, Decimal amounts, no I/O. The service adapter builds a
`Consignment` from the OrderPlaced event and maps the `Assessment` to the customs events.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from shared.money import SUPPORTED_CURRENCIES, Money

_HS_CODE = re.compile(r"^\d{6,10}$")
NET_CONTENT_UNITS = ("ml", "g", "piece", "sheet")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class InvalidConsignment(ValueError):
    """Input that breaks the contract: the adapter validates orders before they get here."""


class Outcome(StrEnum):
    CLEARED = "CLEARED"
    HELD = "HELD"
    REJECTED = "REJECTED"


class Lane(StrEnum):
    EU_IMPORT = "EU_IMPORT"
    CN_CBEC_9610 = "CN_CBEC_9610"
    UNSUPPORTED = "UNSUPPORTED"


class DeclarationType(StrEnum):
    H7 = "H7"
    H1 = "H1"
    CBEC_9610 = "9610"


class IdentityDocumentType(StrEnum):
    CN_RESIDENT_ID = "CN_RESIDENT_ID"
    PASSPORT = "PASSPORT"


class RateAuthority(StrEnum):
    """Whose customs exchange rate applies: the EU's (home currency EUR) or China's (CNY)."""

    EU = "EU"
    CN = "CN"


HOME_CURRENCY = {RateAuthority.EU: "EUR", RateAuthority.CN: "CNY"}


class Quotation(StrEnum):
    """How a rate is quoted, as its publisher quotes it, so it is stored without re-rounding."""

    FOREIGN_PER_HOME = "FOREIGN_PER_HOME"  # ECB: 1 EUR = 1.1594 USD
    HOME_PER_FOREIGN = "HOME_PER_FOREIGN"  # CFETS: 1 USD = 6.9858 CNY


# ---- input -----------------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidConsignment(message)


def _require_amount(value: object, name: str, *, positive: bool = False) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidConsignment(f"{name} must be a finite Decimal, never a float")
    if positive:
        _require(value > 0, f"{name} must be > 0")
    else:
        _require(value >= 0, f"{name} must be >= 0")


def _require_country(value: str, name: str) -> None:
    _require(bool(_COUNTRY.match(value)), f"{name} must be an ISO 3166-1 alpha-2 code")


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    document_type: IdentityDocumentType
    number: str


@dataclass(frozen=True, slots=True)
class Buyer:
    name: str
    country: str
    identity: IdentityDocument | None = None
    # Decides special VAT territories (Canary Islands 35/38…, Åland 22…, Büsingen 78266…).
    postal_code: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.name.strip()), "buyer name is required")
        _require_country(self.country, "buyer country")


@dataclass(frozen=True, slots=True)
class Seller:
    name: str
    country: str
    ioss_number: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.name.strip()), "seller name is required")
        _require_country(self.country, "seller country")


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    description: str
    hs_code: str
    quantity: int
    unit_price: Decimal
    weight_kg: Decimal
    origin_country: str
    # Net content of one unit and its unit (ml, g, piece, sheet): decides whether cosmetics
    # are "high-end" in China (财税〔2016〕103号: per ml or g, or per piece or sheet).
    net_content: Decimal | None = None
    net_content_unit: str | None = None

    def __post_init__(self) -> None:
        _require(
            bool(_HS_CODE.match(self.hs_code)), f"hs_code {self.hs_code!r} must be 6-10 digits"
        )
        _require(
            isinstance(self.quantity, int)
            and not isinstance(self.quantity, bool)
            and self.quantity >= 1,
            "quantity must be an integer >= 1",
        )
        _require_amount(self.unit_price, "unit_price")
        _require_amount(self.weight_kg, "weight_kg", positive=True)
        if self.net_content is not None:
            _require_amount(self.net_content, "net_content", positive=True)
        _require(
            (self.net_content is None) == (self.net_content_unit is None),
            "net_content and net_content_unit are given together",
        )
        _require(
            self.net_content_unit in (None, *NET_CONTENT_UNITS),
            f"net_content_unit must be one of {', '.join(NET_CONTENT_UNITS)}",
        )
        _require_country(self.origin_country, "origin_country")

    @property
    def line_value(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def subheading(self) -> str:
        """The 6-digit HS subheading, the unit of the EU flat duty."""
        return self.hs_code[:6]


@dataclass(frozen=True, slots=True)
class TradeDocument:
    """One of China's "three documents": its own reference and the order number it names."""

    reference: str
    order_reference: str


@dataclass(frozen=True, slots=True)
class CbecDocuments:
    """Order (platform), payment (payment company) and logistics (waybill) documents."""

    order: TradeDocument | None = None
    payment: TradeDocument | None = None
    logistics: TradeDocument | None = None


@dataclass(frozen=True, slots=True)
class Consignment:
    """One order shipped as one consignment: the EU forbids splitting to stay under EUR 150."""

    order_id: uuid.UUID
    ordered_at: datetime
    currency: str
    buyer: Buyer
    seller: Seller
    payer_name: str | None
    items: tuple[Item, ...]
    shipping_cost: Decimal
    insurance_cost: Decimal
    documents: CbecDocuments = field(default_factory=CbecDocuments)
    # When customs accepts the declaration: the tax point (UCC Art 85) whose rates,
    # thresholds and tariff apply. The service sets it to the time it lodges the declaration;
    # left out, the order time stands in (as in the worked examples).
    accepted_at: datetime | None = None
    # The member state where the goods are declared for free circulation: the hub lodges at
    # Liège (BE). With `transit_to_destination` the goods travel on under transit (T1) and
    # are declared, and import VAT is due, in the buyer's member state instead.
    declared_in: str = "BE"
    transit_to_destination: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        _require(self.ordered_at.tzinfo is not None, "ordered_at must carry a timezone")
        _require(
            self.accepted_at is None or self.accepted_at.tzinfo is not None,
            "accepted_at must carry a timezone",
        )
        _require(self.currency in SUPPORTED_CURRENCIES, f"unsupported currency {self.currency!r}")
        _require(len(self.items) >= 1, "a consignment has at least one item")
        _require_amount(self.shipping_cost, "shipping_cost")
        _require_amount(self.insurance_cost, "insurance_cost")

    @property
    def tax_point(self) -> datetime:
        """The moment whose rules apply: acceptance of the declaration (UCC Art 85)."""
        return self.accepted_at or self.ordered_at

    @property
    def goods_total(self) -> Decimal:
        return sum((item.line_value for item in self.items), Decimal(0))

    @property
    def transport_and_insurance(self) -> Decimal:
        return self.shipping_cost + self.insurance_cost


# ---- output ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleFired:
    rule_id: str
    description: str
    source: str


@dataclass(frozen=True, slots=True)
class Charges:
    """Duties and taxes in one currency, each already rounded once, half-up, to the cent.

    `other_taxes` holds China's consumption tax; `fees` the carrier's collection fee, which
    is not a tax but is collected with the import VAT.
    """

    duty: Money
    vat: Money
    other_taxes: Money
    fees: Money

    def __post_init__(self) -> None:
        components = (self.duty, self.vat, self.other_taxes, self.fees)
        currencies = {money.currency for money in components}
        if len(currencies) != 1:
            raise ValueError(f"charges mix currencies {sorted(currencies)}")
        for money in components:
            if money.amount != money.rounded().amount:
                raise ValueError(f"charge {money} is not rounded to the currency's minor unit")

    @property
    def currency(self) -> str:
        return self.duty.currency

    @property
    def total(self) -> Money:
        return self.duty + self.vat + self.other_taxes + self.fees


@dataclass(frozen=True, slots=True)
class CustomsRate:
    """A monthly customs exchange rate as published, with the date the rule picks it from."""

    authority: RateAuthority
    month: date
    currency: str
    rate: Decimal
    quotation: Quotation
    fixing_date: date  # the nominal publication day the rule picks
    source: str
    published_on: date | None = None  # the publication actually used, when not the nominal day
    load_id: int | None = None  # the reference load it came from

    def to_home(self, amount: Decimal) -> Decimal:
        if self.quotation is Quotation.FOREIGN_PER_HOME:
            return amount / self.rate
        return amount * self.rate

    def from_home(self, amount: Decimal) -> Decimal:
        if self.quotation is Quotation.FOREIGN_PER_HOME:
            return amount * self.rate
        return amount / self.rate


@dataclass(frozen=True, slots=True)
class AnnualUsage:
    """The buyer's CBEC calendar-year total (CNY) before and after this order counts."""

    year: int
    before: Money
    this_order: Money

    @property
    def after(self) -> Money:
        return self.before + self.this_order


@dataclass(frozen=True, slots=True)
class Assessment:
    order_id: uuid.UUID
    outcome: Outcome
    lane: Lane
    declaration_type: DeclarationType | None
    # In the customs authority's currency: EUR for the EU lane, CNY for China. None when the
    # rules could not compute them (unsupported lane, unknown tariff code, missing rate).
    charges: Charges | None
    # The same charges converted once, component by component, into the order's currency.
    charges_in_order_currency: Charges | None
    collected_at_checkout: bool
    reasons: tuple[str, ...]
    rules_fired: tuple[RuleFired, ...]
    dangerous_goods: tuple[str, ...]
    declaration_data: dict[str, str]
    exchange_rates: tuple[CustomsRate, ...]
    cbec_annual_usage: AnnualUsage | None
    # The version of each reference table the rules used (`reference.TableVersion`).
    reference_versions: tuple = ()
