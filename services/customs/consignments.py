"""Translation between the events' order contract and the rule engine's `Consignment`."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from services.customs.domain.model import (
    Assessment,
    Buyer,
    CbecDocuments,
    Charges,
    Consignment,
    IdentityDocument,
    IdentityDocumentType,
    Item,
    Seller,
    TradeDocument,
)
from shared.events import DutiesAndTaxes, MoneyAmount, OrderDetails
from shared.money import Money


def consignment_from(
    order_id: uuid.UUID,
    ordered_at: datetime,
    order: OrderDetails,
    payment_id: uuid.UUID | None,
    *,
    accepted_at: datetime,
    payment_order_reference: str | None = None,
) -> Consignment:
    """China's three documents each from its own source (GACC Announcement 2018 No. 194): the
    order from the partner, the payment from the payments service's event (the order it
    names), the waybill from the partner's carrier when the order carries one, otherwise
    from the hub, which is then the logistics operator."""
    identity = order.buyer.identity
    reference = order.partner_reference
    return Consignment(
        order_id=order_id,
        ordered_at=ordered_at,
        accepted_at=accepted_at,
        currency=order.currency,
        buyer=Buyer(
            name=order.buyer.name,
            country=order.buyer.address.country,
            postal_code=order.buyer.address.postal_code,
            identity=(
                IdentityDocument(IdentityDocumentType(identity.document_type), identity.number)
                if identity
                else None
            ),
        ),
        seller=Seller(
            name=order.seller.name,
            country=order.seller.country,
            ioss_number=order.seller.ioss_number,
        ),
        payer_name=order.payment.payer_name,
        items=tuple(
            Item(
                sku=item.sku,
                description=item.description,
                hs_code=item.hs_code,
                quantity=item.quantity,
                unit_price=item.unit_price,
                weight_kg=item.weight_kg,
                origin_country=item.origin_country,
                # Half of the pair is no net content: the rules then hold a cosmetic for it.
                net_content=item.net_content if item.net_content_unit else None,
                net_content_unit=item.net_content_unit if item.net_content else None,
            )
            for item in order.items
        ),
        shipping_cost=order.shipping_cost,
        insurance_cost=order.insurance_cost,
        documents=CbecDocuments(
            order=TradeDocument(reference, reference),
            payment=(
                TradeDocument(str(payment_id), payment_order_reference)
                if payment_id and payment_order_reference
                else None
            ),
            logistics=(
                TradeDocument(waybill.waybill, waybill.order_reference)
                if (waybill := order.logistics_document)
                else TradeDocument(f"LGG-{order_id.hex[:12].upper()}", reference)
            ),
        ),
    )


def _amount(money: Money) -> MoneyAmount:
    return MoneyAmount(amount=money.amount, currency=money.currency)


def duties_and_taxes(charges: Charges | None, currency: str, at_checkout: bool) -> DutiesAndTaxes:
    charges = charges or Charges(*(Money.zero(currency),) * 4)
    return DutiesAndTaxes(
        duty=_amount(charges.duty),
        vat=_amount(charges.vat),
        other_taxes=_amount(charges.other_taxes),
        fees=_amount(charges.fees),
        total=_amount(charges.total),
        collected_at_checkout=at_checkout,
    )


def assessment_document(assessment: Assessment) -> dict[str, Any]:
    """The whole computation as JSON, for the declaration record and `GET /v1/declarations`:
    what `json.dumps(dataclasses.asdict(...), default=str)` would make of it, built directly
    (that round trip was a fifth of a declaration's CPU)."""
    document = _json_value(assessment)
    for name in ("charges", "charges_in_order_currency"):
        charges: Charges | None = getattr(assessment, name)
        if charges is not None:
            document[name]["total"] = {
                "amount": str(charges.total.amount),
                "currency": charges.total.currency,
            }
    return document


def _json_value(value: Any) -> Any:
    kind = type(value)
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _CONVERTERS[kind] = _converter_for(kind)
    return convert(value)


def _converter_for(kind: type) -> Callable[[Any], Any]:
    """How values of `kind` become JSON, decided once per type: an assessment document is
    a hundred-odd values of a dozen types, and asking each value what it is was most of
    the document's cost."""
    if issubclass(kind, Enum) and issubclass(kind, (str, int, float)):
        return lambda value: value.value
    if kind is type(None) or issubclass(kind, (str, int, float)):
        return lambda value: value
    if issubclass(kind, (list, tuple)):
        return lambda value: [_json_value(element) for element in value]
    if issubclass(kind, dict):
        return lambda value: {
            _json_key(key): _json_value(element) for key, element in value.items()
        }
    if dataclasses.is_dataclass(kind) and not issubclass(kind, type):
        names = tuple(field.name for field in dataclasses.fields(kind))
        return lambda value: {name: _json_value(getattr(value, name)) for name in names}
    return str


_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def _json_key(key: Any) -> str:
    """A mapping key as JSON writes it: strings as they are, numbers and constants spelled."""
    if isinstance(key, str):
        return key.value if isinstance(key, Enum) else key
    return json.dumps(key)


def reference_data_used(assessment: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the declaration stood on, from its stored assessment: each table version and
    each exchange rate (authority, month, publication day, load), and whether any table was
    a provisional extension."""
    if assessment is None:
        return None
    tables = assessment.get("reference_versions", [])
    return {
        "tables": tables,
        "exchange_rates": [
            {
                key: rate.get(key)
                for key in (
                    "authority",
                    "currency",
                    "month",
                    "rate",
                    "quotation",
                    "fixing_date",
                    "published_on",
                    "load_id",
                    "source",
                )
            }
            for rate in assessment.get("exchange_rates", [])
        ],
        "provisional": any(table.get("provisional") for table in tables),
    }
