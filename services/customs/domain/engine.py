"""The customs rule engine: one consignment in, one assessment out, no I/O.

Order of evaluation: lane, denied parties, prohibited and restricted goods, dangerous goods,
then the lane's fiscal rules. Every rule runs, so an assessment lists every reason at
once rather than the first one found.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from services.customs.domain import sources
from services.customs.domain.model import (
    Assessment,
    Consignment,
    IdentityDocument,
    Lane,
)
from services.customs.domain.reference import ReferenceTables
from services.customs.domain.rules.china_cbec import assess_china_cbec, normalised_document_number
from services.customs.domain.rules.dangerous_goods import check_dangerous_goods
from services.customs.domain.rules.eu_import import assess_eu_import
from services.customs.domain.rules.findings import Findings
from services.customs.domain.rules.lane_result import LaneResult
from services.customs.domain.rules.lanes import determine_lane
from services.customs.domain.rules.screening import screen_goods, screen_parties
from services.customs.domain.tables.exchange_rates import ExchangeRates
from shared.money import Money

NO_FEE = Money.zero("EUR")


def assess(
    consignment: Consignment,
    buyer_year_to_date_cny: Decimal,
    *,
    fx: ExchangeRates,
    tables: ReferenceTables,
    carrier_collection_fee: Money = NO_FEE,
) -> Assessment:
    """Decide whether `consignment` clears, under which lane and declaration, and what it owes.

    `buyer_year_to_date_cny` is the buyer's CBEC total already cleared in the calendar year of
    the order (China time), kept by the service under `buyer_identity_key`; it is ignored
    outside the China lane. `fx` supplies the monthly customs exchange rates, `tables` every
    other reference table; the versions used are listed in `reference_versions`.
    `carrier_collection_fee` (EUR) is added when import VAT is collected from the buyer.
    """
    if (
        not isinstance(buyer_year_to_date_cny, Decimal)
        or not buyer_year_to_date_cny.is_finite()
        or buyer_year_to_date_cny < 0
    ):
        raise ValueError("buyer_year_to_date_cny must be a finite Decimal >= 0")
    if carrier_collection_fee.currency != "EUR" or carrier_collection_fee.amount < 0:
        raise ValueError("carrier_collection_fee must be a non-negative EUR amount")

    findings = Findings()
    territories = findings.use(
        tables.vat_territories,
        consignment.tax_point.astimezone(UTC).date(),
        "LANE-TERRITORIES-MISSING",
        sources.VAT_TERRITORIES,
    )
    territory = (
        None
        if territories is None
        else territories.place(consignment.buyer.country, consignment.buyer.postal_code)
    )
    lane = determine_lane(consignment, findings, territory)
    findings.fire(
        "TAX-POINT",
        f"declaration accepted {consignment.tax_point.isoformat()} (order placed "
        f"{consignment.ordered_at.isoformat()}): the rates, thresholds and tables of that day "
        "apply",
        sources.TAX_POINT,
    )
    # Screening lists apply on the calendar day (UTC) the declaration is accepted.
    day = consignment.tax_point.astimezone(UTC).date()
    parties = findings.use(tables.denied_parties, day, "SCREEN-LIST-MISSING", sources.SANCTIONS)
    if parties is not None:
        screen_parties(consignment, parties, findings)
    prohibitions = findings.use(tables.restricted_goods, day, "PR-LIST-MISSING", sources.HUB_LANES)
    restricted = prohibitions is not None and screen_goods(
        consignment, lane, prohibitions, findings
    )
    dangerous = findings.use(
        tables.dangerous_goods, day, "DG-TABLE-MISSING", sources.LITHIUM_BATTERIES
    )
    dangerous_goods = (
        () if dangerous is None else check_dangerous_goods(consignment, dangerous, findings)
    )

    if lane is Lane.EU_IMPORT:
        result = assess_eu_import(
            consignment,
            findings,
            fx=fx,
            tables=tables,
            territory=territory,
            collection_fee=carrier_collection_fee,
            restricted_goods=restricted,
        )
    elif lane is Lane.CN_CBEC_9610:
        result = assess_china_cbec(
            consignment, findings, fx=fx, tables=tables, year_to_date_cny=buyer_year_to_date_cny
        )
    else:
        result = LaneResult()

    return Assessment(
        order_id=consignment.order_id,
        outcome=findings.outcome,
        lane=lane,
        declaration_type=result.declaration_type,
        charges=result.charges,
        charges_in_order_currency=result.charges_in_order_currency,
        collected_at_checkout=result.collected_at_checkout,
        reasons=findings.reasons,
        rules_fired=tuple(findings.rules_fired),
        dangerous_goods=dangerous_goods,
        declaration_data=result.declaration_data,
        exchange_rates=result.exchange_rates,
        cbec_annual_usage=result.annual_usage,
        reference_versions=tuple(findings.versions_used.values()),
    )


def buyer_identity_key(identity: IdentityDocument) -> str:
    """Key of a buyer's CBEC running total: document type and number, case and separators folded.

    The same person ordering as "110105 19491231 002x" and "11010519491231002X" gets one total.
    """
    return f"{identity.document_type.value}:{normalised_document_number(identity.number)}"
