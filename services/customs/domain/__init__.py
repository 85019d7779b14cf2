"""The customs rule engine as pure domain code: stdlib and `shared.money` only, Decimal only.

Public API: `assess`, `buyer_identity_key`, the input and output dataclasses in `model`,
and the exchange-rate protocol and table in `tables.exchange_rates`.
"""

from services.customs.domain.engine import assess, buyer_identity_key
from services.customs.domain.model import (
    AnnualUsage,
    Assessment,
    Buyer,
    CbecDocuments,
    Charges,
    Consignment,
    CustomsRate,
    DeclarationType,
    IdentityDocument,
    IdentityDocumentType,
    InvalidConsignment,
    Item,
    Lane,
    Outcome,
    Quotation,
    RateAuthority,
    RuleFired,
    Seller,
    TradeDocument,
)
from services.customs.domain.tables.exchange_rates import (
    SNAPSHOT,
    ExchangeRates,
    ExchangeRateTable,
    customs_rate,
)

__all__ = [
    "SNAPSHOT",
    "AnnualUsage",
    "Assessment",
    "Buyer",
    "CbecDocuments",
    "Charges",
    "Consignment",
    "CustomsRate",
    "DeclarationType",
    "ExchangeRateTable",
    "ExchangeRates",
    "IdentityDocument",
    "IdentityDocumentType",
    "InvalidConsignment",
    "Item",
    "Lane",
    "Outcome",
    "Quotation",
    "RateAuthority",
    "RuleFired",
    "Seller",
    "TradeDocument",
    "assess",
    "buyer_identity_key",
    "customs_rate",
]
