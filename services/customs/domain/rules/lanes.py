"""Which customs lane an order takes through the hub, decided by where seller and buyer are.

- EU import: a seller outside the EU selling to a consumer in an EU member state; the
  goods are released for free circulation in the EU.
- China CBEC export: a seller in the EU selling to a consumer in mainland China; the
  parcel enters China as cross-border e-commerce direct purchase (supervision mode 9610).
Anything else (intra-EU sales, third country to third country, Hong Kong or Macao) is not
a flow the hub clears.
"""

from __future__ import annotations

from services.customs.domain import sources
from services.customs.domain.model import Consignment, Lane
from services.customs.domain.rules.findings import Findings
from services.customs.domain.tables.vat_territories import Territory, Treatment

MAINLAND_CHINA = "CN"
# ISO 3166-1 codes of the 27 member states (Greece is GR; its VAT prefix is EL).
EU_MEMBER_STATES = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)


def determine_lane(
    consignment: Consignment, findings: Findings, territory: Territory | None = None
) -> Lane:
    """`territory`: the special VAT territory of the buyer's address, if any."""
    seller, buyer = consignment.seller.country, consignment.buyer.country
    seller_in_eu, buyer_in_eu = seller in EU_MEMBER_STATES, buyer in EU_MEMBER_STATES
    if territory is not None and territory.treatment is Treatment.VAT_AS:
        buyer_in_eu = territory.vat_country in EU_MEMBER_STATES
        findings.fire(
            "LANE-TERRITORY",
            f"{territory.name} is treated as {territory.vat_country} ({territory.source})",
            territory.source,
        )
    if territory is not None and territory.treatment is Treatment.OUTSIDE_CUSTOMS_TERRITORY:
        findings.reject(
            "LANE-TERRITORY",
            f"the buyer's postal code {consignment.buyer.postal_code} is in {territory.name}, "
            f"outside the EU customs territory and VAT area ({territory.source}): not an EU "
            "import the hub clears",
            territory.source,
        )
        return Lane.UNSUPPORTED
    if not seller_in_eu and buyer_in_eu:
        findings.fire(
            "LANE-EU-IMPORT",
            f"seller in {seller} (outside the EU), buyer in {buyer}: EU import",
            sources.HUB_LANES,
        )
        return Lane.EU_IMPORT
    if seller_in_eu and buyer == MAINLAND_CHINA:
        findings.fire(
            "LANE-CN-CBEC",
            f"seller in {seller} (EU), buyer in mainland China: CBEC 9610",
            sources.HUB_LANES,
        )
        return Lane.CN_CBEC_9610
    if seller_in_eu and buyer_in_eu:
        reason = (
            f"seller in {seller} and buyer in {buyer} are both in the EU: "
            "an intra-EU sale is not an import"
        )
    else:
        reason = (
            f"seller in {seller} to buyer in {buyer} is not a lane of the hub "
            "(EU import from a non-EU seller, or EU seller to a buyer in mainland China)"
        )
    findings.reject("LANE-UNSUPPORTED", reason, sources.HUB_LANES)
    return Lane.UNSUPPORTED
