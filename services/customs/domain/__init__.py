"""The customs rule engine as pure domain code: stdlib and `shared.money` only, Decimal only.

Public API: `assess`, `buyer_identity_key`, the input and output dataclasses in `model`,
the exchange-rate protocol and table in `tables.exchange_rates`, and the reference
tables the rules receive (`reference`).
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
from services.customs.domain.reference import ReferenceTables, TableVersion, Versioned
from services.customs.domain.tables.exchange_rates import (
    ExchangeRates,
    ExchangeRateTable,
    customs_rate,
    monthly_customs_rates,
)

__all__ = [
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
    "ReferenceTables",
    "RuleFired",
    "Seller",
    "TableVersion",
    "TradeDocument",
    "Versioned",
    "assess",
    "buyer_identity_key",
    "customs_rate",
    "monthly_customs_rates",
]
