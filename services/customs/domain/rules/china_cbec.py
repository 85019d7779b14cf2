"""EU seller to a consumer in mainland China: CBEC retail import, direct purchase (9610).

Checks, each with its consequence:
- Buyer identity (name and ID number) missing or malformed: HELD until supplied.
- Payer missing: HELD. Payer not the buyer: REJECTED, because the payment document must be
  re-issued in the buyer's name before the order can be declared at all.
- Order, payment and logistics documents missing or naming different orders: HELD.
- A line without an 8-digit Chinese tariff code: HELD for classification. A code not on the
  positive list, or barred from direct purchase: REJECTED for this channel.
- Transaction above CNY 5,000: REJECTED (general trade only), except a single indivisible
  item, which may still use CBEC with full general-trade tax: HELD, because the engine does
  not carry China's MFN duty table.
- Buyer's calendar-year total above CNY 26,000 with this order: REJECTED for this channel.
Within the limits: tariff 0; VAT and consumption tax at 70 % of the statutory amount, on
the actual transaction price including freight and insurance (CNY), line by line:
VAT = base x v / (1 - c) x 70 %, consumption tax = base x c / (1 - c) x 70 %, so together
base x (c + v) / (1 - c) x 70 %.

Dates are taken in China Standard Time (UTC+8, no daylight saving): the calendar year of
the annual limit and the month of the exchange rate.
"""

from __future__ import annotations

import re
from datetime import date, timedelta, timezone
from decimal import Decimal

from services.customs.domain import sources
from services.customs.domain.model import (
    AnnualUsage,
    Charges,
    Consignment,
    DeclarationType,
    IdentityDocument,
    IdentityDocumentType,
    Item,
    RateAuthority,
)
from services.customs.domain.reference import ReferenceTables
from services.customs.domain.rules.conversion import Converter, converter_for
from services.customs.domain.rules.findings import Findings
from services.customs.domain.rules.lane_result import LaneResult
from services.customs.domain.rules.valuation import apportion
from services.customs.domain.tables.china_cbec import CbecLimits, PositiveList, PositiveListLine
from services.customs.domain.tables.exchange_rates import ExchangeRates
from services.customs.domain.text import words
from shared.money import Money, round_money

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"
_PASSPORT = re.compile(r"^[A-Z0-9]{5,32}$")


def normalised_document_number(number: str) -> str:
    return "".join(char for char in number.upper() if char.isalnum())


def is_valid_identity(identity: IdentityDocument) -> bool:
    """Resident ID: 18 characters with the GB 11643-1999 (ISO 7064 MOD 11-2) check character."""
    number = normalised_document_number(identity.number)
    if identity.document_type is IdentityDocumentType.PASSPORT:
        return bool(_PASSPORT.match(number))
    if not _RESIDENT_ID.match(number):
        return False
    digits = zip(number[:17], _RESIDENT_ID_WEIGHTS, strict=True)
    total = sum(int(digit) * weight for digit, weight in digits)
    return number[17] == _RESIDENT_ID_CHECK[total % 11]


def _same_person(a: str, b: str) -> bool:
    """Same words in any order and spacing: "ZHANG Wei", "Wei Zhang" and "张伟" vs "张 伟"."""
    a_words, b_words = words(a), words(b)
    return sorted(a_words) == sorted(b_words) or "".join(a_words) == "".join(b_words)


def _check_identity_and_payer(consignment: Consignment, findings: Findings) -> None:
    buyer, identity = consignment.buyer, consignment.buyer.identity
    if identity is None:
        findings.hold(
            "CN-ID-MISSING",
            "buyer identity (ID type and number) is required",
            sources.CBEC_SUPERVISION,
        )
    elif not is_valid_identity(identity):
        findings.hold(
            "CN-ID-INVALID",
            f"buyer {identity.document_type} number fails its format or check digit",
            sources.CBEC_SUPERVISION,
        )
    else:
        findings.fire(
            "CN-ID",
            f"buyer {buyer.name!r} identified by {identity.document_type}",
            sources.CBEC_SUPERVISION,
        )

    payer = consignment.payer_name
    if payer is None:
        findings.hold(
            "CN-PAYER-MISSING",
            "the payment document does not name the payer",
            sources.CBEC_SUPERVISION,
        )
    elif not _same_person(payer, buyer.name):
        findings.reject(
            "CN-PAYER-NOT-BUYER",
            f"payer {payer!r} is not the buyer {buyer.name!r}: the buyer must pay for a CBEC order",
            sources.CBEC_SUPERVISION,
        )
    else:
        findings.fire("CN-PAYER", "payer is the buyer", sources.CBEC_SUPERVISION)


def _check_documents(consignment: Consignment, findings: Findings) -> None:
    documents = consignment.documents
    named = {
        "order": documents.order,
        "payment": documents.payment,
        "logistics": documents.logistics,
    }
    missing = [kind for kind, document in named.items() if document is None]
    for kind in missing:
        findings.hold(
            "CN-DOCS-MISSING",
            f"{kind} document missing: the three documents must all be transmitted",
            sources.CBEC_SUPERVISION,
        )
    if documents.order is None:
        return
    expected = documents.order.order_reference
    mismatched = False
    for kind, document in named.items():
        if document is not None and document.order_reference != expected:
            mismatched = True
            findings.hold(
                "CN-DOCS-MISMATCH",
                f"{kind} document {document.reference} names order {document.order_reference}, "
                f"the order document names {expected}",
                sources.CBEC_SUPERVISION,
            )
    if not missing and not mismatched:
        findings.fire(
            "CN-DOCS",
            f"order, payment and logistics documents agree on order {expected}",
            sources.CBEC_SUPERVISION,
        )


def _positive_list(
    consignment: Consignment, positive_list: PositiveList, findings: Findings
) -> list[PositiveListLine] | None:
    """The positive-list line of every item, or None when some item cannot use this channel."""
    lines: list[PositiveListLine] = []
    for item in consignment.items:
        if len(item.hs_code) < 8:
            findings.hold(
                "CN-CLASSIFY",
                f"{item.sku}: {item.hs_code} needs China's 8-digit tariff code "
                "to be checked against the positive list",
                sources.CBEC_POSITIVE_LIST,
            )
            continue
        line = positive_list.line(item.hs_code)
        if line is None:
            findings.reject(
                "CN-NOT-ON-POSITIVE-LIST",
                f"{item.sku}: {item.hs_code[:8]} is not on the CBEC positive list (2022 edition)",
                sources.CBEC_POSITIVE_LIST,
            )
        elif not line.direct_purchase_allowed:
            findings.reject(
                "CN-NOT-FOR-DIRECT-PURCHASE",
                f"{item.sku}: {line.code} {line.description} "
                "may not enter by direct-purchase parcel (9610)",
                sources.CBEC_POSITIVE_LIST,
            )
        else:
            findings.fire(
                "CN-POSITIVE-LIST",
                f"{item.sku}: {line.code} {line.description}",
                sources.CBEC_POSITIVE_LIST,
            )
            lines.append(line)
    return lines if len(lines) == len(consignment.items) else None


def _within_limits(
    consignment: Consignment,
    value: Money,
    usage: AnnualUsage,
    limits: CbecLimits,
    findings: Findings,
) -> bool:
    """True when the preferential CBEC tax applies; records the limit that stops it otherwise."""
    annual_limit, transaction_limit = limits.annual_limit_cny, limits.transaction_limit_cny
    if usage.after.amount > annual_limit:
        findings.reject(
            "CN-LIMIT-ANNUAL",
            f"buyer's {usage.year} total would be {usage.after} "
            f"(so far {usage.before}, this order {value}), "
            f"above the CNY {annual_limit} annual limit: general trade only",
            sources.CBEC_LIMITS,
        )
        return False
    if value.amount <= transaction_limit:
        findings.fire(
            "CN-LIMITS",
            f"transaction {value} ≤ CNY {transaction_limit}; "
            f"{usage.year} total {usage.after} ≤ CNY {annual_limit}",
            sources.CBEC_LIMITS,
        )
        return True
    items = consignment.items
    if len(items) == 1 and items[0].quantity == 1:
        findings.hold(
            "CN-SINGLE-INDIVISIBLE-ITEM",
            f"single indivisible item of {value} above the CNY {transaction_limit} "
            "transaction limit: CBEC allowed at full general-trade tax, counted in the annual "
            "total; held because the engine does not carry China's MFN duty rates",
            sources.CBEC_LIMITS,
        )
    else:
        findings.reject(
            "CN-LIMIT-TRANSACTION",
            f"transaction {value} is above the CNY {transaction_limit} limit: general trade only",
            sources.CBEC_LIMITS,
        )
    return False


def _is_high_end_cosmetic(item: Item, converter: Converter, limits: CbecLimits) -> bool:
    """CNY 10 or more per ml or g, or CNY 15 or more per piece or sheet (财税〔2016〕103号);
    only called for items whose net content is known."""
    assert item.net_content is not None
    price_per_unit = converter.to_home(item.unit_price) / item.net_content
    if item.net_content_unit in ("ml", "g"):
        return price_per_unit >= limits.high_end_cosmetics_cny_per_ml_or_g
    return price_per_unit >= limits.high_end_cosmetics_cny_per_piece


def _check_net_content(
    consignment: Consignment, lines: list[PositiveListLine], findings: Findings
) -> bool:
    """Cosmetics taxed only when high-end need their net content: without it, HELD for data
    rather than taxed at a guess."""
    complete = True
    for item, line in zip(consignment.items, lines, strict=True):
        if line.consumption_tax_high_end_only and item.net_content is None:
            findings.hold(
                "CN-COSMETIC-NET-CONTENT",
                f"{item.sku}: {line.code} {line.description} is taxed as a high-end cosmetic "
                "from CNY 10 per ml or g or CNY 15 per piece or sheet: the item's net content "
                "and unit are needed",
                sources.CHINA_CONSUMPTION_TAX,
            )
            complete = False
    return complete


def _taxes(
    consignment: Consignment,
    lines: list[PositiveListLine],
    converter: Converter,
    limits: CbecLimits,
    findings: Findings,
) -> Charges:
    tax_share = limits.tax_share_within_limits
    line_values = [item.line_value for item in consignment.items]
    shares = apportion(consignment.transport_and_insurance, line_values)
    vat, consumption_tax = Decimal(0), Decimal(0)
    for item, line, value, share in zip(consignment.items, lines, line_values, shares, strict=True):
        base = converter.to_home(value + share)
        applies = not line.consumption_tax_high_end_only or _is_high_end_cosmetic(
            item, converter, limits
        )
        ct_percent = line.consumption_tax_percent if applies else Decimal(0)
        ct, v = ct_percent / 100, line.vat_percent / 100
        vat += base * v / (1 - ct) * tax_share
        consumption_tax += base * ct / (1 - ct) * tax_share
        composite = (ct + v) / (1 - ct) * tax_share
        findings.fire(
            "CN-TAX-RATE",
            f"{item.sku}: ({ct_percent} % consumption tax + {line.vat_percent} % VAT) "
            f"/ (1 - {ct_percent} %) x 70 % = {composite:.4%} of {round_money(base, 'CNY')} CNY",
            sources.CHINA_CONSUMPTION_TAX if ct else sources.CHINA_VAT,
        )
    findings.fire(
        "CN-TAX",
        "tariff 0 %, VAT and consumption tax at 70 % of the statutory amount",
        sources.CBEC_TAX_POLICY,
    )
    return Charges(
        duty=Money.zero("CNY").rounded(),
        vat=Money(round_money(vat, "CNY"), "CNY"),
        other_taxes=Money(round_money(consumption_tax, "CNY"), "CNY"),
        fees=Money.zero("CNY").rounded(),
    )


def _declaration_data(consignment: Consignment, value: Money) -> dict[str, str]:
    documents = consignment.documents
    identity = consignment.buyer.identity
    return {
        "customs supervision mode": DeclarationType.CBEC_9610.value,
        "dutiable value (transaction price incl. freight and insurance)": str(value),
        "tariff codes": ", ".join(item.hs_code for item in consignment.items),
        "order document": documents.order.reference if documents.order else "missing",
        "payment document": documents.payment.reference if documents.payment else "missing",
        "logistics document": documents.logistics.reference if documents.logistics else "missing",
        "buyer identity document": identity.document_type.value if identity else "missing",
    }


def china_day(consignment: Consignment) -> date:
    """The day in China the declaration is accepted (the tax point)."""
    return consignment.tax_point.astimezone(CHINA_STANDARD_TIME).date()


def assess_china_cbec(
    consignment: Consignment,
    findings: Findings,
    *,
    fx: ExchangeRates,
    tables: ReferenceTables,
    year_to_date_cny: Decimal,
) -> LaneResult:
    day = china_day(consignment)
    positive_list = findings.use(
        tables.positive_list, day, "CN-TABLES-OUT-OF-DATE", sources.CBEC_POSITIVE_LIST
    )
    limits = findings.use(tables.cbec_limits, day, "CN-TABLES-OUT-OF-DATE", sources.CBEC_LIMITS)
    _check_identity_and_payer(consignment, findings)
    _check_documents(consignment, findings)
    lines = None if positive_list is None else _positive_list(consignment, positive_list, findings)
    converter = converter_for(RateAuthority.CN, consignment.currency, day, fx, findings)
    if converter is None or limits is None:
        return LaneResult(declaration_type=DeclarationType.CBEC_9610)

    value = converter.home_money(consignment.goods_total + consignment.transport_and_insurance)
    usage = AnnualUsage(year=day.year, before=Money(year_to_date_cny, "CNY"), this_order=value)
    preferential = _within_limits(consignment, value, usage, limits, findings)
    charges = (
        _taxes(consignment, lines, converter, limits, findings)
        if preferential and lines is not None and _check_net_content(consignment, lines, findings)
        else None
    )
    return LaneResult(
        declaration_type=DeclarationType.CBEC_9610,
        charges=charges,
        declaration_data=_declaration_data(consignment, value),
        converter=converter,
        annual_usage=usage,
    )
