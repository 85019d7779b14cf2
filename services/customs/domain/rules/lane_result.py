"""What a lane's fiscal rules hand back to the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.customs.domain.model import AnnualUsage, Charges, CustomsRate, DeclarationType
from services.customs.domain.rules.conversion import Converter


@dataclass(frozen=True, slots=True)
class LaneResult:
    declaration_type: DeclarationType | None = None
    charges: Charges | None = None
    collected_at_checkout: bool = False
    declaration_data: dict[str, str] = field(default_factory=dict)
    converter: Converter | None = None
    annual_usage: AnnualUsage | None = None

    @property
    def charges_in_order_currency(self) -> Charges | None:
        if self.charges is None or self.converter is None:
            return None
        return self.converter.charges_in_order_currency(self.charges)

    @property
    def exchange_rates(self) -> tuple[CustomsRate, ...]:
        if self.converter is None or self.converter.rate is None:
            return ()
        return (self.converter.rate,)
